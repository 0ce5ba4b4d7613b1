#!/usr/bin/env bash
# Run a throw-away three-server ZooKeeper ensemble on 127.0.0.1 from Debian's
# `zookeeper` package, as plain background JVMs (never the system service).
#
#   zk-ensemble.sh start DIR   # DIR/ports = client port per line (server 1..3),
#                              # DIR/pids  = java pid per line; waits for a leader
#   zk-ensemble.sh stop DIR    # SIGKILLs the pids and removes DIR
#
# Env: ZK_DEADLINE (seconds to wait for a leader, default 60).
set -euo pipefail

JAR=/usr/share/java/zookeeper.jar
# The jar's manifest Class-Path already names its deps under /usr/share/java;
# slf4j-simple is added only so the logs go somewhere (stderr -> DIR/N/log).
CP="$JAR:/usr/share/java/slf4j-simple.jar"

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1 dir=$2

# Send a four-letter word (python, not nc: nc is often absent; 2 s timeout
# so a half-started server cannot hang the wait loop).
fourlw() {
  python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.sendall(sys.argv[2].encode()); out = b""
while (b := s.recv(65536)): out += b
sys.stdout.write(out.decode())
PY
}

case $cmd in
start)
  if [ ! -r "$JAR" ]; then
    echo "zk-ensemble: $JAR missing; run: apt-get install zookeeper" >&2; exit 1
  fi
  command -v java >/dev/null || { echo "zk-ensemble: no java; run: apt-get install zookeeper" >&2; exit 1; }
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  # Nine free ports (client, quorum, election x3) from the kernel; bound and
  # released together, so they are distinct. A small race remains, accepted.
  read -r -a P < <(python3 -c '
import socket
ss=[socket.socket() for _ in range(9)]
for s in ss: s.bind(("127.0.0.1",0))
print(*[s.getsockname()[1] for s in ss])')
  : >"$dir/ports"; : >"$dir/pids"
  members=""
  for i in 1 2 3; do
    c=${P[$((i*3-3))]} q=${P[$((i*3-2))]} e=${P[$((i*3-1))]}
    # Client address in the server line so `conf` lists every member's client port.
    members+="server.$i=127.0.0.1:$q:$e;127.0.0.1:$c"$'\n'
    echo "$c" >>"$dir/ports"
  done
  for i in 1 2 3; do
    d="$dir/$i"; mkdir -p "$d/data"
    echo "$i" >"$d/data/myid"
    # Small tickTime: election/sync timeouts scale with it, so elections are fast.
    # standaloneEnabled=false keeps real quorum semantics; no admin HTTP server.
    cat >"$d/zoo.cfg" <<EOF
tickTime=500
initLimit=10
syncLimit=5
dataDir=$d/data
standaloneEnabled=false
admin.enableServer=false
4lw.commands.whitelist=*
$members
EOF
    # Small heap and serial GC: three JVMs on a 2-core test box.
    java -Xmx128m -XX:+UseSerialGC -Dzookeeper.jmx.log4j.disable=true \
      -cp "$CP" org.apache.zookeeper.server.quorum.QuorumPeerMain "$d/zoo.cfg" \
      >"$d/log" 2>&1 </dev/null &
    echo $! >>"$dir/pids"
  done
  deadline=$(( $(date +%s) + ${ZK_DEADLINE:-60} ))
  while :; do
    for p in $(cat "$dir/ports"); do
      out=$(fourlw "$p" srvr 2>/dev/null) || true
      if [[ $out == *"Mode: leader"* ]]; then
        echo "zk-ensemble: leader on port $p"; exit 0
      fi
    done
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "zk-ensemble: no leader within ${ZK_DEADLINE:-60}s; logs in $dir/*/log" >&2
      # Don't leave JVMs behind for a caller that gives up; keep DIR for the logs.
      while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done <"$dir/pids"
      exit 1
    fi
    sleep 0.2
  done
  ;;
stop)
  # Refuse to rm -rf a directory this script did not make.
  [ -f "$dir/pids" ] || { echo "zk-ensemble: $dir/pids missing; not removing $dir" >&2; exit 1; }
  while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done <"$dir/pids"
  rm -rf "$dir"
  ;;
*) usage ;;
esac
