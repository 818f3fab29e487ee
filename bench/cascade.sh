#!/usr/bin/env bash
# The DeleteUser cascade's benchmark (issue #11), at the configuration
# deploy/k8s/base deploys (DB_POOL_SIZE=8, MAX_DEADLINE_MS=5000,
# LOG_LEVEL=info, PASSWORD_HASH_THREADS default), on the same PostgreSQL set-up
# as bench/run.sh (fsync=on, synchronous_commit=on, shared_buffers=256MB,
# Unix socket) and the same seeded data (10,000 users, 100,000 posts):
#
#  1. CreatePost A/B: the release binaries of BASELINE (default: the commit
#     before the cascade) and of the working tree, alternated on the same
#     databases, 3 pairs at 16 and at 64 calls in flight (3 s warm-up, 10 s
#     measured each): what the tombstone check and the author lock cost;
#  2. deletion latency: `microblog-bench deletion-latency`, 200 trials, from
#     DeleteUser's OK until GetPost, ListPosts(user) and ListPosts(everyone)
#     no longer serve the user's posts (p50/p99/max), on idle services and
#     under a background `mix` load at 16 in flight.
#
# Writes bench/results/<date>-<commit>-cascade.md and .jsonl (every raw
# number, every latency sample).
#
# Usage: bench/cascade.sh [--no-build] [--keep]
# Environment: BENCH_BASELINE [ab81744]  BENCH_DURATION [10]  BENCH_WARMUP [3]
#   BENCH_PAIRS [3]  BENCH_TRIALS [200]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BUILD=1 KEEP=0
for arg in "$@"; do
  case "$arg" in
    --no-build) BUILD=0 ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

BASELINE="${BENCH_BASELINE:-ab81744}"
DURATION="${BENCH_DURATION:-10}"
WARMUP="${BENCH_WARMUP:-3}"
PAIRS="${BENCH_PAIRS:-3}"
TRIALS="${BENCH_TRIALS:-200}"
USERS=10000 POSTS=100000
USER_PORT=50171 POST_PORT=50172
PG_BIN="${PG_BIN_DIR:-/usr/lib/postgresql/15/bin}"
# deploy/k8s/base/kustomization.yaml's service settings.
DEPLOY_ENV=(DB_POOL_SIZE=8 MAX_DEADLINE_MS=5000 LOG_LEVEL=info SHUTDOWN_GRACE_MS=10000
  TRANSPORT_SECURITY=insecure)

log() { printf '[cascade %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

COMMIT="$(git rev-parse --short HEAD)"
git diff --quiet HEAD -- || COMMIT="$COMMIT-dirty"
BASE_COMMIT="$(git rev-parse --short "$BASELINE")"

# --- Build: HEAD (the working tree) and BASELINE (a worktree of its own) ------
NEW="$ROOT/build/release"
BASE_TREE="$ROOT/build/baseline-$BASE_COMMIT"
OLD="$BASE_TREE/build/release"
if ((BUILD)); then
  export CMAKE_CXX_COMPILER_LAUNCHER="${CMAKE_CXX_COMPILER_LAUNCHER:-$(command -v ccache || true)}"
  log "building release binaries of the working tree ($COMMIT)"
  cmake --preset release >/dev/null
  cmake --build --preset release --target user-service post-service migrate microblog-bench
  if [[ ! -d "$BASE_TREE" ]]; then
    git worktree add --detach "$BASE_TREE" "$BASELINE" >/dev/null
  fi
  log "building release binaries of the baseline ($BASE_COMMIT) in $BASE_TREE"
  (cd "$BASE_TREE" && cmake --preset release >/dev/null &&
    cmake --build --preset release --target user-service post-service)
fi
for bin in "$NEW"/{user-service/user-service,post-service/post-service,migrate/migrate,bench/microblog-bench} \
           "$OLD"/{user-service/user-service,post-service/post-service}; do
  [[ -x "$bin" ]] || die "$bin missing (run without --no-build)"
done
BENCH="$NEW/bench/microblog-bench"

# --- PostgreSQL, as bench/run.sh sets it up -------------------------------------
source "$ROOT/bench/lib/postgres.sh"
bench_postgres_start /tmp/mbcascade.XXXXXX
RAW="$WORK/raw.jsonl"

log "databases, schema (the working tree's migrations), $USERS users and $POSTS posts"
psql_su postgres -c "CREATE ROLE user_service LOGIN" -c "CREATE ROLE post_service LOGIN" \
  -c "CREATE DATABASE users" -c "CREATE DATABASE posts"
USER_DATABASE_URL="$(url users postgres)" POST_DATABASE_URL="$(url posts postgres)" \
  "$NEW/migrate/migrate" up --target all --migrations-dir "$ROOT/migrations" >"$WORK/migrate.log" 2>&1 \
  || { cat "$WORK/migrate.log" >&2; die "migrate failed"; }
"$BENCH" seed-sql --table=users --users="$USERS" | psql_su users
"$BENCH" seed-sql --table=posts --users="$USERS" --posts="$POSTS" | psql_su posts
for db in users posts; do psql_su "$db" -c "VACUUM ANALYZE"; done

# --- Services -------------------------------------------------------------------
USER_PID="" POST_PID=""
USER_BIN="$NEW/user-service/user-service"
# shellcheck source=bench/lib/tokens.sh
source "$ROOT/bench/lib/tokens.sh"
bench_token_keys
start_services() { # BUILD_DIR
  env "${DEPLOY_ENV[@]}" "${TOKEN_ENV[@]}" LISTEN_ADDRESS="127.0.0.1:$USER_PORT" \
    USER_DATABASE_URL="$(url users user_service)" "$1/user-service/user-service" \
    >>"$WORK/user-service.log" 2>&1 &
  USER_PID=$!; PIDS+=("$USER_PID")
  env "${DEPLOY_ENV[@]}" "${TOKEN_ENV[@]}" LISTEN_ADDRESS="127.0.0.1:$POST_PORT" \
    POST_DATABASE_URL="$(url posts post_service)" USER_SERVICE_ADDR="127.0.0.1:$USER_PORT" \
    "$1/post-service/post-service" >>"$WORK/post-service.log" 2>&1 &
  POST_PID=$!; PIDS+=("$POST_PID")
  "$BENCH" wait-serving --address="127.0.0.1:$USER_PORT" --timeout=60s || die "user-service not serving"
  "$BENCH" wait-serving --address="127.0.0.1:$POST_PORT" --timeout=60s || die "post-service not serving"
}
stop_services() {
  kill -TERM "$USER_PID" "$POST_PID" 2>/dev/null || true
  wait "$USER_PID" "$POST_PID" 2>/dev/null || true
}
# Adds "KEY": VALUE (JSON) to the last line of $RAW.
tag_last() {
  python3 - "$RAW" "$@" <<'PY'
import json, sys
path = sys.argv[1]
lines = open(path).read().splitlines()
row = json.loads(lines[-1])
for pair in sys.argv[2:]:
    k, v = pair.split("=", 1); row[k] = json.loads(v)
lines[-1] = json.dumps(row)
open(path, "w").write("\n".join(lines) + "\n")
PY
}

# --- 1. CreatePost A/B ------------------------------------------------------------
START_LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"
for pair in $(seq 1 "$PAIRS"); do
  for version in baseline new; do
    dir="$NEW"; commit="$COMMIT"
    [[ "$version" == baseline ]] && { dir="$OLD"; commit="$BASE_COMMIT"; }
    start_services "$dir"
    for n in 16 64; do
      log "pair $pair, $version ($commit): CreatePost at $n in flight"
      "$BENCH" run --scenario=CreatePost --post_address="127.0.0.1:$POST_PORT" \
        --in_flight="$n" --channels=4 --warmup="${WARMUP}s" --duration="${DURATION}s" \
        --users="$USERS" --posts="$POSTS" --json_out="$RAW" \
        --token_signing_key="$BENCH_SIGNING_KEY" >/dev/null
      tag_last "version=\"$version\"" "commit=\"$commit\"" "pair=$pair"
    done
    stop_services
  done
done

# --- 2. Deletion latency -----------------------------------------------------------
start_services "$NEW"
log "deletion latency, idle services: $TRIALS trials"
"$BENCH" deletion-latency --user_address="127.0.0.1:$USER_PORT" \
  --post_address="127.0.0.1:$POST_PORT" --trials="$TRIALS" --seed=1 --label=idle --json_out="$RAW" \
  --token_signing_key="$BENCH_SIGNING_KEY"
log "deletion latency under a mix load at 16 in flight: $TRIALS trials"
"$BENCH" run --scenario=mix --user_address="127.0.0.1:$USER_PORT" \
  --post_address="127.0.0.1:$POST_PORT" --in_flight=16 --channels=4 --warmup=0s \
  --duration=600s --users="$USERS" --posts="$POSTS" --token_signing_key="$BENCH_SIGNING_KEY" \
  >"$WORK/background-mix.txt" 2>&1 &
MIX_PID=$!; PIDS+=("$MIX_PID")
sleep 3
"$BENCH" deletion-latency --user_address="127.0.0.1:$USER_PORT" \
  --post_address="127.0.0.1:$POST_PORT" --trials="$TRIALS" --seed=2 --label=under_mix_16 \
  --json_out="$RAW" --token_signing_key="$BENCH_SIGNING_KEY"
kill "$MIX_PID" 2>/dev/null || true
wait "$MIX_PID" 2>/dev/null || true
stop_services
END_LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"
grep -c '"level":"error"' "$WORK/post-service.log" "$WORK/user-service.log" || true

# --- Report ------------------------------------------------------------------------
OUT="$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)-$COMMIT-cascade"
cp "$RAW" "$OUT.jsonl"
python3 - "$RAW" "$OUT.md" <<EOF
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out = open(sys.argv[2], "w")
p = lambda *a: print(*a, file=out)
p("# DeleteUser cascade: CreatePost A/B and deletion latency")
p()
p("Commit $COMMIT (baseline $BASE_COMMIT), $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores,")
p("$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo); load $START_LOAD -> $END_LOAD.")
p("Services at deploy/k8s/base's settings (${DEPLOY_ENV[*]}); PostgreSQL 15 with fsync=on,")
p("synchronous_commit=on, shared_buffers=256MB over its Unix socket; $USERS users, $POSTS posts.")
p("Command: \`bench/cascade.sh\` (BENCH_PAIRS=$PAIRS, BENCH_DURATION=$DURATION, BENCH_TRIALS=$TRIALS).")
p()
p("## CreatePost, baseline vs this commit (alternated on the same databases)")
p()
p("| in flight | pair | baseline calls/s | new calls/s | baseline p99 ms | new p99 ms |")
p("|---:|---:|---:|---:|---:|---:|")
cp = [r for r in rows if r.get("scenario") == "CreatePost"]
def get(r, *keys):
    for k in keys:
        if k in r: return r[k]
    return None
for n in (16, 64):
    for pair in range(1, $PAIRS + 1):
        b = [r for r in cp if r["in_flight"] == n and r["pair"] == pair and r["version"] == "baseline"][0]
        w = [r for r in cp if r["in_flight"] == n and r["pair"] == pair and r["version"] == "new"][0]
        p(f"| {n} | {pair} | {b['calls_per_second']:.0f} | {w['calls_per_second']:.0f} | "
          f"{b['latency_ms']['p99']:.2f} | {w['latency_ms']['p99']:.2f} |")
    bs = [r["calls_per_second"] for r in cp if r["in_flight"] == n and r["version"] == "baseline"]
    ws = [r["calls_per_second"] for r in cp if r["in_flight"] == n and r["version"] == "new"]
    p(f"| {n} | mean | {statistics.mean(bs):.0f} | {statistics.mean(ws):.0f} | "
      f"new/baseline = {statistics.mean(ws) / statistics.mean(bs):.3f} | |")
p()
p("## Deletion latency: DeleteUser OK -> posts gone from GetPost, ListPosts(user), ListPosts(all)")
p()
p("| load | trials | p50 ms | p99 ms | max ms |")
p("|---|---:|---:|---:|---:|")
for r in rows:
    if r.get("scenario") == "DeletionCascade":
        p(f"| {r['label']} | {r['trials']} | {r['p50_us'] / 1000:.1f} | {r['p99_us'] / 1000:.1f} | "
          f"{r['max_us'] / 1000:.1f} |")
p()
p("Every sample is in the .jsonl next to this file (latencies_us).")
EOF
cat "$OUT.md"
log "wrote $OUT.md and $OUT.jsonl"
