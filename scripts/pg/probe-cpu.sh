#!/usr/bin/env bash
# The console's CPU while it probes a 3-server PostgreSQL group (a primary
# and two streaming standbys from streaming.sh) at a 1 s interval:
# `clusterdeck watch --probe postgres=postgres://postgres@P1,P2,P3 --events
# --interval 1s` (release build) for SECONDS_RUN (default 60), measured as
# utime+stime of its /proc/PID/stat from its first event on (connecting is
# not counted), with its peak RSS (VmHWM) and the CPU the three servers'
# backends serving it used meanwhile (the postmasters' client backends of
# user postgres from 127.0.0.1: nothing else connects to these servers).
#
# Env: SECONDS_RUN, CLUSTERDECK_BIN (skip the build), CARGO_TARGET_DIR
# (default /work/target-pg). Needs root (streaming.sh runs the servers as
# `postgres` through setpriv), postgresql-15, python3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."

seconds_run=${SECONDS_RUN:-60}
if [ -z "${CLUSTERDECK_BIN:-}" ]; then
  target=${CARGO_TARGET_DIR:-/work/target-pg}
  CARGO_TARGET_DIR="$target" cargo build --release -q --bin clusterdeck
  CLUSTERDECK_BIN="$target/release/clusterdeck"
fi

dir=/tmp/cd-pg-cpu-$$
state=$(mktemp -d -t clusterdeck-pg-cpu.XXXXXX)
watch_pid=
cleanup() {
  # Only what this script started, by pid.
  [ -n "$watch_pid" ] && kill "$watch_pid" 2>/dev/null && wait "$watch_pid" 2>/dev/null
  [ -f "$dir/ports" ] && "$here/streaming.sh" stop "$dir"
  rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$here/streaming.sh" start "$dir" >/dev/null
mapfile -t P <"$dir/ports"
seeds="127.0.0.1:${P[0]},127.0.0.1:${P[1]},127.0.0.1:${P[2]}"

# Isolated like the tests: no Docker, no kubeconfig, no Redis, own state.
CLUSTERDECK_STATE_DIR="$state" DOCKER_HOST="unix://$state/no-docker.sock" \
  KUBECONFIG="$state/no-kubeconfig" PGPASSFILE=/nonexistent REDIS_URL= \
  "$CLUSTERDECK_BIN" watch --probe "postgres=postgres://postgres@$seeds" \
  --events --interval 1s >"$state/events" 2>"$state/stderr" &
watch_pid=$!

# Counted from the first event: the three members are known by then.
for _ in $(seq 300); do [ -s "$state/events" ] && break; sleep 0.1; done
[ -s "$state/events" ] || { echo "no event within 30 s:" >&2; cat "$state/stderr" >&2; exit 1; }

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# The backends serving the console: client backends of the three
# postmasters (their title is `postgres: nodeN: USER DB HOST(PORT) STATE`;
# walsenders say `walsender`).
backends() {
  local pm pid
  for pm in $(cat "$dir/pids"); do
    for pid in $(pgrep -P "$pm"); do
      tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q ': postgres postgres 127.0.0.1(' && echo "$pid"
    done
  done
}
server_ticks() { local t=0 pid; for pid in $(backends); do t=$((t + $(ticks "$pid"))); done; echo "$t"; }

hz=$(getconf CLK_TCK)
console_0=$(ticks "$watch_pid"); server_0=$(server_ticks); start=$(date +%s.%N)
sleep "$seconds_run"
console_1=$(ticks "$watch_pid"); server_1=$(server_ticks); end=$(date +%s.%N)
peak_kb=$(awk '/VmHWM/ {print $2}' "/proc/$watch_pid/status")
events=$(wc -l <"$state/events")

python3 - "$console_0" "$console_1" "$server_0" "$server_1" "$start" "$end" "$hz" "$peak_kb" "$events" <<'EOF'
import sys
c0, c1, s0, s1 = (int(x) for x in sys.argv[1:5])
start, end, hz = float(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
wall = end - start
console = (c1 - c0) / hz
servers = (s1 - s0) / hz
print(f"probing 3 PostgreSQL servers at 1 s for {wall:.1f} s:")
print(f"  console CPU   {console:.2f} s = {100 * console / wall:.2f} % of one core")
print(f"  its backends  {servers:.2f} s = {100 * servers / wall:.2f} % of one core (all three servers)")
print(f"  console peak RSS {int(sys.argv[8]) / 1024:.1f} MiB; {sys.argv[9]} events")
EOF
