# Sourced by bench/run.sh and bench/cascade.sh: the benchmarks' throwaway
# PostgreSQL 15, set up one way for both so that their numbers compare.
#
#   source "$ROOT/bench/lib/postgres.sh"
#   bench_postgres_start /tmp/mbbench.XXXXXX   # sets WORK, starts the server
#   psql_su users -c "VACUUM ANALYZE"
#   "$BIN" --database="$(url users user_service)" &
#   PIDS+=("$!")                                # killed on exit
#
# Needs from the caller: PG_BIN, KEEP (1: leave the work dir behind), and
# the functions log and die. Defines WORK, AS_PG, PIDS, cleanup (the EXIT
# trap: kills PIDS, stops the server, removes WORK), psql_su and url.

# Creates the work dir from the mktemp TEMPLATE (short: the socket lives
# there too, <= 107 bytes), runs initdb (as postgres when we are root) and
# starts the server: durability as in production (fsync, synchronous commit,
# full page writes), socket only, so nothing but this machine's processes
# can reach it.
bench_postgres_start() { # TEMPLATE
  WORK="$(mktemp -d "$1")"
  chmod 755 "$WORK"
  AS_PG=()
  if [[ "$(id -u)" -eq 0 ]]; then
    chown postgres: "$WORK"
    AS_PG=(runuser -u postgres --)
  fi
  PIDS=()
  trap cleanup EXIT
  trap 'exit 130' INT TERM

  log "initdb in $WORK"
  "${AS_PG[@]}" "$PG_BIN/initdb" -D "$WORK/data" -U postgres --auth=trust -E UTF8 \
    --locale=C.UTF-8 >"$WORK/initdb.log" 2>&1 || { cat "$WORK/initdb.log" >&2; die "initdb failed"; }
  cat >>"$WORK/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$WORK'
max_connections = 200
shared_buffers = 256MB
fsync = on
synchronous_commit = on
full_page_writes = on
max_wal_size = 2GB
log_min_messages = warning
EOF
  "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$WORK/data" -l "$WORK/postgres.log" -w start >/dev/null \
    || { cat "$WORK/postgres.log" >&2; die "PostgreSQL did not start"; }
}

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$WORK/data" -m fast stop >/dev/null 2>&1 || true
  if ((KEEP)); then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}

psql_su() { # DB [psql args...]
  local db="$1"; shift
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$WORK" -U postgres -d "$db" "$@"
}
url() { echo "postgresql:///$1?host=$WORK&user=$2"; }
