#!/usr/bin/env bash
# Brings up the whole local stack (README command #1):
#   1. scripts/install-deps.sh;
#   2. builds the `release` CMake preset (build/release): migrate,
#      user-service, post-service;
#   3. scripts/pg.sh start: PostgreSQL 15 on 127.0.0.1:54329 with databases
#      `users` and `posts`;
#   4. migrate up, as the databases' superuser (like the deploy's migration
#      job that runs before each rollout);
#   5. user-service on 127.0.0.1:$USER_SERVICE_PORT (default 50051), then
#      post-service on 127.0.0.1:$POST_SERVICE_PORT (default 50052), each
#      connecting as its own database role, in the background; their
#      Prometheus metrics on 127.0.0.1 too ($USER_SERVICE_METRICS_PORT,
#      default 9464; $POST_SERVICE_METRICS_PORT, default 9465); logs and pid
#      files in .local/run/; each must answer its health check;
#   6. prints example grpcurl calls.
# Running it again rebuilds and restarts the services. scripts/down.sh stops
# everything.
#
# Usage: scripts/up.sh [--no-build] [--demo]
#   --no-build  skip steps 1-2 (use the binaries already in build/release)
#   --demo      also run the example calls with tests/grpcurl/grpcurl.py and
#               show their output
set -euo pipefail

# shellcheck source=lib/stack.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/stack.sh"
cd "$ROOT"

BUILD=1
DEMO=0
for arg in "$@"; do
  case "$arg" in
    --no-build) BUILD=0 ;;
    --demo) DEMO=1 ;;
    *)
      sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
      exit 2
      ;;
  esac
done

MIGRATE="$RELEASE_DIR/migrate/migrate"
USER_SERVICE="$RELEASE_DIR/user-service/user-service"
POST_SERVICE="$RELEASE_DIR/post-service/post-service"

if ((BUILD)); then
  "$ROOT/scripts/install-deps.sh"
  stack_log "building the release preset (build/release)"
  cmake --preset release >/dev/null
  cmake --build --preset release --target migrate user-service post-service
fi

missing=()
for bin in "$MIGRATE" "$USER_SERVICE" "$POST_SERVICE"; do
  [[ -x "$bin" ]] || missing+=("${bin#"$ROOT"/}")
done
if ((${#missing[@]})); then
  stack_log "error: not built: ${missing[*]}"
  stack_log "build them with: cmake --preset release && cmake --build --preset release"
  exit 1
fi

"$ROOT/scripts/pg.sh" start
eval "$("$ROOT/scripts/pg.sh" env)"

stack_log "migrate up (migrations/)"
"$MIGRATE" up --target all --migrations-dir "$ROOT/migrations"

mkdir -p "$RUN_DIR"

# start_service NAME BINARY PORT [VAR=VALUE...]: (re)starts NAME in the
# background and waits until its health check answers SERVING.
start_service() {
  local name="$1" binary="$2" port="$3" pid i
  shift 3
  stop_service "$name"
  stack_log "starting $name on 127.0.0.1:$port (log .local/run/$name.log)"
  # setsid: the service must outlive this script and its terminal.
  env LISTEN_ADDRESS="127.0.0.1:$port" LOG_LEVEL="${LOG_LEVEL:-info}" "$@" \
    setsid "$binary" </dev/null >>"$RUN_DIR/$name.log" 2>&1 &
  pid=$!
  echo "$pid" >"$RUN_DIR/$name.pid"
  for ((i = 0; i < 60; i++)); do
    if ! alive "$pid"; then
      stack_log "error: $name exited; last log lines:"
      tail -n 20 "$RUN_DIR/$name.log" >&2
      rm -f "$RUN_DIR/$name.pid"
      exit 1
    fi
    if "$PYTHON" "$GRPCURL_PY" -plaintext -connect-timeout 1 -max-time 2 "127.0.0.1:$port" health \
      >/dev/null 2>&1; then
      stack_log "$name is SERVING (pid $pid)"
      return 0
    fi
    sleep 0.5
  done
  stack_log "error: $name did not become healthy within ~60 s; last log lines:"
  tail -n 20 "$RUN_DIR/$name.log" >&2
  exit 1
}

# The access tokens' key pair: made once (kept across restarts, so that
# tokens outlive them), its public half published as the key set both
# services verify with.
KEY_DIR="$ROOT/.local/keys"
SIGNING_KEY="$KEY_DIR/token-signing.pem"
JWKS="$KEY_DIR/jwks.json"
if [[ ! -s "$SIGNING_KEY" ]]; then
  mkdir -p "$KEY_DIR"
  stack_log "making the access tokens' signing key (.local/keys/token-signing.pem)"
  (umask 077 && openssl genpkey -algorithm ed25519 -out "$SIGNING_KEY")
fi
"$USER_SERVICE" jwks "$SIGNING_KEY" >"$JWKS.tmp" && mv "$JWKS.tmp" "$JWKS"

# The local stack is plaintext on 127.0.0.1, so that the README's grpcurl
# lines work as they are: TRANSPORT_SECURITY=insecure, named, and logged as
# a warning by each service (the deployed manifests run mtls).
start_service user-service "$USER_SERVICE" "$USER_SERVICE_PORT" \
  TRANSPORT_SECURITY=insecure \
  METRICS_ADDRESS="127.0.0.1:$USER_SERVICE_METRICS_PORT" \
  USER_DATABASE_URL="$USER_SERVICE_DATABASE_URL" \
  TOKEN_SIGNING_KEY_FILE="$SIGNING_KEY" TOKEN_JWKS_FILE="$JWKS"
start_service post-service "$POST_SERVICE" "$POST_SERVICE_PORT" \
  TRANSPORT_SECURITY=insecure \
  METRICS_ADDRESS="127.0.0.1:$POST_SERVICE_METRICS_PORT" \
  POST_DATABASE_URL="$POST_SERVICE_DATABASE_URL" \
  USER_SERVICE_ADDR="127.0.0.1:$USER_SERVICE_PORT" \
  TOKEN_JWKS_FILE="$JWKS"

U="localhost:$USER_SERVICE_PORT"
P="localhost:$POST_SERVICE_PORT"
US=microblog.user.v1.UserService
PS=microblog.post.v1.PostService

# The examples, one per line: a comment, then the grpcurl arguments.
EXAMPLES=(
  "# Create a user (the response holds its id)"
  "-plaintext -d '{\"username\": \"ada\", \"email\": \"ada@example.com\", \"password\": \"correct horse battery\"}' $U $US/CreateUser"
  "# Get it by id (int64 ids are JSON strings)"
  "-plaintext -d '{\"id\": \"USER_ID\"}' $U $US/GetUser"
  "# Look it up by username (or {\"email\": ...})"
  "-plaintext -d '{\"username\": \"ada\"}' $U $US/LookupUser"
  "# List users, a page at a time"
  "-plaintext -d '{\"page_size\": 10}' $U $US/ListUsers"
  "# Log in: the response holds an access token (TOKEN below)"
  "-plaintext -d '{\"login\": \"ada\", \"password\": \"correct horse battery\"}' $U $US/VerifyPassword"
  "# With it, ada sees her own e-mail address"
  "-plaintext -H 'authorization: Bearer TOKEN' -d '{\"id\": \"USER_ID\"}' $U $US/GetUser"
  "# Health (either service)"
  "-plaintext $U grpc.health.v1.Health/Check"
  "# Post as that user, with its token"
  "-plaintext -H 'authorization: Bearer TOKEN' -d '{\"user_id\": \"USER_ID\", \"body\": \"Hello, microblog!\"}' $P $PS/CreatePost"
  "# That user's posts, newest first"
  "-plaintext -d '{\"user_id\": \"USER_ID\"}' $P $PS/ListPosts"
  "# A post for another user with ada's token: PermissionDenied"
  "-plaintext -H 'authorization: Bearer TOKEN' -d '{\"user_id\": \"999999999\", \"body\": \"nobody wrote this\"}' $P $PS/CreatePost"
  "# What the services offer (server reflection)"
  "-plaintext $U list"
  "-plaintext $P describe $PS"
)

access_token() {
  "$PYTHON" "$GRPCURL_PY" -plaintext -d '{"login": "ada", "password": "correct horse battery"}' \
    "$U" "$US/VerifyPassword" 2>/dev/null |
    "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["accessToken"])' 2>/dev/null
}

user_id() {
  "$PYTHON" "$GRPCURL_PY" -plaintext -d '{"username": "ada"}' "$U" "$US/LookupUser" 2>/dev/null |
    "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["user"]["id"])' 2>/dev/null
}

cat <<EOF

The stack is up:
  user-service  127.0.0.1:$USER_SERVICE_PORT  (log .local/run/user-service.log)
                metrics http://127.0.0.1:$USER_SERVICE_METRICS_PORT/metrics
  post-service  127.0.0.1:$POST_SERVICE_PORT  (log .local/run/post-service.log)
                metrics http://127.0.0.1:$POST_SERVICE_METRICS_PORT/metrics
  PostgreSQL    127.0.0.1:${MICROBLOG_PG_PORT}  (scripts/pg.sh env prints the URLs)
Stop it with scripts/down.sh.

Try it with grpcurl, or with tests/grpcurl/grpcurl.py (same arguments; run it
with /usr/bin/python3). USER_ID is the id that CreateUser returned, TOKEN the
accessToken of VerifyPassword.
EOF
for line in "${EXAMPLES[@]}"; do
  if [[ "$line" == "#"* ]]; then
    printf '\n%s\n' "$line"
    continue
  fi
  printf '  grpcurl %s\n' "$line"
  if ((DEMO)); then
    id="$(user_id || true)"
    eval "args=($line)"
    # shellcheck disable=SC2154  # args is set by the eval above
    args=("${args[@]//USER_ID/${id:-1}}")
    if [[ "$line" == *TOKEN* ]]; then
      token="$(access_token || true)"
      args=("${args[@]//TOKEN/${token:-none}}")
    fi
    "$PYTHON" "$GRPCURL_PY" "${args[@]}" 2>&1 | sed 's/^/    /' || true
  fi
done
