#!/usr/bin/env bash
# Figures for the planned switchover (F / :switchover), RUNS times each
# (default 5): the time from pressing `y` in the confirm dialog to the new
# leader on the console's screen (the console polls every 200 ms), for
#  (a) etcd: 3 members on loopback (--heartbeat-interval 100
#      --election-timeout 500), MoveLeader to a follower;
#  (b) Redis + Sentinel: a master, 2 replicas, 3 sentinels (down-after 1 s,
#      failover-timeout 3 s), SENTINEL FAILOVER; also the time until the
#      old master is shown as a replica (Sentinel converts it on its next
#      INFO of it).
# They come from tests/switchover.rs, which prints them as `figure: ...`
# lines: the debug build in a pseudo-terminal, the screen read every 50 ms.
# Prints each run's figures, then min/median/max per figure.
#
# Env: RUNS, CARGO_TARGET_DIR. Needs etcd, etcdctl, redis-server,
# redis-sentinel (apt-get install -y etcd-server etcd-client redis-server
# redis-sentinel), python3.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${RUNS:-5}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
cargo test --test switchover --no-run >/dev/null 2>&1
for i in $(seq 1 "$runs"); do
    cargo test --test switchover -- --nocapture --test-threads 1 \
        f_on_an_etcd_follower switchover_through_sentinel 2>&1 \
        | grep -o 'figure:.*' | tee -a "$out"
done
python3 - "$out" <<'PY'
import re, statistics, sys
figures = {}
for line in open(sys.argv[1]):
    m = re.match(r"figure: (.*?) in (\d+) ms", line.strip())
    if m:
        what = re.sub(r"\bm\d\b", "the follower", m.group(1))
        figures.setdefault(what, []).append(int(m.group(2)))
for what, ms in figures.items():
    print(f"{what}: n={len(ms)} min {min(ms)} ms, median {statistics.median(ms):.0f} ms, max {max(ms)} ms")
PY
