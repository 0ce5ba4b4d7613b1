#!/usr/bin/env bash
# The console's CPU while it probes a 3-member Patroni cluster (patroni.sh)
# at a 1 s interval: `clusterdeck watch --probe patroni=URL --registry
# etcd=URL --registry-key /service/cdtest/leader --events --interval 1s`
# (release build) for SECONDS_RUN (default 60), measured as utime+stime of
# its /proc/PID/stat from its first event on, with its peak RSS (VmHWM).
#
# Env: SECONDS_RUN, CLUSTERDECK_BIN (skip the build). Needs root
# (patroni.sh runs Patroni as `postgres` through setpriv), patroni,
# postgresql-15, etcd-server, curl, python3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."

seconds_run=${SECONDS_RUN:-60}
if [ -z "${CLUSTERDECK_BIN:-}" ]; then
  cargo build --release -q --bin clusterdeck
  CLUSTERDECK_BIN="${CARGO_TARGET_DIR:-target}/release/clusterdeck"
fi

dir=/tmp/cd-pt-cpu-$$
state=$(mktemp -d -t clusterdeck-pt-cpu.XXXXXX)
watch_pid=
cleanup() {
  [ -n "$watch_pid" ] && kill "$watch_pid" 2>/dev/null && wait "$watch_pid" 2>/dev/null
  [ -f "$dir/ports" ] && "$here/patroni.sh" stop "$dir"
  rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$here/patroni.sh" start "$dir" >/dev/null
etcd_port=$(awk '$1 == "etcd" {print $2}' "$dir/ports")
rest_port=$(awk '$1 == "node1" {print $2}' "$dir/ports")

CLUSTERDECK_STATE_DIR="$state" DOCKER_HOST="unix://$state/no-docker.sock" \
  KUBECONFIG="$state/no-kubeconfig" REDIS_URL= \
  "$CLUSTERDECK_BIN" watch --probe "patroni=http://127.0.0.1:$rest_port" \
  --registry "etcd=http://127.0.0.1:$etcd_port" --registry-key /service/cdtest/leader \
  --events --interval 1s >"$state/events" 2>"$state/stderr" &
watch_pid=$!

for _ in $(seq 300); do [ -s "$state/events" ] && break; sleep 0.1; done
[ -s "$state/events" ] || { echo "no event within 30 s:" >&2; cat "$state/stderr" >&2; exit 1; }

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
c0=$(ticks "$watch_pid"); t0=$(date +%s.%N)
sleep "$seconds_run"
c1=$(ticks "$watch_pid"); t1=$(date +%s.%N)
peak_kb=$(awk '/VmHWM/ {print $2}' "/proc/$watch_pid/status")
python3 - "$c0" "$c1" "$t0" "$t1" "$hz" "$peak_kb" <<'PY'
import sys
c0, c1 = int(sys.argv[1]), int(sys.argv[2])
t0, t1, hz, peak = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
cpu = (c1 - c0) / hz
print(f"probing 3 Patroni members and the leader key at 1 s for {t1 - t0:.1f} s: "
      f"{cpu:.2f} s CPU = {100 * cpu / (t1 - t0):.2f}% of a core, peak RSS {peak / 1024:.1f} MiB")
PY
