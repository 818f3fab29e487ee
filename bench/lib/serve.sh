# Sourced by the scripts that measure against the stack of
# `bench/run.sh --serve` (logins_vs_reads.sh, profile.sh): starts it in the
# background, waits until it serves, and stops it when the script exits.
#
#   source "$ROOT/bench/lib/serve.sh"
#   serve_stack_start --no-build     # arguments go to run.sh; env passes through
#   echo "$SERVE_USER_PID"           # user-service's pid (and SERVE_POST_PID)
#
# Defines SERVE_PID, SERVE_LOG, SERVE_USER_PID, SERVE_POST_PID and the EXIT
# trap serve_stack_stop (which runs the caller's `serve_cleanup` too, when
# defined). Needs ROOT.

serve_stack_stop() {
  # TERM, not INT: a background job of a non-interactive shell ignores
  # SIGINT, and the stack would outlive this script (and skew the next
  # benchmark).
  [[ -n "${SERVE_PID:-}" ]] && { kill -TERM "$SERVE_PID" 2>/dev/null || true; }
  [[ -n "${SERVE_PID:-}" ]] && { wait "$SERVE_PID" 2>/dev/null || true; }
  rm -f "${SERVE_LOG:-}"
  if declare -F serve_cleanup >/dev/null; then serve_cleanup; fi
}

serve_stack_start() { # run.sh arguments
  SERVE_LOG="$(mktemp)"
  "$ROOT/bench/run.sh" --serve "$@" >"$SERVE_LOG" 2>&1 &
  SERVE_PID=$!
  trap serve_stack_stop EXIT
  for _ in $(seq 600); do
    grep -q "serving: user-service" "$SERVE_LOG" && break
    kill -0 "$SERVE_PID" 2>/dev/null || { cat "$SERVE_LOG" >&2; exit 1; }
    sleep 1
  done
  grep -q "serving: user-service" "$SERVE_LOG" || { cat "$SERVE_LOG" >&2; exit 1; }
  SERVE_USER_PID="$(sed -n 's/.*user-service 127.0.0.1:[0-9]* (pid \([0-9]*\)).*/\1/p' "$SERVE_LOG" | tail -1)"
  SERVE_POST_PID="$(sed -n 's/.*post-service 127.0.0.1:[0-9]* (pid \([0-9]*\)).*/\1/p' "$SERVE_LOG" | tail -1)"
}
