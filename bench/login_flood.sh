#!/usr/bin/env bash
# Password checks under a flood (issue #21, item 3): does a correct login
# from another client, and do reads, stay fast while one client floods
# VerifyPassword? Starts the stack of `bench/run.sh --serve` at the deployed
# configuration (user-service listening on '[::]' so that a client of [::1]
# is another peer than one of 127.0.0.1), then:
#  1. GetUser alone for the unflooded p99: paced at BENCH_READ_RATE calls/s
#     (open loop, latency from each call's due time: the latency of the
#     service at that load), or with BENCH_READ_RATE=0 a closed loop of 16
#     in flight (latency at saturation, in_flight / throughput);
#  2. one flooding client on 127.0.0.1: 128 VerifyPassword calls in flight,
#     each a fresh unknown login with a wrong password (no throttle answers
#     them: every admitted call costs a hash);
#  3. while it floods, at the same time: GetUser again (the same way), and
#     a correct login from [::1], one call at a time;
#  4. user-service's VmRSS sampled every 0.5 s throughout, and its refusal
#     counters and queue depth from /metrics at the end of the flood.
# Writes bench/results/login-flood-*.md.
#
# Usage: bench/login_flood.sh [--no-build]
# Environment: BENCH_DURATION [20] seconds measured, BENCH_FLOOD_IN_FLIGHT [128],
# BENCH_READ_IN_FLIGHT [16; paced: 32, at most], BENCH_READ_RATE [2000] GetUser
# calls/s (0: closed loop), BENCH_FLOOD_HONORS_RETRY_INFO [0]: 1 makes each
# flood caller wait the RetryInfo delay of a refusal (a client that follows
# the contract), 0 retries at once (a hostile one).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DURATION="${BENCH_DURATION:-20}"
FLOOD="${BENCH_FLOOD_IN_FLIGHT:-128}"
READ_RATE="${BENCH_READ_RATE:-2000}"
if [[ "$READ_RATE" == 0 ]]; then
  READS="${BENCH_READ_IN_FLIGHT:-16}"
  read_flags=()
  reads_label="$READS in flight"
else
  READS="${BENCH_READ_IN_FLIGHT:-32}"
  read_flags=(--rate="$READ_RATE")
  reads_label="paced at $READ_RATE calls/s, at most $READS in flight"
fi
USER_PORT="${BENCH_USER_PORT:-50161}"
POST_PORT="${BENCH_POST_PORT:-50162}"
USER_METRICS_PORT="${BENCH_USER_METRICS_PORT:-50163}"
BENCH="$ROOT/build/release/bench/microblog-bench"

log() { printf '[login-flood %s] %s\n' "$(date +%T)" "$*" >&2; }

log "waiting for the stack (bench/run.sh --serve)"
export BENCH_USER_LISTEN_HOST='[::]'
source "$ROOT/bench/lib/serve.sh"
serve_stack_start "$@"

run() { # ADDRESS SCENARIO IN_FLIGHT CHANNELS SECONDS [flags...]
  local address="$1" scenario="$2" n="$3" channels="$4" seconds="$5"
  shift 5
  "$BENCH" run --scenario="$scenario" --in_flight="$n" --channels="$channels" \
    --user_address="$address" --post_address="127.0.0.1:$POST_PORT" \
    --warmup=2s --duration="${seconds}s" --token_signing_key="$ROOT/.local/bench-keys/signing.pem" "$@"
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$SERVE_USER_PID/status"; }

idle_rss="$(rss_kib)"
log "GetUser alone, $reads_label"
alone="$(run "127.0.0.1:$USER_PORT" GetUser "$READS" 4 "$DURATION" "${read_flags[@]}")"

log "flood: $FLOOD wrong-password VerifyPassword calls in flight from 127.0.0.1"
tmp="$(mktemp -d)"
# The flood outlasts the measurements (4 s head start, 2 s warm-up).
flood_flags=(--verify_wrong_password)
if [[ "${BENCH_FLOOD_HONORS_RETRY_INFO:-0}" == 1 ]]; then flood_flags+=(--honor_retry_info); fi
run "127.0.0.1:$USER_PORT" VerifyPassword "$FLOOD" 4 "$((DURATION + 8))" \
  "${flood_flags[@]}" >"$tmp/flood" &
flood_pid=$!
( while kill -0 "$flood_pid" 2>/dev/null; do rss_kib; sleep 0.5; done ) >"$tmp/rss" &
sleep 4  # the hashing queue is full
log "during the flood: GetUser ($reads_label) and a correct login from [::1]"
run "127.0.0.1:$USER_PORT" GetUser "$READS" 4 "$DURATION" "${read_flags[@]}" >"$tmp/reads" &
reads_pid=$!
run "[::1]:$USER_PORT" VerifyPassword 1 1 "$DURATION" >"$tmp/login"
wait "$reads_pid"
metrics="$(curl -s "http://127.0.0.1:$USER_METRICS_PORT/metrics" |
  grep -E '^microblog_password_(checks_refused_total|hash_queue_depth)' || true)"
wait "$flood_pid"
max_rss="$(sort -n "$tmp/rss" | tail -1)"

mkdir -p bench/results
out="bench/results/login-flood-$(date -u +%Y%m%dT%H%M%SZ)-$(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo -dirty).md"
{
  echo "# Password checks under a flood (issue #21)"
  echo
  echo "$(date -u +%FT%TZ), commit $(git rev-parse --short HEAD), nproc $(nproc), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; command: bench/login_flood.sh"
  echo "Deployed configuration (bench/run.sh --serve), user-service on [::]:$USER_PORT."
  echo
  echo "## GetUser alone ($reads_label)"; echo '```'; echo "$alone"; echo '```'
  echo "## GetUser during the flood ($reads_label)"; echo '```'; cat "$tmp/reads"; echo '```'
  echo "## Correct login from another client ([::1], 1 in flight) during the flood"; echo '```'; cat "$tmp/login"; echo '```'
  echo "## The flood (127.0.0.1, $FLOOD in flight, wrong password, fresh unknown logins)"; echo '```'; cat "$tmp/flood"; echo '```'
  echo "## user-service memory and counters"
  echo '```'
  echo "VmRSS idle before: $idle_rss kB; largest VmRSS sampled during the flood: $max_rss kB"
  echo "/metrics near the end of the flood:"
  echo "$metrics"
  echo '```'
} >"$out"
rm -rf "$tmp"
log "wrote $out"
cat "$out"
