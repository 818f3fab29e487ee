# Sourced by bench/run.sh (--pooler): a PgBouncer (Debian's 1.18) in front
# of the benchmark's PostgreSQL (bench/lib/postgres.sh), in transaction
# pooling, as deploy/k8s/components/pgbouncer runs it: one pool per database
# and role, every server connection given the services' statement timeout
# (connect_query), Unix socket only (in $WORK/pgbouncer).
#
#   source "$ROOT/bench/lib/pgbouncer.sh"
#   bench_pgbouncer_start POOL_SIZE STATEMENT_TIMEOUT_MS  # sets PGBOUNCER_DIR
#   "$BIN" --database="$(pooled_url users user_service)" &
#
# Needs from the caller: WORK, PG_BIN, PIDS (PgBouncer is added: the EXIT
# trap of postgres.sh kills it), log and die. PgBouncer refuses to run as
# root: as root the config makes it switch to `postgres` itself.
PGBOUNCER_BIN="${PGBOUNCER_BIN:-/usr/sbin/pgbouncer}"
PGBOUNCER_PORT=6432

bench_pgbouncer_start() { # POOL_SIZE STATEMENT_TIMEOUT_MS
  [[ -x "$PGBOUNCER_BIN" ]] || die "$PGBOUNCER_BIN missing: apt-get install pgbouncer"
  PGBOUNCER_DIR="$WORK/pgbouncer"
  mkdir -p "$PGBOUNCER_DIR"
  printf '"%s" ""\n' postgres user_service post_service >"$PGBOUNCER_DIR/userlist.txt"
  {
    echo "[databases]"
    echo "* = host=$WORK connect_query='SET statement_timeout = $2'"
    echo "[pgbouncer]"
    echo "unix_socket_dir = $PGBOUNCER_DIR"
    echo "listen_port = $PGBOUNCER_PORT"
    echo "auth_type = trust"
    echo "auth_file = $PGBOUNCER_DIR/userlist.txt"
    echo "pool_mode = transaction"
    echo "default_pool_size = $1"
    echo "max_client_conn = 1000"
    echo "query_wait_timeout = 5"
    echo "server_login_retry = 1"
    echo "logfile = $PGBOUNCER_DIR/pgbouncer.log"
    echo "pidfile = $PGBOUNCER_DIR/pgbouncer.pid"
    if [[ "$(id -u)" -eq 0 ]]; then echo "user = postgres"; fi
  } >"$PGBOUNCER_DIR/pgbouncer.ini"
  if [[ "$(id -u)" -eq 0 ]]; then chown -R postgres: "$PGBOUNCER_DIR"; fi
  log "PgBouncer: pool_mode=transaction, default_pool_size=$1, socket $PGBOUNCER_DIR"
  "$PGBOUNCER_BIN" "$PGBOUNCER_DIR/pgbouncer.ini" >>"$WORK/pgbouncer.out" 2>&1 &
  PIDS+=("$!")
  local i
  for i in $(seq 100); do
    "$PG_BIN/psql" -X -q -h "$PGBOUNCER_DIR" -p "$PGBOUNCER_PORT" -U postgres -d postgres \
      -c "SELECT 1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$WORK/pgbouncer.out" "$PGBOUNCER_DIR/pgbouncer.log" >&2
  die "PgBouncer did not start"
}

pooled_url() { echo "postgresql:///$1?host=$PGBOUNCER_DIR&port=$PGBOUNCER_PORT&user=$2"; }
