#!/usr/bin/env bash
# Log lines under sustained overload (bench/log_flood.c): EVENTS (default 300000) tracks into a
# 1000-slot queue, retrying on HM_ERR_QUEUE_FULL; prints the producer's figures and how many
# warning lines the default logger wrote to standard error. Needs `make lib devserver`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
mkdir -p build
${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -Iinclude bench/log_flood.c -Lbuild/lib -lhimetrica \
  -Wl,-rpath,"$root/build/lib" -o build/log_flood
err="$(mktemp)"
trap 'rm -f "$err"' EXIT
scripts/with-devserver.sh --no-limits -- build/log_flood "${1:-300000}" 2>"$err"
echo "log_flood_queue_full_lines $(grep -c 'queue full' "$err" || true) lines"
echo "log_flood_warning_lines $(grep -c '^himetrica warning' "$err" || true) lines"
