#!/usr/bin/env bash
# Formats every C++ file git tracks with clang-format-14 and the repository's
# .clang-format (Google style, 100 columns, include blocks regrouped).
# scripts/test.sh runs the same files through `--dry-run -Werror`: after this
# script that check passes.
#
# Usage: scripts/tools/format.sh          (rewrites the files in place)
#        scripts/tools/format.sh --check  (changes nothing; lists what differs,
#                                          exit 1 when anything does)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
FORMAT="${CLANG_FORMAT:-clang-format-14}"
mapfile -t files < <(git ls-files -- '*.cc' '*.h')
if [[ "${1:-}" == "--check" ]]; then
  exec "$FORMAT" --dry-run -Werror --ferror-limit=3 "${files[@]}"
fi
exec "$FORMAT" -i "${files[@]}"
