#!/usr/bin/env bash
# Figures for the etcd probe against real etcd (Debian's etcd 3.4):
#
#  (a) failover, RUNS times (default 5) on a fresh 3-member cluster: the time
#      from SIGKILL of the etcd leader to the new leader on the console's
#      screen (the `at` of `watch --events`' leader_changed minus the kill
#      time), and separately the election itself (the survivors' `etcdctl
#      endpoint status` polled every 20 ms until one says it leads);
#      median/min/max of both.
#  (b) the console's CPU and memory while it probes 30 etcd members at 1 s:
#      10 clusters of 3, `watch --probe etcd=... (x10) --events --interval 1s`
#      for LOAD_SECONDS (default 30): CPU seconds (utime+stime from
#      /proc/PID/stat) and peak RSS (VmHWM).
#
# Members run with --heartbeat-interval 100 --election-timeout 500 on free
# loopback ports, data in a temp dir. Everything started is stopped at the
# end (trap), also on failure or Ctrl-C.
#
# Env: RUNS, LOAD_SECONDS, WATCH_INTERVAL (the watch's poll interval in (a),
# default 200ms), CLUSTERDECK_BIN (skip the build), CARGO_TARGET_DIR
# (default /work/target-helpers).
# Needs etcd, etcdctl (apt-get install -y etcd-server etcd-client), jq, python3.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${RUNS:-5}"
load_seconds="${LOAD_SECONDS:-30}"
watch_interval="${WATCH_INTERVAL:-200ms}"
export ETCDCTL_API=3
for tool in etcd etcdctl jq python3; do
  command -v "$tool" >/dev/null || {
    echo "$tool is missing (etcd: apt-get install -y etcd-server etcd-client)" >&2
    exit 1
  }
done
if [ -z "${CLUSTERDECK_BIN:-}" ]; then
  target="${CARGO_TARGET_DIR:-/work/target-helpers}"
  CARGO_TARGET_DIR="$target" cargo build --release -q --bin clusterdeck
  CLUSTERDECK_BIN="$target/release/clusterdeck"
fi
bin="$CLUSTERDECK_BIN"

work="$(mktemp -d -t clusterdeck-etcd-figures.XXXXXX)"
pids_file="$work/pids"
: >"$pids_file"
cleanup() {
  # Only what this script started, by pid.
  while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done <"$pids_file"
  while read -r pid; do wait "$pid" 2>/dev/null || true; done <"$pids_file"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ns() { date +%s%N; }

# N free loopback ports, held together so they differ.
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# start_cluster DIR N: N members; DIR/client holds one client port per line,
# DIR/pid the pid per line (member i on line i+1).
start_cluster() {
  local dir="$1" n="$2" i initial="" ports
  mkdir -p "$dir"
  read -r -a ports <<<"$(free_ports $((2 * n)))"
  for ((i = 0; i < n; i++)); do
    initial+="${initial:+,}m$i=http://127.0.0.1:${ports[2 * i + 1]}"
  done
  : >"$dir/client"; : >"$dir/pid"
  for ((i = 0; i < n; i++)); do
    local client="http://127.0.0.1:${ports[2 * i]}" peer="http://127.0.0.1:${ports[2 * i + 1]}"
    etcd --name "m$i" --data-dir "$dir/m$i" \
      --listen-client-urls "$client" --advertise-client-urls "$client" \
      --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
      --initial-cluster "$initial" --initial-cluster-state new \
      --initial-cluster-token "figures-$(basename "$dir")-$$" \
      --heartbeat-interval 100 --election-timeout 500 >"$dir/m$i.log" 2>&1 &
    echo $! >>"$pids_file"
    echo $! >>"$dir/pid"
    echo "${ports[2 * i]}" >>"$dir/client"
  done
}

# leader_port ENDPOINTS: the client port of the member that says it leads.
leader_port() {
  etcdctl --endpoints="$1" --dial-timeout 200ms --command-timeout 300ms \
    endpoint status -w json 2>/dev/null |
    jq -r '.[] | select(.Status.leader == .Status.header.member_id and .Status.leader != 0)
           | .Endpoint | sub(".*:"; "")' 2>/dev/null | head -n1 || true
}

endpoints_of() { sed 's/^/127.0.0.1:/' "$1/client" | paste -sd, -; }

# wait_leader ENDPOINTS SECONDS: prints the leader's port.
wait_leader() {
  local deadline=$(($(now_ns) + $2 * 1000000000)) port
  while :; do
    port="$(leader_port "$1")"
    [ -n "$port" ] && { echo "$port"; return; }
    [ "$(now_ns)" -lt "$deadline" ] || { echo "no etcd leader within $2 s" >&2; return 1; }
    sleep 0.05
  done
}

# wait_line FILE JQ-FILTER SECONDS: the first line of FILE the filter selects.
wait_line() {
  local deadline=$(($(now_ns) + $3 * 1000000000)) line
  while :; do
    line="$(jq -c "select($2)" "$1" 2>/dev/null | head -n1 || true)"
    [ -n "$line" ] && { echo "$line"; return; }
    [ "$(now_ns)" -lt "$deadline" ] || { echo "no $2 within $3 s in $1" >&2; return 1; }
    sleep 0.05
  done
}

rfc3339_ns() { date -d "$1" +%s%N; }

# One failover: prints "screen_ms election_ms".
failover_run() {
  local dir="$work/failover-$1" endpoints leader port survivors kill_ns elected_ns line at_ns
  start_cluster "$dir" 3
  endpoints="$(endpoints_of "$dir")"
  leader="$(wait_leader "$endpoints" 30)"
  # The probe starts from a follower; it finds the others from it.
  port="$(grep -vx "$leader" "$dir/client" | head -n1)"
  "$bin" watch --probe "etcd=http://127.0.0.1:$port" --events --interval "$watch_interval" \
    >"$dir/events.jsonl" 2>"$dir/watch.err" &
  echo $! >>"$pids_file"
  local watch_pid=$!
  local deadline=$(($(now_ns) + 30000000000))
  until [ "$(grep -c '"member_added"' "$dir/events.jsonl")" -ge 3 ]; do
    [ "$(now_ns)" -lt "$deadline" ] || { echo "watch never showed 3 members" >&2; return 1; }
    sleep 0.05
  done
  local leader_pid
  leader_pid="$(sed -n "$(grep -nx "$leader" "$dir/client" | cut -d: -f1)p" "$dir/pid")"
  survivors="$(grep -vx "$leader" "$dir/client" | sed 's/^/127.0.0.1:/' | paste -sd, -)"
  kill_ns="$(now_ns)"
  kill -9 "$leader_pid"
  # The election ended after the start of the last poll that found no
  # leader and before the end of the first that found one: both are kept.
  local polled_ns="$kill_ns" asked_ns polls=0
  while :; do
    asked_ns="$(now_ns)"
    polls=$((polls + 1))
    [ -n "$(leader_port "$survivors")" ] && break
    polled_ns="$asked_ns"
    [ $((asked_ns - kill_ns)) -lt 30000000000 ] || { echo "no new leader" >&2; return 1; }
    sleep 0.02
  done
  elected_ns="$(now_ns)"
  line="$(wait_line "$dir/events.jsonl" '.kind == "leader_changed"' 30)"
  at_ns="$(rfc3339_ns "$(jq -r .at <<<"$line")")"
  kill "$watch_pid" 2>/dev/null || true
  while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done <"$dir/pid"
  echo "$(((at_ns - kill_ns) / 1000000)) $(((elected_ns - kill_ns) / 1000000)) $(((polled_ns - kill_ns) / 1000000)) $(((elected_ns - kill_ns) / polls / 1000000))"
}

# stats: "median min max" of the numbers on stdin.
stats() { sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; print m, a[1], a[NR]}'; }

echo "== (a) failover: SIGKILL of the leader, $runs runs, watch --interval $watch_interval"
: >"$work/failover"
for ((r = 1; r <= runs; r++)); do
  read -r screen elected after poll <<<"$(failover_run "$r")"
  echo "run $r: on screen $screen ms; a survivor leads by $elected ms, not yet at $after ms (a poll: ~$poll ms)"
  echo "$screen $elected $after" >>"$work/failover"
done
read -r med min max <<<"$(cut -d' ' -f1 "$work/failover" | stats)"
echo "kill -> leader_changed on screen: median $med ms, min $min ms, max $max ms"
read -r med min max <<<"$(cut -d' ' -f2 "$work/failover" | stats)"
echo "kill -> a survivor says it leads:  median $med ms, min $min ms, max $max ms (end of the poll that saw it)"
read -r med min max <<<"$(cut -d' ' -f3 "$work/failover" | stats)"
echo "kill -> last poll with no leader:   median $med ms, min $min ms, max $max ms (its start)"

echo "== (b) the console probing 10 clusters x 3 members at 1 s for $load_seconds s"
probes=()
for c in $(seq 0 9); do
  start_cluster "$work/load-$c" 3
done
for c in $(seq 0 9); do
  wait_leader "$(endpoints_of "$work/load-$c")" 60 >/dev/null
  probes+=(--probe "etcd=http://127.0.0.1:$(head -n1 "$work/load-$c/client")")
done
"$bin" watch "${probes[@]}" --events --interval 1s >"$work/load-events.jsonl" 2>"$work/load.err" &
load_pid=$!
echo "$load_pid" >>"$pids_file"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz="$(getconf CLK_TCK)"
sleep "$load_seconds"
t1="$(ticks "$load_pid")"
hwm="$(awk '/VmHWM/ {print $2}' "/proc/$load_pid/status")"
rss="$(awk '/VmRSS/ {print $2}' "/proc/$load_pid/status")"
members="$(grep -c '"member_added"' "$work/load-events.jsonl" || true)"
kill "$load_pid"
awk -v t="$t1" -v hz="$hz" -v s="$load_seconds" -v hwm="$hwm" -v rss="$rss" -v m="$members" 'BEGIN {
  printf "members seen: %d of 30\n", m
  printf "CPU: %.2f s over %d s (%.1f%% of one core), from start\n", t / hz, s, 100 * t / hz / s
  printf "memory: peak RSS (VmHWM) %.1f MiB, RSS at the end %.1f MiB\n", hwm / 1024, rss / 1024
}'
