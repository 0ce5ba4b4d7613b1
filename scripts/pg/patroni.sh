#!/usr/bin/env bash
# Run a throw-away 3-member Patroni cluster (scope `cdtest`, PostgreSQL 15) on
# 127.0.0.1 with one etcd 3.4 member as DCS, all as plain background processes
# (never the system services or clusters under /etc/postgresql).
#
#   patroni.sh start DIR  # waits until GET /cluster shows 1 leader + 2 streaming replicas
#                         # DIR/ports: "etcd CLIENT", then "nodeN REST PG" per member
#                         # DIR/pids:  etcd pid, then patroni pid per member
#                         # DIR/nodeN/data/postmaster.pid: the member's postmaster
#   patroni.sh stop DIR   # kills patroni, postgres and etcd, removes DIR
#
# Env: PG_BIN (default /usr/lib/postgresql/15/bin), PATRONI_DEADLINE (s, default 90).
# DIR must be short (unix sockets live in DIR; paths max 107 bytes) and every
# parent of DIR must be searchable by the `postgres` user.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
DEADLINE=${PATRONI_DEADLINE:-90}
SCOPE=cdtest

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1 dir=$2

# PostgreSQL refuses root, so patroni (which runs postgres) runs as `postgres`.
# setpriv execs in place (runuser forks and stays as parent). An array, not a
# function: `func &` forks a bash subshell, and $! would be that shell, not patroni.
AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups --reset-env --)

# A zombie still passes `kill -0`, and this machine's init reaps orphans late.
alive() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; s=${s##*) }; [ "${s%% *}" != Z ]; }

stop_all() {
  [ -f "$dir/pids" ] || return 0
  # Patroni first: alive, it would restart a postgres we stop. SIGKILL, because
  # on SIGTERM a leader does a full shutdown and hands over, which takes seconds.
  tail -n +2 "$dir/pids" | while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done
  # Postmasters outlive a killed patroni (Patroni starts them in their own
  # session). A postmaster.pid may be stale after a kill -9 and its pid reused,
  # so only a process whose cwd is that data dir counts (postmasters chdir there).
  local pms=() pid f end
  for f in "$dir"/node*/data/postmaster.pid; do
    [ -f "$f" ] || continue
    pid=$(head -1 "$f")
    [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "${f%/postmaster.pid}" ] && pms+=("$pid")
  done
  # SIGQUIT = immediate shutdown that still removes shared memory; SIGKILL after 10 s.
  for pid in "${pms[@]}"; do kill -QUIT "$pid" 2>/dev/null || true; done
  end=$(( $(date +%s) + 10 ))
  for pid in "${pms[@]}"; do
    while alive "$pid" && [ "$(date +%s)" -lt "$end" ]; do sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  # etcd last, so no patroni sees its DCS vanish first.
  kill -9 "$(head -1 "$dir/pids")" 2>/dev/null || true
}

# True when /cluster on REST port $1 shows one leader and two replicas whose
# WAL receiver runs (Patroni 3.0 reports state "running" for both; lag is a
# number only once the replica has received WAL).
cluster_ready() {
  curl -fsS --max-time 2 "http://127.0.0.1:$1/cluster" 2>/dev/null | python3 -c '
import json, sys
m = json.load(sys.stdin).get("members", [])
leaders = [x for x in m if x.get("role") == "leader" and x.get("state") == "running"]
reps = [x for x in m if x.get("role") == "replica" and x.get("state") in ("running", "streaming")
        and isinstance(x.get("lag"), int)]
sys.exit(0 if len(leaders) == 1 and len(reps) == 2 else 1)' 2>/dev/null
}

case $cmd in
start)
  [ -x "$PG_BIN/postgres" ] || { echo "patroni.sh: $PG_BIN/postgres missing; run: apt-get install -y postgresql-15" >&2; exit 1; }
  command -v patroni >/dev/null || { echo "patroni.sh: no patroni; run: apt-get install -y patroni" >&2; exit 1; }
  command -v etcd >/dev/null || { echo "patroni.sh: no etcd; run: apt-get install -y etcd-server" >&2; exit 1; }
  command -v curl >/dev/null || { echo "patroni.sh: no curl; run: apt-get install -y curl" >&2; exit 1; }
  command -v setpriv >/dev/null || { echo "patroni.sh: no setpriv; run: apt-get install -y util-linux" >&2; exit 1; }
  mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
  chown postgres:postgres "$dir"; chmod 700 "$dir"
  "${AS_PG[@]}" test -w "$dir" || { echo "patroni.sh: user postgres cannot write $dir (a parent dir not searchable?)" >&2; exit 1; }
  # Eight free ports from the kernel (etcd client+peer, REST x3, PG x3),
  # bound together so they are distinct; a small reuse race remains, accepted.
  read -r -a P < <(python3 -c '
import socket
ss=[socket.socket() for _ in range(8)]
for s in ss: s.bind(("127.0.0.1",0))
print(*[s.getsockname()[1] for s in ss])')
  EC=${P[0]} EP=${P[1]}
  echo "etcd $EC" >"$dir/ports"; : >"$dir/pids"
  fail() { echo "patroni.sh: $*; logs in $dir/*.log" >&2; stop_all; exit 1; }

  # etcd needs no privileges; it runs as the caller (root). Single member: the
  # DCS's own failover is not what is under test.
  etcd --name e1 --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$EC" --advertise-client-urls "http://127.0.0.1:$EC" \
    --listen-peer-urls "http://127.0.0.1:$EP" --initial-advertise-peer-urls "http://127.0.0.1:$EP" \
    --initial-cluster "e1=http://127.0.0.1:$EP" >"$dir/etcd.log" 2>&1 </dev/null &
  echo $! >>"$dir/pids"

  end=$(( $(date +%s) + DEADLINE ))
  until curl -fsS --max-time 2 "http://127.0.0.1:$EC/health" 2>/dev/null | grep -q '"true"'; do
    [ "$(date +%s)" -lt "$end" ] || fail "etcd not healthy within ${DEADLINE}s"
    sleep 0.2
  done

  for i in 1 2 3; do
    R=${P[$((2*i))]} Q=${P[$((2*i+1))]}
    echo "node$i $R $Q" >>"$dir/ports"
    mkdir -p "$dir/node$i"; chown postgres:postgres "$dir/node$i"
    # Fast loop: loop_wait 1 s, ttl 10 s; retry_timeout 4 keeps Patroni's rule
    # loop_wait + 2*retry_timeout <= ttl. etcd3: Patroni speaks etcd's v3 JSON
    # gateway itself (no python grpc, no --enable-v2 needed).
    cat >"$dir/node$i/patroni.yml" <<YML
scope: $SCOPE
name: node$i
log:
  level: INFO
restapi:
  listen: 127.0.0.1:$R
  connect_address: 127.0.0.1:$R
etcd3:
  hosts: 127.0.0.1:$EC
  protocol: http
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 1
    retry_timeout: 4
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        fsync: 'off'
        synchronous_commit: 'off'
        full_page_writes: 'off'
        shared_buffers: 16MB
        max_connections: 30
        wal_keep_size: 64MB
  initdb:
  - encoding: UTF8
  - locale: C
postgresql:
  listen: 127.0.0.1:$Q
  connect_address: 127.0.0.1:$Q
  data_dir: $dir/node$i/data
  bin_dir: $PG_BIN
  pgpass: $dir/node$i/pgpass
  # Trust on loopback only: throw-away cluster, no passwords to manage.
  pg_hba:
  - local all all trust
  - host replication all 127.0.0.1/32 trust
  - host all all 127.0.0.1/32 trust
  authentication:
    superuser: {username: postgres}
    replication: {username: postgres}
  parameters:
    unix_socket_directories: '$dir'
YML
    chown postgres:postgres "$dir/node$i/patroni.yml"
    "${AS_PG[@]}" patroni "$dir/node$i/patroni.yml" >"$dir/node$i.log" 2>&1 </dev/null &
    echo $! >>"$dir/pids"
  done

  while :; do
    for i in 1 2 3; do
      R=${P[$((2*i))]}
      cluster_ready "$R" && { echo "patroni.sh: cluster $SCOPE ready (REST ${P[2]} ${P[4]} ${P[6]}, etcd $EC)"; exit 0; }
    done
    [ "$(date +%s)" -lt "$end" ] || fail "no leader + 2 streaming replicas within ${DEADLINE}s"
    sleep 0.5
  done
  ;;
stop)
  # Refuse to rm -rf a directory this script did not make.
  [ -f "$dir/ports" ] || { echo "patroni.sh: $dir/ports missing; not removing $dir" >&2; exit 1; }
  stop_all
  rm -rf "$dir"
  ;;
*) usage ;;
esac
