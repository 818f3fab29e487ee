# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables are for the scripts that source this
# Shared by scripts/up.sh and scripts/down.sh (sourced, not run): where the
# local stack keeps its files and how it starts and stops one service.
#
# Layout under the git-ignored .local/ of the checkout:
#   .local/run/<service>.pid   pid of the running service
#   .local/run/<service>.log   its stdout and stderr (JSON log lines)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN_DIR="$ROOT/.local/run"
RELEASE_DIR="$ROOT/build/release"
USER_SERVICE_PORT="${USER_SERVICE_PORT:-50051}"
POST_SERVICE_PORT="${POST_SERVICE_PORT:-50052}"
# Their Prometheus /metrics, on 127.0.0.1 like the gRPC ports (the binaries'
# default, 0.0.0.0, is what pods need, not a workstation).
USER_SERVICE_METRICS_PORT="${USER_SERVICE_METRICS_PORT:-9464}"
POST_SERVICE_METRICS_PORT="${POST_SERVICE_METRICS_PORT:-9465}"
# Debian's python3 (python3-grpcio); a virtualenv's python3 may be first on PATH.
PYTHON=/usr/bin/python3
GRPCURL_PY="$ROOT/tests/grpcurl/grpcurl.py"

stack_log() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }

# alive PID: the process exists and is not a zombie (an exited child that
# this shell has not reaped yet still answers kill -0).
alive() {
  local state
  state="$(sed -E 's/^.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

# service_pid NAME: prints the pid of the running service NAME, or fails.
service_pid() {
  local pidfile="$RUN_DIR/$1.pid" pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid" || return 1
  # The pid may have been reused by another program since.
  [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == */"$1" ]] || return 1
  printf '%s\n' "$pid"
}

# stop_service NAME: SIGTERM (graceful drain), then SIGKILL after 30 s.
stop_service() {
  local name="$1" pid i
  if pid="$(service_pid "$name")"; then
    stack_log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      stack_log "$name did not stop within 30 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$RUN_DIR/$name.pid"
}
