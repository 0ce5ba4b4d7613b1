#!/usr/bin/env bash
# Records what the postgres probe's own queries (assets/probes/postgres.yaml)
# return from real servers, as the probe receives them (each query run as
# `select coalesce(json_agg(t), '[]'::json)::text from (SQL) t`), into
# tests/fixtures/probes/postgres/probe/:
#   streaming/   primary + 2 standbys streaming, node3's replay paused
#                behind 1000 rows it has already received;
#   split-brain/ right after `pg_ctl promote` of node2 with node1 still up.
# Files are NODE-REQUEST.json (node1-server.json, node2-receiver.json, ...).
# Needs root (see scripts/pg/NOTES.md) and /usr/bin/python3 with PyYAML.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
out=${1:-$repo/tests/fixtures/probes/postgres/probe}
dir=/tmp/cd-pg-rec-$$

"$here/streaming.sh" start "$dir"
trap '"$here/streaming.sh" stop "$dir"' EXIT
mapfile -t P <"$dir/ports"

q() { "$PG_BIN/psql" -h "$dir" -p "$1" -U postgres -XAtc "$2"; }

# One file per node and request, with the request's SQL from the definition.
record() {
  local sub=$1 node port name sql
  mkdir -p "$out/$sub"
  for node in 1 2 3; do
    port=${P[$((node-1))]}
    /usr/bin/python3 - "$repo/assets/probes/postgres.yaml" >"$dir/requests" <<'PY'
import sys, yaml
for name, request in yaml.safe_load(open(sys.argv[1]))["requests"].items():
    print(name + "\t" + " ".join(request["sql"].split()))
PY
    while IFS=$'\t' read -r name sql; do
      q "$port" "select coalesce(json_agg(t), '[]'::json)::text from ($sql) t" \
        | python3 -m json.tool --indent 1 >"$out/$sub/node$node-$name.json"
    done <"$dir/requests"
  done
}

q "${P[0]}" "create table t (n int)" >/dev/null
# node3 receives but does not replay: a standby behind by a known amount.
q "${P[2]}" "select pg_wal_replay_pause()" >/dev/null
q "${P[0]}" "insert into t select generate_series(1, 1000)" >/dev/null
want=$(q "${P[0]}" "select pg_current_wal_lsn()")
for _ in $(seq 100); do
  got=$(q "${P[2]}" "select pg_last_wal_receive_lsn() >= '$want'")
  [ "$got" = t ] && break
  sleep 0.1
done
record streaming

"$PG_BIN/pg_ctl" --version >/dev/null
setpriv --reuid=postgres --regid=postgres --init-groups --reset-env -- \
  "$PG_BIN/pg_ctl" -D "$dir/2" promote >/dev/null
record split-brain
echo "recorded into $out"
