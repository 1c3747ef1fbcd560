#!/usr/bin/env bash
# Checks that no secret key the test suites use appears in their output.
#
#   scripts/scan-secrets.sh DIR      (DIR: the logs `make test` collects, build/test-logs)
#
# The keys are every hm_sk_ literal in the tests, bindings' tests, scripts and examples (the
# ones the suites pass to clients and dev servers). Allowed: the masked form (hm_sk_…abcd)
# and the dev server's public development key, which it prints on purpose when started
# without --key. Scans every file under DIR (suite logs, dev server logs).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:?usage: $0 LOG_DIR}"
[ -d "$dir" ] || { echo "scan-secrets: no logs in $dir" >&2; exit 1; }
allowed='hm_sk_dev_local_0000000000000000'
keys="$(grep -rhoE 'hm_sk_[A-Za-z0-9_-]{8,}' "$root/Tests" "$root/bindings" "$root/scripts" "$root/examples" "$root/bench" \
          --include='*.c' --include='*.h' --include='*.py' --include='*.js' --include='*.mjs' --include='*.swift' \
          --include='*.sh' --include='Makefile' 2>/dev/null | sort -u | grep -vx "$allowed" || true)"
count=$(printf '%s\n' "$keys" | grep -c . || true)
files=$(find "$dir" -type f | wc -l)
bytes=$(find "$dir" -type f -exec cat {} + | wc -c)
found=0
while IFS= read -r key; do
  [ -n "$key" ] || continue
  if hits=$(grep -rlF -- "$key" "$dir"); then
    echo "scan-secrets: the secret key ${key:0:6}…${key: -4} appears in:" >&2
    printf '  %s\n' $hits >&2
    found=1
  fi
done <<<"$keys"
echo "scan-secrets: $count test keys checked against $files log files ($bytes bytes): $([ $found = 0 ] && echo none found || echo FOUND)"
exit $found
