#!/usr/bin/env bash
# Run a throw-away PostgreSQL 15 primary + two streaming standbys on 127.0.0.1
# from Debian's `postgresql-15`, as plain background processes (never the
# system clusters under /etc/postgresql, never systemd).
#
#   streaming.sh start DIR   # DIR/ports: port per line (primary, standby1, standby2)
#                            # DIR/pids:  postmaster pid per line, same order
#                            # sockets in DIR (psql -h DIR -p PORT -U postgres)
#   streaming.sh stop DIR    # stops the postmasters and removes DIR
#
# Env: PG_BIN (default /usr/lib/postgresql/15/bin), PG_DEADLINE (s, default 60).
# DIR must be short (unix socket paths are limited to 107 bytes) and every parent
# of DIR must be searchable by the `postgres` user (a 0700 root mktemp dir is not).
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
DEADLINE=${PG_DEADLINE:-60}

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1 dir=$2

# PostgreSQL refuses to run as root. setpriv (not runuser/su) because it execs
# in place: no PAM session, no extra parent process left behind.
AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups --reset-env --)

# One postmaster's pid, from its own pid file (pg_ctl detaches it from us).
pm_pid() { head -1 "$1/postmaster.pid"; }

# A zombie still passes `kill -0`, and this machine's init reaps orphans late.
alive() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; s=${s##*) }; [ "${s%% *}" != Z ]; }

stop_all() {
  # A postmaster.pid may be stale (a test killed that server) and its pid reused,
  # so only a process whose cwd is that data dir counts (postmasters chdir there).
  local pms=() pid f end
  for f in "$dir"/[123]/postmaster.pid; do
    [ -f "$f" ] || continue
    pid=$(head -1 "$f")
    [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "${f%/postmaster.pid}" ] && pms+=("$pid")
  done
  # SIGQUIT = immediate shutdown: quick, and the postmaster still removes its
  # shared memory and sockets (SIGKILL would leak /dev/shm/PostgreSQL.* files).
  for pid in "${pms[@]}"; do kill -QUIT "$pid" 2>/dev/null || true; done
  end=$(( $(date +%s) + 10 ))
  for pid in "${pms[@]}"; do
    while alive "$pid" && [ "$(date +%s)" -lt "$end" ]; do sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
}

case $cmd in
start)
  for b in initdb pg_ctl pg_basebackup psql postgres; do
    [ -x "$PG_BIN/$b" ] || { echo "streaming: $PG_BIN/$b missing; run: apt-get install -y postgresql-15" >&2; exit 1; }
  done
  command -v setpriv >/dev/null || { echo "streaming: no setpriv; run: apt-get install -y util-linux" >&2; exit 1; }
  id postgres >/dev/null 2>&1 || { echo "streaming: no 'postgres' user; run: apt-get install -y postgresql-common" >&2; exit 1; }
  mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
  chown postgres:postgres "$dir"
  "${AS_PG[@]}" test -w "$dir" || { echo "streaming: user postgres cannot write $dir (a parent dir not searchable?)" >&2; exit 1; }
  # Three free ports from the kernel, bound together so they are distinct.
  read -r -a P < <(python3 -c '
import socket
ss=[socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1",0))
print(*[s.getsockname()[1] for s in ss])')
  printf '%s\n' "${P[@]}" >"$dir/ports"; : >"$dir/pids"
  # Deadline everywhere: a stuck start must not leave servers behind.
  fail() { echo "streaming: $*; logs in $dir/*/log" >&2; stop_all; exit 1; }

  # initdb's default pg_hba already allows replication from 127.0.0.1; -A trust
  # makes that password-less. C locale: no dependence on generated locales.
  "${AS_PG[@]}" "$PG_BIN/initdb" -D "$dir/1" -A trust -U postgres -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 \
    || fail "initdb failed (see $dir/initdb.log)"
  # fsync off and small buffers: throw-away data, 2-core test machine.
  cat >>"$dir/1/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = ${P[0]}
unix_socket_directories = '$dir'
cluster_name = 'node1'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 16MB
max_connections = 30
wal_keep_size = 64MB
CONF
  "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$dir/1" -l "$dir/1.log" -w -t "$DEADLINE" start >/dev/null \
    || fail "primary did not start"
  pm_pid "$dir/1" >>"$dir/pids"

  for i in 2 3; do
    # -R writes standby.signal + primary_conninfo; -c fast skips the checkpoint wait.
    "${AS_PG[@]}" "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "${P[0]}" -U postgres -D "$dir/$i" -R -X stream -c fast \
      >"$dir/basebackup$i.log" 2>&1 || fail "pg_basebackup for standby $i failed"
    # Later lines win; cluster_name doubles as the walreceiver's application_name,
    # so pg_stat_replication names the standby.
    printf "port = %s\ncluster_name = 'node%s'\n" "${P[$((i-1))]}" "$i" >>"$dir/$i/postgresql.conf"
    "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$dir/$i" -l "$dir/$i.log" -w -t "$DEADLINE" start >/dev/null \
      || fail "standby $i did not start"
    pm_pid "$dir/$i" >>"$dir/pids"
  done

  end=$(( $(date +%s) + DEADLINE ))
  while :; do
    n=$("$PG_BIN/psql" -h "$dir" -p "${P[0]}" -U postgres -XAtc \
        "select count(*) from pg_stat_replication where state = 'streaming'" 2>/dev/null) || n=0
    [ "$n" = 2 ] && { echo "streaming: primary ${P[0]}, standbys ${P[1]} ${P[2]} streaming"; exit 0; }
    [ "$(date +%s)" -lt "$end" ] || fail "standbys not streaming within ${DEADLINE}s (streaming: $n)"
    sleep 0.2
  done
  ;;
stop)
  # Refuse to rm -rf a directory this script did not make.
  [ -f "$dir/ports" ] || { echo "streaming: $dir/ports missing; not removing $dir" >&2; exit 1; }
  stop_all
  rm -rf "$dir"
  ;;
*) usage ;;
esac
