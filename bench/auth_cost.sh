#!/usr/bin/env bash
# Issue #23: what authentication costs at the deployed configuration. A/B in
# alternated rounds (bench/lib/serve.sh stacks): BENCH_TRANSPORT=mtls with a
# token on every call (the deployed transport, a logged-in client) against
# plaintext with tokens only where needed; GetPost, ListPosts, CreatePost at
# 64 in flight. Usage: bench/auth_cost.sh [OUT_PREFIX]  (needs build/release).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"; cd "$ROOT"
BENCH="$ROOT/build/release/bench/microblog-bench"
DEV="$ROOT/deploy/k8s/overlays/dev/tls/post-service"
OUT="${1:-$ROOT/bench/results/auth-cost-$(date -u +%Y%m%dT%H%M%SZ)-$(git rev-parse --short HEAD)}"
arm() { # insecure|mtls ROUND
  local transport="$1" round="$2" tls=() tok=()
  if [[ "$transport" == mtls ]]; then
    tls=(--tls_ca="$DEV/ca.crt" --tls_cert="$DEV/tls.crt" --tls_key="$DEV/tls.key"); tok=(--tokens_on_reads)
  fi
  (
    export BENCH_TRANSPORT="$transport"
    # shellcheck source=bench/lib/serve.sh
    source "$ROOT/bench/lib/serve.sh"
    serve_stack_start --no-build
    # CPU seconds (user + system) both services have used so far.
    service_cpu() {
      awk -v hz="$(getconf CLK_TCK)" '{ sum += $14 + $15 } END { printf "%.3f", sum / hz }' \
        "/proc/$SERVE_USER_PID/stat" "/proc/$SERVE_POST_PID/stat"
    }
    for scenario in GetPost ListPosts CreatePost; do
      echo "### $transport round $round $scenario"
      local before after report calls
      before="$(service_cpu)"
      report="$("$BENCH" run "${tls[@]}" "${tok[@]}" --scenario="$scenario" --in_flight=64 \
        --channels=4 --user_address=127.0.0.1:50161 --post_address=127.0.0.1:50162 \
        --warmup=3s --duration=10s --token_signing_key="$ROOT/.local/bench-keys/signing.pem" \
        --json_out="$OUT.jsonl")"
      after="$(service_cpu)"
      echo "$report"
      # Warm-up included on both sides: CPU over the whole run, per call
      # counted in it (the warm-up's calls are not counted: an upper bound).
      calls="$(sed -n 's/.* \([0-9]*\) calls, .*/\1/p' <<<"$report" | head -1)"
      awk -v b="$before" -v a="$after" -v n="$calls" \
        'BEGIN { printf "  services CPU: %.2f s for %d calls = %.1f us/call (warm-up included)\n", a - b, n, (a - b) * 1e6 / n }'
    done
  )
}
for round in 1 2; do
  if ((round % 2)); then arm mtls "$round"; arm insecure "$round"; else arm insecure "$round"; arm mtls "$round"; fi
done
