#!/usr/bin/env bash
# Do reads stay fast while logins saturate the password-hashing pool?
# (issue #6). Starts the benchmark stack with `bench/run.sh --serve`, then
# runs GetUser alone, and GetUser again while a second load generator keeps
# 64 VerifyPassword calls in flight (every hashing thread busy, a queue
# behind them). Writes both reports to bench/results/logins-vs-reads-*.md.
#
# Usage: bench/logins_vs_reads.sh [--no-build]
# Environment: BENCH_DURATION [10] seconds per measurement, BENCH_READ_IN_FLIGHT [16].
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DURATION="${BENCH_DURATION:-10}"
READS="${BENCH_READ_IN_FLIGHT:-16}"
USER_PORT="${BENCH_USER_PORT:-50161}"
POST_PORT="${BENCH_POST_PORT:-50162}"
BENCH="$ROOT/build/release/bench/microblog-bench"

log() { printf '[logins-vs-reads %s] %s\n' "$(date +%T)" "$*" >&2; }

log "waiting for the stack (bench/run.sh --serve)"
source "$ROOT/bench/lib/serve.sh"
serve_stack_start "$@"

run() { # SCENARIO IN_FLIGHT [SECONDS]
  "$BENCH" run --scenario="$1" --in_flight="$2" --user_address="127.0.0.1:$USER_PORT" \
    --post_address="127.0.0.1:$POST_PORT" --warmup=2s --duration="${3:-$DURATION}s" \
    --token_signing_key="$ROOT/.local/bench-keys/signing.pem"
}

log "GetUser alone, $READS in flight"
alone="$(run GetUser "$READS")"
log "GetUser while 64 VerifyPassword calls are in flight"
# The flood outlasts the whole GetUser run (3 s head start, 2 s warm-up).
run VerifyPassword 64 "$((DURATION + 6))" >"$SERVE_LOG.logins" &
LOGINS=$!
sleep 3  # the hashing pool is full and a queue has formed
during="$(run GetUser "$READS")"
wait "$LOGINS"
logins="$(cat "$SERVE_LOG.logins")"
rm -f "$SERVE_LOG.logins"

mkdir -p bench/results
out="bench/results/logins-vs-reads-$(date -u +%Y%m%dT%H%M%SZ)-$(git rev-parse --short HEAD).md"
{
  echo "# GetUser with and without a login flood"
  echo
  echo "$(date -u +%FT%TZ), commit $(git rev-parse --short HEAD), nproc $(nproc); command: bench/logins_vs_reads.sh"
  echo
  echo "## GetUser alone ($READS in flight)"; echo '```'; echo "$alone"; echo '```'
  echo "## GetUser during the login flood ($READS in flight)"; echo '```'; echo "$during"; echo '```'
  echo "## The login flood (VerifyPassword, 64 in flight, overlapping the run above)"; echo '```'; echo "$logins"; echo '```'
} >"$out"
log "wrote $out"
cat "$out"
