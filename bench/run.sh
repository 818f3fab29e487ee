#!/usr/bin/env bash
# The benchmark of issue #6, from nothing: builds the release binaries, starts
# a fresh PostgreSQL 15 with production-like durability settings, migrates and
# seeds it, starts user-service and post-service, and runs every scenario of
# microblog-bench at each in-flight count, each followed by pgbench running
# the same SQL on the same data with as many clients. Writes the table and
# the raw numbers to bench/results/ and the latest table into
# bench/README.md. See bench/README.md for how to read the ratios.
#
# Usage: bench/run.sh [--quick] [--no-build] [--keep] [--serve] [--pooler]
#   --quick     2 s warm-up, 4 s per run, one in-flight count (16): a check
#               that the whole pipeline works, not a measurement
#   --pooler    instead of the scenarios, pgbench and the A/B runs: each of
#               BENCH_POOLER_SCENARIOS at BENCH_POOLER_IN_FLIGHT, the
#               services connected directly vs through PgBouncer (transaction
#               pooling, bench/lib/pgbouncer.sh), DB_PREPARED_STATEMENTS on
#               vs off: four cells, services restarted for each, alternated
#               in BENCH_AB_ROUNDS rounds; a table of its own
#   --no-build  use the binaries already in build/release
#   --keep      leave the work dir (PostgreSQL data, logs) behind
#   --serve     set everything up, print the addresses, and keep PostgreSQL
#               and the services running (no benchmark) until interrupted:
#               for profiling and for running microblog-bench by hand
# Environment (defaults in brackets):
#   BENCH_DURATION [10]  BENCH_WARMUP [3]  BENCH_IN_FLIGHT ["16 64"]
#   BENCH_SCENARIOS ["GetUser LookupUser CreateUser VerifyPassword CreatePost
#                     GetPost ListPosts mix"]
#   BENCH_CHANNELS [4] channels per service    BENCH_PGBENCH_THREADS [nproc]
#   BENCH_USERS [10000]  BENCH_POSTS [100000]  BENCH_VERIFY_ACCOUNTS [16]
#   BENCH_USER_PORT [50161]  BENCH_POST_PORT [50162]  (127.0.0.1 only)
#   BENCH_USER_LISTEN_HOST [127.0.0.1]  user-service's listen host ('[::]': every address)
#   BENCH_TRANSPORT [insecure]: or mtls, the deployed TRANSPORT_SECURITY, with
#     the dev overlay's certificates and policies (the client is post-service)
#   BENCH_EXPERIMENTS [1]: afterwards, A/B runs of GetUser, GetPost and
#     CreatePost at the highest in-flight count, services restarted for
#     each setting, in BENCH_AB_ROUNDS [2] alternated rounds: the deployed
#     configuration (the control), metrics off (METRICS_ADDRESS=, what
#     metrics cost), every call in the access log (ACCESS_LOG_SAMPLE_EVERY=1,
#     what info cost before issue 12), LOG_LEVEL=warn
#   BENCH_SERVICE_OVERRIDES [""]: VAR=value words applied to both services
#     on top of the deployed configuration (bench/profile.sh uses it)
#   BENCH_BUILD_DIR [build/release]: where the binaries are (with --no-build,
#     e.g. build/dev to check the pipeline without a release build)
#   BENCH_POOLER_SCENARIOS ["GetUser GetPost ListPosts LookupUser CreatePost"]
#   BENCH_POOLER_IN_FLIGHT [64]  BENCH_POOLER_POOL_SIZE [DB_POOL_SIZE]:
#     PgBouncer's server connections per database and role (--pooler)
#
# The services run with exactly the configuration deploy/k8s/base ships
# (the literals of its user-service-config and post-service-config
# ConfigMaps: log level, pool size, deadlines, metrics on), except the
# addresses, which are loopback ports here; the report prints it.
#
# Needs: the Debian packages of scripts/install-deps.sh (postgresql-15 with
# pgbench, python3), and root or a user that can run initdb.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

QUICK=0 BUILD=1 KEEP=0 SERVE=0 POOLER=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    --no-build) BUILD=0 ;;
    --keep) KEEP=1 ;;
    --serve) SERVE=1 ;;
    --pooler) POOLER=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

NPROC="$(nproc)"
DURATION="${BENCH_DURATION:-10}"
WARMUP="${BENCH_WARMUP:-3}"
IN_FLIGHT="${BENCH_IN_FLIGHT:-16 64}"
if ((QUICK)); then DURATION=4 WARMUP=2 IN_FLIGHT=16; fi
SCENARIOS="${BENCH_SCENARIOS:-GetUser LookupUser CreateUser VerifyPassword CreatePost GetPost ListPosts mix}"
CHANNELS="${BENCH_CHANNELS:-4}"
PGBENCH_THREADS="${BENCH_PGBENCH_THREADS:-$NPROC}"
USERS="${BENCH_USERS:-10000}"
POSTS="${BENCH_POSTS:-100000}"
VERIFY_ACCOUNTS="${BENCH_VERIFY_ACCOUNTS:-16}"
USER_PORT="${BENCH_USER_PORT:-50161}"
# Where user-service listens: 127.0.0.1, or '[::]' (every address, IPv4 and
# IPv6) for bench/login_flood.sh, whose second client must be another peer.
USER_LISTEN_HOST="${BENCH_USER_LISTEN_HOST:-127.0.0.1}"
POST_PORT="${BENCH_POST_PORT:-50162}"
USER_METRICS_PORT="${BENCH_USER_METRICS_PORT:-50163}"
POST_METRICS_PORT="${BENCH_POST_METRICS_PORT:-50164}"
EXPERIMENTS="${BENCH_EXPERIMENTS:-1}"
AB_ROUNDS="${BENCH_AB_ROUNDS:-2}"
POOLER_SCENARIOS="${BENCH_POOLER_SCENARIOS:-GetUser GetPost ListPosts LookupUser CreatePost}"
POOLER_IN_FLIGHT="${BENCH_POOLER_IN_FLIGHT:-64}"
read -r -a SERVICE_OVERRIDES <<<"${BENCH_SERVICE_OVERRIDES:-}"
PG_BIN="${PG_BIN_DIR:-/usr/lib/postgresql/15/bin}"

BUILD_DIR="${BENCH_BUILD_DIR:-$ROOT/build/release}"
BENCH="$BUILD_DIR/bench/microblog-bench"
USER_BIN="$BUILD_DIR/user-service/user-service"
POST_BIN="$BUILD_DIR/post-service/post-service"
MIGRATE_BIN="$BUILD_DIR/migrate/migrate"

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The code measured is the code as it is now, before the build: commits
# made while the benchmark runs must not be credited with its numbers.
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null || COMMIT="$COMMIT-dirty"

# --- Build -------------------------------------------------------------------
if ((BUILD)); then
  log "building release binaries"
  cmake --preset release >/dev/null
  cmake --build --preset release --target user-service post-service migrate microblog-bench
fi
for bin in "$BENCH" "$USER_BIN" "$POST_BIN" "$MIGRATE_BIN"; do
  [[ -x "$bin" ]] || die "$bin missing: build the release preset"
done
command -v python3 >/dev/null || die "python3 is needed for the report"
[[ -x "$PG_BIN/pgbench" ]] || PGBENCH_BIN="$(command -v pgbench)" || die "pgbench not found"
PGBENCH_BIN="${PGBENCH_BIN:-$PG_BIN/pgbench}"

# --- The deployed configuration ----------------------------------------------
# KEY=VALUE lines of one ConfigMap's literals in deploy/k8s/base.
deployed_config() { # configmap-name
  python3 - "$ROOT/deploy/k8s/base/kustomization.yaml" "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
block = re.search(r"- name: " + re.escape(sys.argv[2]) + r"\n\s+literals:\n((?:\s+(?:- \S+=.*|#.*)\n)+)", text)
if not block: sys.exit("no literals for " + sys.argv[2])
for line in block.group(1).splitlines():
    line = line.strip()
    if line.startswith("- "): print(line[2:])
PY
}
# Addresses are this machine's; everything else is as deployed.
# The token files' paths are the pods' mounts: bench/lib/tokens.sh gives
# local ones (TOKEN_ENV).
# Transport (BENCH_TRANSPORT): insecure (plaintext, the default here, what
# the other bench/ scripts' clients speak) or mtls (as deployed): the dev
# overlay's DEV-ONLY certificates and policies (deploy/k8s/overlays/dev),
# the load generator presenting post-service's certificate.
TRANSPORT="${BENCH_TRANSPORT:-insecure}"
TRANSPORT_FILTER='TRANSPORT_SECURITY|TLS_CERT_FILE|TLS_KEY_FILE|TLS_CLIENT_CA_FILE|AUTHZ_POLICY_FILE|USER_SERVICE_TLS_CA_FILE|USER_SERVICE_TLS_CERT_FILE|USER_SERVICE_TLS_KEY_FILE'
mapfile -t USER_CONFIG < <(deployed_config user-service-config |
  grep -v -E "^(LISTEN_ADDRESS|METRICS_ADDRESS|TOKEN_SIGNING_KEY_FILE|TOKEN_JWKS_FILE|$TRANSPORT_FILTER)=")
mapfile -t POST_CONFIG < <(deployed_config post-service-config |
  grep -v -E "^(LISTEN_ADDRESS|METRICS_ADDRESS|USER_SERVICE_ADDR|TOKEN_JWKS_FILE|$TRANSPORT_FILTER)=")
DEV="$ROOT/deploy/k8s/overlays/dev"
BENCH_TLS_ARGS=()
case "$TRANSPORT" in
  insecure)
    USER_CONFIG+=(TRANSPORT_SECURITY=insecure)
    POST_CONFIG+=(TRANSPORT_SECURITY=insecure) ;;
  mtls)
    tls_env() { # SERVICE: its TLS settings from the dev certificates
      echo "TRANSPORT_SECURITY=mtls"
      echo "TLS_CERT_FILE=$DEV/tls/$1/tls.crt"
      echo "TLS_KEY_FILE=$DEV/tls/$1/tls.key"
      echo "TLS_CLIENT_CA_FILE=$DEV/tls/$1/ca.crt"
      echo "AUTHZ_POLICY_FILE=$DEV/authz/$1.json"
    }
    mapfile -t -O "${#USER_CONFIG[@]}" USER_CONFIG < <(tls_env user-service)
    mapfile -t -O "${#POST_CONFIG[@]}" POST_CONFIG < <(tls_env post-service)
    POST_CONFIG+=("USER_SERVICE_TLS_CA_FILE=$DEV/tls/post-service/ca.crt"
      "USER_SERVICE_TLS_CERT_FILE=$DEV/tls/post-service/tls.crt"
      "USER_SERVICE_TLS_KEY_FILE=$DEV/tls/post-service/tls.key")
    BENCH_TLS_ARGS=(--tls_ca="$DEV/tls/post-service/ca.crt"
      --tls_cert="$DEV/tls/post-service/tls.crt" --tls_key="$DEV/tls/post-service/tls.key") ;;
  *) die "BENCH_TRANSPORT must be insecure or mtls" ;;
esac
((${#USER_CONFIG[@]} > 0 && ${#POST_CONFIG[@]} > 0)) || die "cannot read deploy/k8s/base's ConfigMaps"
config_value() { # KEY lines...: the value of KEY, or its binary default
  local key="$1"; shift
  local line
  for line in "$@"; do [[ "$line" == "$key="* ]] && { echo "${line#*=}"; return; }; done
  "$USER_BIN" --help | sed -n "/ \/ $key\$/{n; s/.*(default: \(.*\))\$/\1/p}"
}
POOL_SIZE="$(config_value DB_POOL_SIZE "${USER_CONFIG[@]}")"
POOLER_POOL_SIZE="${BENCH_POOLER_POOL_SIZE:-$POOL_SIZE}"
HASH_THREADS="$(config_value PASSWORD_HASH_THREADS "${USER_CONFIG[@]}")"
SERVICE_LOG_LEVEL="$(config_value LOG_LEVEL "${USER_CONFIG[@]}")"

# --- Work dir and PostgreSQL -------------------------------------------------
source "$ROOT/bench/lib/postgres.sh"
bench_postgres_start /tmp/mbbench.XXXXXX
RAW="$WORK/raw"
mkdir -p "$RAW/pgbench-logs"

log "creating databases, roles, schema"
psql_su postgres -c "CREATE ROLE user_service LOGIN" -c "CREATE ROLE post_service LOGIN" \
  -c "CREATE DATABASE users" -c "CREATE DATABASE posts" -c "CREATE DATABASE pgbench"
USER_DATABASE_URL="$(url users postgres)" POST_DATABASE_URL="$(url posts postgres)" \
  "$MIGRATE_BIN" up --target all --migrations-dir "$ROOT/migrations" >"$WORK/migrate.log" 2>&1 \
  || { cat "$WORK/migrate.log" >&2; die "migrate failed"; }
# pgbench needs both tables in one database (CreatePost's author check and
# insert in one script): the migrated schema of each, tables, indexes and
# functions (CreatePost's insert_posts()), without migrate's bookkeeping.
for db in users posts; do
  "$PG_BIN/pg_dump" -h "$WORK" -U postgres --schema-only --no-owner --no-privileges \
    --exclude-table=schema_migrations "$db" | psql_su pgbench >/dev/null
done

log "seeding $USERS users and $POSTS posts (services' databases and pgbench's)"
"$BENCH" seed-sql --table=users --users="$USERS" >"$WORK/seed_users.sql"
"$BENCH" seed-sql --table=posts --users="$USERS" --posts="$POSTS" >"$WORK/seed_posts.sql"
for db in users pgbench; do psql_su "$db" -f "$WORK/seed_users.sql"; done
for db in posts pgbench; do psql_su "$db" -f "$WORK/seed_posts.sql"; done
# The accounts' stored identity forms (issue 24), as a deployment has them
# once `user-service backfill-identity-keys` has run after the rollout:
# lookups then go through the canonical forms' indexes, not the lower()
# fallback of rows not yet backfilled.
for db in users pgbench; do
  "$USER_BIN" backfill-identity-keys --user-database-url "$(url "$db" postgres)" \
    >>"$WORK/backfill.log" 2>&1 || { cat "$WORK/backfill.log" >&2; die "backfill failed"; }
  # Its updates leave a dead version of every row; autovacuum would clear
  # them within minutes of a real backfill.
  psql_su "$db" -c "VACUUM ANALYZE users" >/dev/null
done

# --- Services ----------------------------------------------------------------
USER_PID="" POST_PID=""
# The services' database URLs: direct, or through PgBouncer (--pooler).
USER_DB_URL="$(url users user_service)" POST_DB_URL="$(url posts post_service)"
start_services() { # [VAR=value ...]: overrides for both services
  USER_PID="" POST_PID=""
  # A leftover stack on our ports would answer in place of the services
  # started here, and the numbers would be someone else's.
  for port in "$USER_PORT" "$POST_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      die "127.0.0.1:$port is already in use (another bench/run.sh --serve?)"
    fi
  done
  env "${USER_CONFIG[@]}" "${TOKEN_ENV[@]}" LISTEN_ADDRESS="$USER_LISTEN_HOST:$USER_PORT" \
    METRICS_ADDRESS="127.0.0.1:$USER_METRICS_PORT" USER_DATABASE_URL="$USER_DB_URL" \
    "${SERVICE_OVERRIDES[@]}" "$@" "$USER_BIN" >>"$WORK/user-service.log" 2>&1 &
  USER_PID=$!
  PIDS+=("$USER_PID")
  env "${POST_CONFIG[@]}" "${TOKEN_ENV[@]}" LISTEN_ADDRESS="127.0.0.1:$POST_PORT" \
    METRICS_ADDRESS="127.0.0.1:$POST_METRICS_PORT" POST_DATABASE_URL="$POST_DB_URL" \
    USER_SERVICE_ADDR="127.0.0.1:$USER_PORT" "${SERVICE_OVERRIDES[@]}" "$@" "$POST_BIN" \
    >>"$WORK/post-service.log" 2>&1 &
  POST_PID=$!
  PIDS+=("$POST_PID")
  "$BENCH" wait-serving "${BENCH_TLS_ARGS[@]}" --address="127.0.0.1:$USER_PORT" --timeout=60s \
    || { tail -20 "$WORK/user-service.log" >&2; die "user-service not serving"; }
  "$BENCH" wait-serving "${BENCH_TLS_ARGS[@]}" --address="127.0.0.1:$POST_PORT" --timeout=60s \
    || { tail -20 "$WORK/post-service.log" >&2; die "post-service not serving"; }
  kill -0 "$USER_PID" "$POST_PID" 2>/dev/null \
    || { tail -20 "$WORK"/*-service.log >&2; die "a service exited at start-up"; }
}
stop_services() {
  kill -TERM "$USER_PID" "$POST_PID" 2>/dev/null || true
  wait "$USER_PID" "$POST_PID" 2>/dev/null || true
}

# shellcheck source=bench/lib/tokens.sh
source "$ROOT/bench/lib/tokens.sh"
bench_token_keys
# BENCH_TOKENS_ON_READS=1: every call carries a user's token (a logged-in
# client); by default only the changes do, which need one.
TOKEN_READ_ARGS=()
[[ "${BENCH_TOKENS_ON_READS:-0}" == 1 ]] && TOKEN_READ_ARGS=(--tokens_on_reads)
log "starting services as deploy/k8s/base configures them: user-service ${USER_CONFIG[*]}; post-service ${POST_CONFIG[*]}"
start_services
"$BENCH" create-verify-accounts "${BENCH_TLS_ARGS[@]}" --user_address="127.0.0.1:$USER_PORT" \
  --verify_accounts="$VERIFY_ACCOUNTS" >/dev/null
# The same accounts, with the hashes user-service made, for pgbench.
psql_su users -c "\\copy (SELECT username, email, password_hash FROM users WHERE username LIKE 'verify\\_%' ORDER BY id) TO '$WORK/verify.tsv'"
psql_su pgbench -c "\\copy users (username, email, password_hash) FROM '$WORK/verify.tsv'"
for db in users posts pgbench; do psql_su "$db" -c "VACUUM ANALYZE"; done
psql_su postgres -c "CHECKPOINT"

if ((SERVE)); then
  log "serving: user-service 127.0.0.1:$USER_PORT (pid $USER_PID), post-service 127.0.0.1:$POST_PORT (pid $POST_PID)"
  log "PostgreSQL socket dir $WORK (databases users, posts, pgbench); logs in $WORK; Ctrl-C to stop"
  while kill -0 "$USER_PID" 2>/dev/null && kill -0 "$POST_PID" 2>/dev/null; do sleep 1; done
  die "a service exited; see $WORK/*.log"
fi

status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
CLK_TCK="$(getconf CLK_TCK)"
PG_PID="$(head -1 "$WORK/data/postmaster.pid")"

# Adds "KEY": VALUE (VALUE is JSON) to the last JSON line of FILE.
json_add() { # FILE KEY VALUE
  python3 - "$@" <<'PY'
import json, sys
path, key, value = sys.argv[1:4]
lines = open(path).read().splitlines()
row = json.loads(lines[-1]); row[key] = json.loads(value)
lines[-1] = json.dumps(row)
open(path, "w").write("\n".join(lines) + "\n")
PY
}

# CPU bookkeeping, to see how much of the machine each party took during a
# measured window and how much went to processes that are not ours (other
# builds on a shared machine: the noise). A snapshot is "key ticks" lines:
# the machine's busy ticks, each NAME=PID given, and every child of the
# postmaster (backends, WAL writer, checkpointer...) as postgres.
cpu_snapshot() { # NAME=PID ...
  date +'time %s.%N'
  awk '/^cpu / { print "machine", $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
  local spec pid
  for spec in "$@"; do
    awk -v k="${spec%%=*}" '{ print k, $14 + $15 }' "/proc/${spec#*=}/stat" 2>/dev/null || true
  done
  for pid in $(pgrep -P "$PG_PID"); do
    awk -v k="pg:$pid" '{ print k, $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || true
  done
}
# Cores busy between two snapshots, as JSON: {"machine": ..., NAME: ...,
# "postgres": ..., "others": machine minus all of ours}.
cpu_between() { # SNAPSHOT0 SNAPSHOT1
  awk -v t="$CLK_TCK" '
    NR == FNR { a[$1] = $2; next }
    $1 == "time" { secs = $2 - a["time"]; next }
    ($1 in a) { k = $1; if (k ~ /^pg:/) k = "postgres"; c[k] += ($2 - a[$1]) / t }
    END {
      ours = 0
      for (k in c) if (k != "machine") ours += c[k]
      c["others"] = c["machine"] - ours
      if (c["others"] < 0) c["others"] = 0
      out = sprintf("\"seconds\":%.3f", secs)
      for (k in c) out = out sprintf(",\"%s\":%.3f", k, c[k] / secs)
      print "{" out "}"
    }' "$1" "$2"
}

sleep 2
printf '{"user_rss_kb":%s,"post_rss_kb":%s}\n' "$(status_kb "$USER_PID" VmRSS)" \
  "$(status_kb "$POST_PID" VmRSS)" >"$RAW/idle.json"

# libsodium's own Argon2id speed, as many threads as user-service hashes on.
# Measured at the start and again right before each Argon2id scenario, so
# that the ratio compares numbers taken under the same machine load.
run_pwhash() { # LABEL
  log "libsodium crypto_pwhash_str speed on $HASH_THREADS threads ($1)"
  "$BENCH" pwhash --threads="$HASH_THREADS" --duration=5s --json_out="$RAW/pwhash.jsonl" >&2
  json_add "$RAW/pwhash.jsonl" label "\"$1\""
}
run_pwhash start

# Runs microblog-bench for one scenario; samples the services' RSS halfway
# through the measured time and everyone's CPU over it. $3: JSON file to
# append microblog-bench's report to.
run_service() { # SCENARIO IN_FLIGHT OUT_JSONL [LABEL]
  local scenario="$1" n="$2" out="$3" label="${4:-}"
  local text="$RAW/service_${scenario}_${n}${label}.txt"
  "$BENCH" run "${BENCH_TLS_ARGS[@]}" --scenario="$scenario" --user_address="127.0.0.1:$USER_PORT" \
    --post_address="127.0.0.1:$POST_PORT" --in_flight="$n" --channels="$CHANNELS" \
    --warmup="${WARMUP}s" --duration="${DURATION}s" --users="$USERS" --posts="$POSTS" \
    --verify_accounts="$VERIFY_ACCOUNTS" --token_signing_key="$BENCH_SIGNING_KEY" \
    "${TOKEN_READ_ARGS[@]}" --json_out="$out" >"$text" &
  local gen=$! procs urss prss
  procs=(generator="$gen" user-service="$USER_PID" post-service="$POST_PID")
  # The CPU window sits inside the measured time with a margin at both
  # ends: on a loaded machine this script's sleeps run late.
  sleep "$(awk -v w="$WARMUP" 'BEGIN { print w + 0.5 }')"
  cpu_snapshot "${procs[@]}" >"$WORK/cpu0"
  sleep "$(awk -v d="$DURATION" 'BEGIN { print d / 2 - 0.5 }')"
  urss="$(status_kb "$USER_PID" VmRSS)" prss="$(status_kb "$POST_PID" VmRSS)"
  sleep "$(awk -v d="$DURATION" 'BEGIN { print d / 2 - 1.5 }')"
  cpu_snapshot "${procs[@]}" >"$WORK/cpu1"
  local cpu='{}'
  kill -0 "$gen" 2>/dev/null && cpu="$(cpu_between "$WORK/cpu0" "$WORK/cpu1")"
  wait "$gen" || die "microblog-bench run $scenario failed: $(cat "$text")"
  cat "$text" >&2
  printf '{"scenario":"%s","in_flight":%s,"label":"%s","user_rss_kb":%s,"post_rss_kb":%s,"user_hwm_kb":%s,"post_hwm_kb":%s,"cpu_cores":%s}\n' \
    "$scenario" "$n" "$label" "$urss" "$prss" "$(status_kb "$USER_PID" VmHWM)" \
    "$(status_kb "$POST_PID" VmHWM)" "$cpu" >>"$RAW/resources.jsonl"
}

# The pgbench script(s) of a scenario, as -f arguments.
pgbench_scripts() {
  local d="$ROOT/bench/pgbench"
  case "$1" in
    GetUser) echo "-f $d/get_user.sql" ;;
    LookupUser) echo "-f $d/lookup_user.sql" ;;
    CreateUser) echo "-f $d/create_user.sql" ;;
    VerifyPassword) echo "-f $d/verify_password.sql" ;;
    CreatePost) echo "-f $d/create_post.sql" ;;
    GetPost) echo "-f $d/get_post.sql" ;;
    ListPosts) echo "-f $d/list_posts.sql" ;;
    # The weights of bench/scenario.h's kMixWeights.
    mix) echo "-f $d/get_post.sql@30 -f $d/list_posts.sql@30 -f $d/get_user.sql@20 -f $d/lookup_user.sql@10 -f $d/create_post.sql@10" ;;
    *) die "no pgbench script for $1" ;;
  esac
}

run_pgbench() { # SCENARIO CLIENTS
  local scenario="$1" n="$2" threads="$PGBENCH_THREADS"
  ((threads > n)) && threads="$n"
  # shellcheck disable=SC2046 # the script list is meant to split
  local args=(-n -M prepared -c "$n" -j "$threads" -h "$WORK" -U postgres
              -D users="$USERS" -D posts="$POSTS" -D verify_accounts="$VERIFY_ACCOUNTS"
              $(pgbench_scripts "$scenario"))
  "$PGBENCH_BIN" "${args[@]}" -T "$WARMUP" pgbench >/dev/null 2>&1 \
    || die "pgbench warm-up for $scenario failed: $("$PGBENCH_BIN" "${args[@]}" -t 1 pgbench 2>&1 | tail -5)"
  local prefix="$RAW/pgbench-logs/${scenario}_${n}"
  "$PGBENCH_BIN" "${args[@]}" -T "$DURATION" --log --log-prefix="$prefix" pgbench \
    >"$RAW/pgbench_${scenario}_${n}.txt" 2>&1 &
  local client=$!
  # CPU over the middle of the run, once every client has connected, and
  # only if pgbench (hence its backends) still ran at the end of the window.
  sleep 1.5
  cpu_snapshot pgbench="$client" >"$WORK/cpu0"
  sleep "$(awk -v d="$DURATION" 'BEGIN { print (d > 5 ? d - 4 : 1) }')"
  cpu_snapshot pgbench="$client" >"$WORK/cpu1"
  local cpu='{}'
  kill -0 "$client" 2>/dev/null && cpu="$(cpu_between "$WORK/cpu0" "$WORK/cpu1")"
  wait "$client" || { cat "$RAW/pgbench_${scenario}_${n}.txt" >&2; die "pgbench $scenario failed"; }
  python3 "$ROOT/bench/report.py" pgbench-summary --scenario "$scenario" --clients "$n" \
    --output "$RAW/pgbench_${scenario}_${n}.txt" \
    --log-prefix "$prefix" >>"$RAW/pgbench.jsonl"
  json_add "$RAW/pgbench.jsonl" cpu_cores "$cpu"
  tail -1 "$RAW/pgbench.jsonl" >&2
  rm -f "$prefix".*  # the summary holds what the report needs
}

START_LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"
# --pooler: the four cells (path x prepared statements), nothing else.
if ((POOLER)); then
  source "$ROOT/bench/lib/pgbouncer.sh"
  bench_pgbouncer_start "$POOLER_POOL_SIZE" "$(config_value MAX_DEADLINE_MS "${USER_CONFIG[@]}")"
  SCENARIOS="" EXPERIMENTS=0
  for round in $(seq "$AB_ROUNDS"); do
    for path in direct pgbouncer; do
      for prepared in on off; do
        cell="${path}_${prepared}"
        log "pooler round $round, $path, DB_PREPARED_STATEMENTS=$prepared: $POOLER_SCENARIOS at $POOLER_IN_FLIGHT in flight"
        stop_services
        if [[ "$path" == direct ]]; then
          USER_DB_URL="$(url users user_service)" POST_DB_URL="$(url posts post_service)"
          start_services DB_PREPARED_STATEMENTS="$prepared"
        else
          # user-service's LISTEN session bypasses the pooler, as deployed.
          USER_DB_URL="$(pooled_url users user_service)" POST_DB_URL="$(pooled_url posts post_service)"
          start_services DB_PREPARED_STATEMENTS="$prepared" \
            USER_DATABASE_LISTEN_URL="$(url users user_service)"
        fi
        for scenario in $POOLER_SCENARIOS; do
          run_service "$scenario" "$POOLER_IN_FLIGHT" "$RAW/pooler.jsonl" "_${cell}_$round"
          json_add "$RAW/pooler.jsonl" path "\"$path\""
          json_add "$RAW/pooler.jsonl" prepared_statements "\"$prepared\""
          json_add "$RAW/pooler.jsonl" round "$round"
        done
      done
    done
  done
fi
for scenario in $SCENARIOS; do
  case "$scenario" in CreateUser|VerifyPassword) run_pwhash "$scenario" ;; esac
  for n in $IN_FLIGHT; do
    log "$scenario, $n in flight: services"
    run_service "$scenario" "$n" "$RAW/service.jsonl"
    log "$scenario, $n clients: pgbench"
    run_pgbench "$scenario" "$n"
  done
done

# Findings for tuning: the same load with one setting changed.
if ((EXPERIMENTS)) && ((!QUICK)); then
  top_n="$(tr ' ' '\n' <<<"$IN_FLIGHT" | sort -n | tail -1)"
  for round in $(seq "$AB_ROUNDS"); do
    for experiment in deployed "METRICS_ADDRESS=" "ACCESS_LOG_SAMPLE_EVERY=1" "LOG_LEVEL=warn"; do
      log "A/B round $round, $experiment: GetUser, GetPost and CreatePost at $top_n in flight"
      stop_services
      if [[ "$experiment" == deployed ]]; then start_services; else start_services "$experiment"; fi
      for scenario in GetUser GetPost CreatePost; do
        run_service "$scenario" "$top_n" "$RAW/experiments.jsonl" "_${experiment}_$round"
        json_add "$RAW/experiments.jsonl" experiment "\"$experiment\""
        json_add "$RAW/experiments.jsonl" round "$round"
      done
    done
  done
fi
END_LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$RAW/meta.json" <<EOF
import json, sys
json.dump({
  "commit": "$COMMIT", "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "nproc": $NPROC,
  "cpu": "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)",
  "load_before": "$START_LOAD", "load_after": "$END_LOAD", "quick": bool($QUICK),
  "duration_s": $DURATION, "warmup_s": $WARMUP, "channels": $CHANNELS,
  "pgbench_threads": $PGBENCH_THREADS, "users": $USERS, "posts": $POSTS,
  "verify_accounts": $VERIFY_ACCOUNTS, "db_pool_size": $POOL_SIZE,
  "pooler": bool($POOLER), "pooler_pool_size": $POOLER_POOL_SIZE,
  "pgbouncer": "$(if ((POOLER)); then "$PGBOUNCER_BIN" --version | head -1; fi)",
  "password_hash_threads": $HASH_THREADS, "log_level": "$SERVICE_LOG_LEVEL",
  "user_config": "${USER_CONFIG[*]}", "post_config": "${POST_CONFIG[*]}",
  "postgres": "$("$PG_BIN/postgres" --version)",
  "postgres_settings": "shared_buffers=256MB fsync=on synchronous_commit=on full_page_writes=on, Unix socket",
}, open(sys.argv[1], "w"), indent=1)
EOF

OUT_DIR="$ROOT/bench/results"
((QUICK)) && OUT_DIR="$ROOT/build/bench-quick"
mkdir -p "$OUT_DIR"
# A --pooler run fills bench/README.md's pooler section, not the main table.
python3 "$ROOT/bench/report.py" table --raw "$RAW" --out-dir "$OUT_DIR" \
  $( ((QUICK)) || echo --readme "$ROOT/bench/README.md") \
  $( ((POOLER)) && echo --readme-section pooler)
