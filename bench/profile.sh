#!/usr/bin/env bash
# Where the CPU of one call goes, per call in microseconds: runs the stack
# as bench/run.sh --serve sets it up (deploy/k8s/base's configuration), loads
# it with microblog-bench (one scenario, 64 calls in flight by default) and
# samples every CPU with `perf record` meanwhile, then splits the samples by
# process (load generator, user-service, post-service, PostgreSQL, other)
# and, inside the services, by what the call stack was doing: logging,
# metrics, PostgreSQL's client library, gRPC and protobuf, the kernel
# (network and scheduling), our code. Writes a Markdown table to
# bench/results/<time>-<commit>-profile-<label>.md and prints it.
#
# Usage: bench/profile.sh [--no-build] [--label=NAME] [VAR=value ...]
#   VAR=value   overrides of the deployed configuration for both services,
#               e.g. ACCESS_LOG_SAMPLE_EVERY=1 METRICS_ADDRESS= for the
#               configuration before issue 12 (every call logged, no metrics)
# Environment: PROFILE_SCENARIO [GetUser]  PROFILE_IN_FLIGHT [64]
#   PROFILE_SECONDS [8] sampled  PROFILE_FREQUENCY [199] samples/s per CPU
#
# Needs perf (Debian's linux-perf) and what bench/run.sh needs; root (perf
# record -a).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BUILD_FLAG="" LABEL="deployed" OVERRIDES=()
for arg in "$@"; do
  case "$arg" in
    --no-build) BUILD_FLAG="--no-build" ;;
    --label=*) LABEL="${arg#--label=}" ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *=*) OVERRIDES+=("$arg") ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done
SCENARIO="${PROFILE_SCENARIO:-GetUser}"
IN_FLIGHT="${PROFILE_IN_FLIGHT:-64}"
SECONDS_SAMPLED="${PROFILE_SECONDS:-8}"
FREQUENCY="${PROFILE_FREQUENCY:-199}"
USER_PORT=50171 POST_PORT=50172
command -v perf >/dev/null || { echo "perf not found (apt-get install linux-perf)" >&2; exit 1; }

TMP="$(mktemp -d /tmp/mbprofile.XXXXXX)"
serve_cleanup() { rm -rf "$TMP"; }

# The stack, as bench/run.sh --serve sets it up, with the overrides.
source "$ROOT/bench/lib/serve.sh"
BENCH_USER_PORT=$USER_PORT BENCH_POST_PORT=$POST_PORT BENCH_USER_METRICS_PORT=50173 \
  BENCH_POST_METRICS_PORT=50174 BENCH_SERVICE_OVERRIDES="${OVERRIDES[*]:-}" \
  serve_stack_start $BUILD_FLAG
USER_PID="$SERVE_USER_PID" POST_PID="$SERVE_POST_PID"
CONFIG="$(sed -n 's/.*starting services as deploy\/k8s\/base configures them: //p' "$SERVE_LOG" | tail -1)"

BENCH="$ROOT/build/release/bench/microblog-bench"
RUN_SECONDS=$((SECONDS_SAMPLED + 6))
"$BENCH" run --scenario="$SCENARIO" --user_address="127.0.0.1:$USER_PORT" \
  --post_address="127.0.0.1:$POST_PORT" --in_flight="$IN_FLIGHT" --channels=4 \
  --warmup=3s --duration="${RUN_SECONDS}s" --token_signing_key="$ROOT/.local/bench-keys/signing.pem" \
  --json_out="$TMP/run.jsonl" >"$TMP/run.txt" &
GEN_PID=$!
sleep 5
perf record -a -F "$FREQUENCY" --call-graph dwarf,16384 -o "$TMP/perf.data" \
  -- sleep "$SECONDS_SAMPLED" 2>"$TMP/perf-record.log"
wait "$GEN_PID"
perf script -i "$TMP/perf.data" -F pid,tid,comm,ip,sym,dso 2>/dev/null >"$TMP/perf.txt"

COMMIT="$(git rev-parse --short HEAD)"
git diff --quiet HEAD -- || COMMIT="$COMMIT-dirty"
OUT="$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)-$COMMIT-profile-$LABEL.md"
python3 - "$TMP/perf.txt" "$TMP/run.jsonl" "$USER_PID" "$POST_PID" "$GEN_PID" "$FREQUENCY" \
  "$SECONDS_SAMPLED" "$SCENARIO" "$IN_FLIGHT" "$COMMIT" "$LABEL" "$CONFIG ${OVERRIDES[*]:-}" \
  >"$OUT" <<'PY'
import collections, json, re, sys
(perf_txt, run_jsonl, user_pid, post_pid, gen_pid, freq, seconds, scenario, in_flight, commit,
 label, config) = sys.argv[1:]
freq, seconds = float(freq), float(seconds)
run = json.loads(open(run_jsonl).read().splitlines()[-1])
calls_per_s = run["calls_per_second"]
calls = calls_per_s * seconds

# One sample: a header line "comm pid/tid" then its frames "ip sym (dso)".
samples = []
current = None
for line in open(perf_txt, errors="replace"):
    if not line.strip():
        current = None
        continue
    if not line.startswith((" ", "\t")):
        m = re.match(r"\s*(.*?)\s+(\d+)/(\d+)", line)
        if m:
            current = {"comm": m.group(1), "pid": m.group(2), "frames": []}
            samples.append(current)
        continue
    if current is not None:
        m = re.match(r"\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$", line)
        if m:
            current["frames"].append((m.group(1), m.group(2)))

def process(sample):
    pid = sample["pid"]
    if pid == user_pid: return "user-service"
    if pid == post_pid: return "post-service"
    if pid == gen_pid: return "load generator"
    if sample["comm"].startswith("postgres"): return "PostgreSQL"
    if pid == "0": return "idle"
    return "other"

def activity(frames):
    """What a service's sample was doing, from its whole call stack."""
    syms = " ".join(s for s, _ in frames)
    dsos = [d for _, d in frames]
    if re.search(r"microblog::Log\b|microblog::Log\(|AppendJsonString|NowRfc3339", syms):
        return "logging"
    if re.search(r"microblog::(Histogram|Counter|Gauge|Registry|RpcMetrics|MetricsServer|Family)|mg_|civetweb", syms):
        return "metrics"
    if any("libpq" in d for d in dsos):
        return "PostgreSQL client (libpq, libpqxx)"
    leaf = dsos[0] if dsos else "?"
    if "kernel" in leaf or leaf.startswith("["): return "kernel (network, scheduling, futex)"
    if re.search(r"libgrpc|libgpr|libaddress_sorting|libupb|libre2|libcares|libssl|libcrypto", leaf):
        return "gRPC transport"
    if "libprotobuf" in leaf: return "protobuf"
    if re.search(r"libc\.so|libstdc|libm\.so|ld-linux|libabsl", leaf):
        return "libc, libstdc++, Abseil"
    return "our code"

by_process = collections.Counter()
by_activity = collections.defaultdict(collections.Counter)
for sample in samples:
    p = process(sample)
    by_process[p] += 1
    if p in ("user-service", "post-service"):
        by_activity[p][activity(sample["frames"])] += 1

def us_per_call(n):
    return n / freq / calls * 1e6

print(f"# Profile: {scenario}, {in_flight} in flight ({label})\n")
print(f"Commit `{commit}`; `perf record -a -F {int(freq)} --call-graph dwarf` over {seconds:g} s "
      f"of a {scenario} run at {in_flight} calls in flight: {calls_per_s:,.1f} calls/s, "
      f"p99 {run['latency_ms']['p99']:.2f} ms. Services configured as deploy/k8s/base: `{config}`.\n")
print("CPU time per call, by process (µs; 2 cores = 2 s of CPU per second):\n")
print("| process | µs per call | share of busy CPU |")
print("|---|---:|---:|")
busy = sum(n for p, n in by_process.items() if p != "idle")
for p, n in sorted(by_process.items(), key=lambda kv: -kv[1]):
    if p == "idle": continue
    print(f"| {p} | {us_per_call(n):.1f} | {100 * n / busy:.1f} % |")
print(f"| idle | {us_per_call(by_process['idle']):.1f} | |")
for p in ("user-service", "post-service"):
    if not by_activity[p]: continue
    total = sum(by_activity[p].values())
    print(f"\n{p}, by what its call stacks were doing (µs per call):\n")
    print("| activity | µs per call | share |")
    print("|---|---:|---:|")
    for a, n in sorted(by_activity[p].items(), key=lambda kv: -kv[1]):
        print(f"| {a} | {us_per_call(n):.1f} | {100 * n / total:.1f} % |")
PY
cat "$OUT"
echo "written: $OUT" >&2
