#!/usr/bin/env bash
# Runs every check and test of the project (README command #2; .ci/run calls
# exactly this):
#   1. scripts/install-deps.sh (Debian packages, npm tools into .local/);
#   2. the layers (scripts/tools/check_layers.py, after its self-test):
#      includes run one way through common/'s libraries (base < exec <
#      {db, rpc} < service), and the logic layer (user_accounts.h,
#      posts.h) compiles without gRPC and libpqxx headers;
#   3. buf lint, buf format --diff --exit-code and buf breaking (against
#      proto/RELEASED, from git history) in proto/; every C++
#      file as .clang-format (Google style, 100 columns) has it
#      (clang-format-14 --dry-run -Werror; scripts/tools/format.sh fixes);
#   4. docs: every relative link and #anchor of the repository's *.md
#      files resolves (scripts/tools/check_links.py, after its self-test);
#   5. self-test of tests/grpcurl/grpcurl.py (the grpcurl-like client);
#   6. configure + build the `dev` CMake preset (Debug, ASan/UBSan,
#      warnings are errors) in build/dev; meanwhile, in the background,
#      `deploy/images.sh prefetch` makes the base image and downloads the
#      container images' packages (network and disk, not CPU), so that the
#      `images.build` test of step 8 only compiles;
#   7. scripts/tools/check_thread_safety.py: clang-14's thread-safety
#      analysis (-Wthread-safety -Werror, syntax only) over every source of
#      common/, user-service/, post-service/, migrate/ and bench/, with the
#      dev build's compile commands: each guarded member is touched only
#      under its ABSL_GUARDED_BY mutex (about two minutes of CPU);
#   8. ctest --preset dev (output on failure, 2 jobs);
#   9. configure + build the `fuzz` CMake preset (clang-14 libFuzzer targets
#      of tests/fuzz/ only) in build/fuzz;
#  10. ctest --preset fuzz -L fuzz: each fuzz target for a bounded number of
#      runs over its committed corpus (seconds each).
# The fuzz steps come last: the dev build and its tests are the main gate
# and report first; the fuzzers need their own clang build, and a crash they
# find is reported with the input that caused it.
# Stops at the first failing step and says which one. Works from any
# directory, as root or not, without a terminal or stdin (CI=true).
#
# Usage: scripts/test.sh [extra arguments of the dev ctest, e.g. -R migrate]
#        scripts/test.sh -LE images     (quick local run: no container images)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
exec </dev/null

# Debian's python3 (with python3-grpcio); a virtualenv's python3 first on
# PATH would not see it.
PYTHON=/usr/bin/python3
BUF="$ROOT/.local/node_modules/.bin/buf"
LOG_DIR="$ROOT/.local/test-logs"

declare -a STEP_NAMES=() STEP_RESULTS=()
CURRENT_STEP=""
PASSED=0
FAILED=0

banner() { printf '\n==> %s\n' "$*"; }

summary() {
  local rc=$? i
  if [[ -n "$CURRENT_STEP" ]]; then
    STEP_NAMES+=("$CURRENT_STEP")
    STEP_RESULTS+=("FAILED (exit $rc)")
  fi
  printf '\n==> Summary\n'
  for i in "${!STEP_NAMES[@]}"; do
    printf '  %-40s %s\n' "${STEP_NAMES[$i]}" "${STEP_RESULTS[$i]}"
  done
  if ((rc == 0)); then
    printf 'scripts/test.sh: all steps passed\n'
  else
    printf 'scripts/test.sh: FAILED at step "%s"\n' "${CURRENT_STEP:-?}"
  fi
  stop_images_prefetch
  # The plain closing line: tests counted over the grpcurl self-test and ctest.
  printf 'tests: %d passed, %d failed\n' "$PASSED" "$FAILED"
  exit "$rc"
}
trap summary EXIT

# step NAME COMMAND...: runs one step; a failure ends the script (set -e) and
# the EXIT trap reports NAME as the failed step.
step() {
  local name="$1"
  shift
  banner "$name"
  CURRENT_STEP="$name"
  "$@"
  STEP_NAMES+=("$name")
  STEP_RESULTS+=("ok")
  CURRENT_STEP=""
}

# Sanitizer settings for the dev build's binaries (and the children they
# start, which inherit the environment). A caller's own settings win.
# LeakSanitizer needs ptrace-like access to the process; some sandboxes deny
# it, and then every test would die at exit. Probe with a program that leaks
# on purpose: enable leak detection only if LeakSanitizer reports that leak.
configure_sanitizers() {
  local probe_dir detect_leaks=0
  probe_dir="$(mktemp -d)"
  printf '#include <cstdlib>\nvoid* volatile sink;\nint main() { sink = std::malloc(64); sink = nullptr; return 0; }\n' \
    >"$probe_dir/leak.cc"
  if c++ -fsanitize=address -g "$probe_dir/leak.cc" -o "$probe_dir/leak" 2>"$probe_dir/cc.log"; then
    local out rc=0
    out="$(ASAN_OPTIONS=detect_leaks=1:exitcode=23 "$probe_dir/leak" 2>&1)" || rc=$?
    if ((rc == 23)) && grep -q 'LeakSanitizer: detected memory leaks' <<<"$out"; then
      detect_leaks=1
    fi
  fi
  rm -rf "$probe_dir"
  echo "LeakSanitizer usable here: $((detect_leaks ? 1 : 0))"
  export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=0:print_stacktrace=1:detect_leaks=$detect_leaks:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
  export LSAN_OPTIONS="${LSAN_OPTIONS:-print_suppressions=0:suppressions=$ROOT/scripts/lsan.supp}"
  echo "ASAN_OPTIONS=$ASAN_OPTIONS"
  echo "UBSAN_OPTIONS=$UBSAN_OPTIONS"
  echo "LSAN_OPTIONS=$LSAN_OPTIONS"
}

# deploy/images.sh prefetch in the background, in its own process group (so
# that stopping it stops its podman too); not with `-LE images`. Its output
# goes to .local/test-logs/images-prefetch.log. Not a gate: if it fails,
# images.build does the same work again and reports the failure.
PREFETCH_PID=""
start_images_prefetch() {
  if [[ " $* " == *" -LE images "* ]]; then
    echo "image tests excluded (-LE images): no prefetch"
    return 0
  fi
  mkdir -p "$LOG_DIR"
  setsid "$ROOT/deploy/images.sh" prefetch >"$LOG_DIR/images-prefetch.log" 2>&1 &
  PREFETCH_PID=$!
  echo "deploy/images.sh prefetch running (pid $PREFETCH_PID, log $LOG_DIR/images-prefetch.log)"
}

# Waits for the prefetch (images.build would wait on its lock anyway).
wait_images_prefetch() {
  [[ -n "$PREFETCH_PID" ]] || return 0
  local rc=0
  wait "$PREFETCH_PID" || rc=$?
  PREFETCH_PID=""
  echo "deploy/images.sh prefetch ended with exit $rc; its log:"
  tail -n 5 "$LOG_DIR/images-prefetch.log" || true
}

stop_images_prefetch() {
  [[ -n "$PREFETCH_PID" ]] || return 0
  kill -- "-$PREFETCH_PID" 2>/dev/null || true
  PREFETCH_PID=""
}

layers() {
  "$PYTHON" "$ROOT/scripts/tools/check_layers_test.py" -q
  "$PYTHON" "$ROOT/scripts/tools/check_layers.py"
}

buf_lint() {
  (cd proto && "$BUF" lint)
}

buf_format() {
  (cd proto && "$BUF" format --diff --exit-code)
}

# Against proto/ at the last released commit (proto/RELEASED), from git
# history: a field renumbered, removed or retyped fails.
buf_breaking() {
  local released
  released="$(grep -v '^#' proto/RELEASED | head -n 1)"
  (cd proto && "$BUF" breaking --against "$ROOT/.git#ref=$released,subdir=proto")
}

# The link check's self-test (its summary only), then the check itself
# over every *.md file of the repository.
docs_links() {
  "$PYTHON" "$ROOT/scripts/tools/check_links_test.py" -q
  "$PYTHON" "$ROOT/scripts/tools/check_links.py"
}

# Counts unittest's "Ran N tests" / "FAILED (failures=F, errors=E)" lines.
grpcurl_selftest() {
  local out rc=0 ran bad n
  mkdir -p "$LOG_DIR"
  "$PYTHON" "$ROOT/tests/grpcurl/grpcurl_test.py" -v >"$LOG_DIR/grpcurl_test.log" 2>&1 || rc=$?
  cat "$LOG_DIR/grpcurl_test.log"
  out="$(cat "$LOG_DIR/grpcurl_test.log")"
  ran="$(sed -n 's/^Ran \([0-9]*\) tests\{0,1\}.*/\1/p' <<<"$out" | tail -1)"
  ran="${ran:-0}"
  bad=0
  while read -r n; do
    bad=$((bad + n))
  done < <(grep -o -E '(failures|errors)=[0-9]+' <<<"$out" | cut -d= -f2)
  if ((rc != 0 && bad == 0)); then bad=1; fi
  PASSED=$((PASSED + ran - bad))
  FAILED=$((FAILED + bad))
  ((ran > 0)) || { echo "grpcurl self-test ran no test"; return 1; }
  return "$rc"
}

# Every tracked *.cc and *.h as .clang-format has it (scripts/tools/format.sh
# rewrites them so).
cpp_format() {
  "$ROOT/scripts/tools/format.sh" --check
}

configure_dev() {
  cmake --preset dev
}

build_dev() {
  cmake --build --preset dev
}

# clang's -Wthread-safety over our sources, with build/dev's compile commands
# (its generated protos included); GCC ignores the annotations.
thread_safety() {
  "$PYTHON" "$ROOT/scripts/tools/check_thread_safety.py" "$ROOT/build/dev" -j2
}

configure_fuzz() {
  cmake --preset fuzz
}

build_fuzz() {
  cmake --build --preset fuzz
}

# run_ctest PRESET [ctest arguments]: ctest's own closing line "NN% tests
# passed, F tests failed out of N" is folded into the summary's totals.
run_ctest() {
  local preset="$1" rc=0 line total failed log
  shift
  mkdir -p "$LOG_DIR"
  log="$LOG_DIR/ctest-$preset.log"
  ctest --preset "$preset" -j2 --no-tests=error --timeout 900 "$@" 2>&1 | tee "$log" || rc=$?
  line="$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1 || true)"
  if [[ -n "$line" ]]; then
    failed="$(sed -E 's/.* ([0-9]+) tests? failed out of.*/\1/' <<<"$line")"
    total="$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")"
    PASSED=$((PASSED + total - failed))
    FAILED=$((FAILED + failed))
  elif ((rc != 0)); then
    FAILED=$((FAILED + 1))
  fi
  return "$rc"
}

step "install dependencies" "$ROOT/scripts/install-deps.sh"
step "sanitizer options" configure_sanitizers
step "container images: prefetch packages (background)" start_images_prefetch "$@"
step "layers: includes run one way, logic apart" layers
step "buf lint (proto/)" buf_lint
step "buf format --diff --exit-code (proto/)" buf_format
step "buf breaking against the last release (proto/RELEASED)" buf_breaking
step "format: clang-format-14 --dry-run -Werror (C++)" cpp_format
step "docs: relative links resolve" docs_links
step "grpcurl.py self-test" grpcurl_selftest
step "configure (cmake --preset dev)" configure_dev
step "build (cmake --build --preset dev)" build_dev
step "thread safety: clang -Wthread-safety" thread_safety
step "container images: wait for the prefetch" wait_images_prefetch
step "ctest --preset dev" run_ctest dev "$@"
step "configure (cmake --preset fuzz)" configure_fuzz
step "build (cmake --build --preset fuzz)" build_fuzz
step "ctest --preset fuzz -L fuzz" run_ctest fuzz -L fuzz
