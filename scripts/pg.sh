#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for local development, kept under .local/pg/ of
# the checkout (git-ignored).
#
# Usage: scripts/pg.sh start|stop|status|clean|env|psql [DB]
#   start   initdb on first use, start the server (no-op if already running),
#           make sure databases `users` and `posts` and the login roles
#           `user_service` and `post_service` exist.
#   stop    stop the server (keeps the data).
#   status  exit 0 if running, 3 if not (like pg_ctl status).
#   clean   stop the server and delete all its data.
#   env     print `export` lines with the connection URLs:
#             USER_DATABASE_URL, POST_DATABASE_URL                  superuser
#               (for `migrate`, which owns the schema);
#             USER_SERVICE_DATABASE_URL, POST_SERVICE_DATABASE_URL  the services'
#               own roles, which only get what the migrations grant them.
#           Use as: eval "$(scripts/pg.sh env)"
#   psql    open psql as the superuser (on database DB, default postgres).
#
# The server listens on 127.0.0.1:$MICROBLOG_PG_PORT (default 54329) and on a
# unix socket in .local/pg/sock, or in /tmp/microblog-pg-<uid>-<port> when the
# checkout path makes that too long for a socket address (~107 bytes).
#
# Authentication: TCP on loopback uses scram-sha-256 passwords; the unix
# socket (directory mode 0700, so only the server's OS user and root can
# reach it) uses trust, for this script's own administration.
# Development passwords, fixed unless set in the environment:
#   superuser postgres   MICROBLOG_PG_PASSWORD        (default microblog-dev)
#   user_service         USER_SERVICE_DB_PASSWORD     (default user-service-dev)
#   post_service         POST_SERVICE_DB_PASSWORD     (default post-service-dev)
# They are for a local throwaway cluster only; `start` re-applies them.
#
# As root, PostgreSQL's tools run as the `postgres` OS user (initdb refuses
# root), which gets ownership of the data directory. If that user cannot reach
# the checkout (a parent directory is not searchable by others), the cluster
# lives in /tmp/microblog-pg-<uid>-<hash of the checkout path> instead.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${MICROBLOG_PG_PORT:-54329}"
PG_BINDIR="${PG_BINDIR:-/usr/lib/postgresql/15/bin}"
SUPERUSER=postgres
SUPERUSER_PASSWORD="${MICROBLOG_PG_PASSWORD:-microblog-dev}"
USER_SERVICE_PASSWORD="${USER_SERVICE_DB_PASSWORD:-user-service-dev}"
POST_SERVICE_PASSWORD="${POST_SERVICE_DB_PASSWORD:-post-service-dev}"

log() { printf '[pg] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ -x "$PG_BINDIR/pg_ctl" ]] || die "$PG_BINDIR/pg_ctl not found: run scripts/install-deps.sh (postgresql-15)"

IS_ROOT=0
[[ "$(id -u)" -eq 0 ]] && IS_ROOT=1

# Runs a PostgreSQL program as the cluster's OS user.
as_pg() {
  if ((IS_ROOT)); then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Where the cluster lives (see the header comment).
resolve_base() {
  mkdir -p "$ROOT/.local"
  BASE="$ROOT/.local/pg"
  if ((IS_ROOT)) && ! runuser -u postgres -- test -x "$ROOT/.local"; then
    BASE="/tmp/microblog-pg-$(id -u)-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
  fi
  DATA="$BASE/data"
  LOGFILE="$BASE/postgres.log"
  SOCK="$BASE/sock"
  if (( ${#SOCK} + ${#PORT} + 10 > 100 )); then
    SOCK="/tmp/microblog-pg-$(id -u)-$PORT"
  fi
}

# Percent-encodes a string for use as the password part of a URL.
urlencode() {
  local s="$1" out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c="${s:i:1}"
    case "$c" in
      [a-zA-Z0-9.~_-]) out+="$c" ;;
      *) out+="$(printf '%%%02X' "'$c")" ;;
    esac
  done
  printf '%s' "$out"
}

url() {  # url ROLE PASSWORD DB
  printf 'postgresql://%s:%s@127.0.0.1:%s/%s' "$1" "$(urlencode "$2")" "$PORT" "$3"
}

is_running() {
  [[ -f "$DATA/PG_VERSION" ]] && as_pg "$PG_BINDIR/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

# psql as the superuser over the unix socket.
admin_psql() {
  as_pg "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U "$SUPERUSER" "$@"
}

init_cluster() {
  log "initdb in $DATA"
  mkdir -p "$BASE"
  chmod 0700 "$BASE"
  local pwfile="$BASE/.pwfile"
  printf '%s\n' "$SUPERUSER_PASSWORD" >"$pwfile"
  ((IS_ROOT)) && chown -R postgres: "$BASE"
  as_pg "$PG_BINDIR/initdb" -D "$DATA" -U "$SUPERUSER" --pwfile="$pwfile" \
    -E UTF8 --locale=C --auth-local=trust --auth-host=scram-sha-256 >"$BASE/initdb.log" 2>&1 ||
    { rm -f "$pwfile"; cat "$BASE/initdb.log" >&2; die "initdb failed"; }
  rm -f "$pwfile"
  # Our settings live in their own file, rewritten on every start so that a
  # changed MICROBLOG_PG_PORT takes effect.
  as_pg sh -c "echo \"include_if_exists = 'microblog.conf'\" >> '$DATA/postgresql.conf'"
}

write_settings() {
  as_pg sh -c "cat > '$DATA/microblog.conf'" <<EOF
# Written by scripts/pg.sh start; edits are overwritten.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCK'
unix_socket_permissions = 0700
password_encryption = 'scram-sha-256'
EOF
}

ensure_socket_dir() {
  if [[ ! -d "$SOCK" ]]; then
    mkdir -p "$SOCK"
  fi
  chmod 0700 "$SOCK"
  ((IS_ROOT)) && chown postgres: "$SOCK"
  as_pg test -w "$SOCK" || die "socket directory $SOCK is not writable by the server's user"
}

# Roles and databases; every statement is idempotent.
ensure_schema_owners() {
  admin_psql -d postgres \
    -v superuser_pw="$SUPERUSER_PASSWORD" \
    -v user_pw="$USER_SERVICE_PASSWORD" \
    -v post_pw="$POST_SERVICE_PASSWORD" <<'SQL'
SELECT 'CREATE ROLE user_service LOGIN'
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'user_service') \gexec
SELECT 'CREATE ROLE post_service LOGIN'
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'post_service') \gexec
ALTER ROLE postgres PASSWORD :'superuser_pw';
ALTER ROLE user_service LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'user_pw';
ALTER ROLE post_service LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'post_pw';
SELECT 'CREATE DATABASE users'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'users') \gexec
SELECT 'CREATE DATABASE posts'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'posts') \gexec
-- Each service may connect only to its own database; table privileges come
-- from the migrations.
REVOKE CONNECT ON DATABASE users FROM PUBLIC;
REVOKE CONNECT ON DATABASE posts FROM PUBLIC;
GRANT CONNECT ON DATABASE users TO user_service;
GRANT CONNECT ON DATABASE posts TO post_service;
SQL
}

cmd_start() {
  [[ -f "$DATA/PG_VERSION" ]] || init_cluster
  if is_running; then
    log "already running (port $PORT, data $DATA)"
  else
    ensure_socket_dir
    write_settings
    log "starting on 127.0.0.1:$PORT (log $LOGFILE)"
    if ! as_pg "$PG_BINDIR/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t 60 start >/dev/null 9>&-; then
      tail -n 30 "$LOGFILE" >&2 || true
      die "PostgreSQL did not start"
    fi
  fi
  ensure_schema_owners
  log "ready: databases users, posts; roles user_service, post_service"
}

cmd_stop() {
  if is_running; then
    as_pg "$PG_BINDIR/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
    log "stopped"
  else
    log "not running"
  fi
}

cmd_status() {
  if is_running; then
    log "running on 127.0.0.1:$PORT, socket dir $SOCK, data $DATA"
  else
    log "not running (data ${DATA})"
    exit 3
  fi
}

cmd_clean() {
  cmd_stop
  rm -rf "$BASE"
  [[ "$SOCK" == /tmp/microblog-pg-* ]] && rm -rf "$SOCK"
  log "deleted $BASE"
}

cmd_env() {
  cat <<EOF
export MICROBLOG_PG_PORT=$PORT
export USER_DATABASE_URL='$(url "$SUPERUSER" "$SUPERUSER_PASSWORD" users)'
export POST_DATABASE_URL='$(url "$SUPERUSER" "$SUPERUSER_PASSWORD" posts)'
export USER_SERVICE_DATABASE_URL='$(url user_service "$USER_SERVICE_PASSWORD" users)'
export POST_SERVICE_DATABASE_URL='$(url post_service "$POST_SERVICE_PASSWORD" posts)'
EOF
}

main() {
  resolve_base
  local cmd="${1:-}"
  case "$cmd" in
    start | stop | status | clean | env)
      # One pg.sh at a time per checkout (scripts/up.sh and scripts/test.sh may
      # overlap).
      exec 9>"$ROOT/.local/pg.lock"
      flock 9
      "cmd_$cmd"
      ;;
    psql)
      shift
      is_running || die "not running: scripts/pg.sh start"
      exec "$PG_BINDIR/psql" -X "$(url "$SUPERUSER" "$SUPERUSER_PASSWORD" "${1:-postgres}")"
      ;;
    *)
      sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
      exit 2
      ;;
  esac
}

main "$@"
