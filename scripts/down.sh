#!/usr/bin/env bash
# Stops the local stack that scripts/up.sh started: post-service,
# user-service (SIGTERM, so they drain), then PostgreSQL (scripts/pg.sh stop).
# The data stays for the next scripts/up.sh; --clean deletes it.
#
# Usage: scripts/down.sh [--clean]
set -euo pipefail

# shellcheck source=lib/stack.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/stack.sh"

case "${1:-}" in
  "") pg_command=stop ;;
  --clean) pg_command=clean ;;
  *)
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
    exit 2
    ;;
esac

stop_service post-service
stop_service user-service
"$ROOT/scripts/pg.sh" "$pg_command"
