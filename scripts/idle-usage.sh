#!/usr/bin/env bash
# Measures the console's idle CPU and memory against the local lab: starts
# `clusterdeck lab` in a detached tmux session, waits for the first 5 s of
# start-up to pass, then samples CPU time and RSS over SECONDS (default 30).
# Needs tmux, redis-server, redis-sentinel; builds the release binary.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
cargo build --release -q
bin="$PWD/target/release/clusterdeck"
session="clusterdeck-idle-$$"
state="$(mktemp -d)"
cleanup() { tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$state"; }
trap cleanup EXIT
tmux new-session -d -s "$session" -x 160 -y 48 \
  "CLUSTERDECK_STATE_DIR=$state $bin lab ${CLUSTERDECK_ARGS:-}"
pid=""
for _ in $(seq 100); do
  pid="$(pgrep -f "^$bin lab" | head -n1 || true)"
  [ -n "$pid" ] && break
  sleep 0.1
done
[ -n "$pid" ] || { echo "the console did not start"; tmux capture-pane -p -t "$session"; exit 1; }
sleep 5
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz="$(getconf CLK_TCK)"
t0="$(ticks "$pid")"; start="$(date +%s.%N)"
peak=0
for _ in $(seq "$seconds"); do
  sleep 1
  rss="$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")"
  [ "$rss" -gt "$peak" ] && peak="$rss"
done
t1="$(ticks "$pid")"; end="$(date +%s.%N)"
awk -v a="$t0" -v b="$t1" -v s="$start" -v e="$end" -v hz="$hz" -v rss="$peak" 'BEGIN {
  cpu = (b - a) / hz; wall = e - s;
  printf "idle over %.1f s: cpu %.2f s = %.2f%% of one core; peak RSS %.1f MiB\n", wall, cpu, 100 * cpu / wall, rss / 1024
}'
tmux capture-pane -p -t "$session" | head -n 12
