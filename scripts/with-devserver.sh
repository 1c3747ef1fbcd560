#!/usr/bin/env bash
# Runs a command against a fresh himetrica-devserver on a free loopback port, then stops it.
#
#   scripts/with-devserver.sh [devserver flags...] -- COMMAND [ARGS...]
#
# The command gets HIMETRICA_DEV_URL (http://127.0.0.1:PORT), HIMETRICA_ENDPOINT (its
# /api/v1) and HIMETRICA_SECRET_KEY (a test key the server accepts). The server binary is
# $HIMETRICA_DEVSERVER, or .build/debug/himetrica-devserver.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
server="${HIMETRICA_DEVSERVER:-$root/.build/debug/himetrica-devserver}"
key="${HIMETRICA_SECRET_KEY:-hm_sk_local_demo_key_0001}"

flags=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do flags+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
[ $# -gt 0 ] || { echo "usage: $0 [devserver flags] -- COMMAND" >&2; exit 2; }

out="$(mktemp)"
"$server" --port 0 --key "$key" "${flags[@]}" >"$out" 2>"$out.err" &
pid=$!
# With HIMETRICA_TEST_LOG_DIR set (make test), the server's own log is kept there too, so the
# secret scan (scripts/scan-secrets.sh) sees it.
keep='if [ -n "${HIMETRICA_TEST_LOG_DIR:-}" ]; then cat "$out" "$out.err" >>"$HIMETRICA_TEST_LOG_DIR/devserver-$pid.log" || true; fi'
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; eval "$keep"; rm -f "$out" "$out.err"' EXIT
for _ in $(seq 1 200); do
  grep -q '^listening on ' "$out" && break
  kill -0 $pid 2>/dev/null || { cat "$out.err" >&2; echo "devserver did not start" >&2; exit 1; }
  sleep 0.05
done
url="$(sed -n 's/^listening on //p' "$out" | head -1)"
[ -n "$url" ] || { echo "devserver did not report its port" >&2; exit 1; }

export HIMETRICA_DEV_URL="$url" HIMETRICA_ENDPOINT="$url/api/v1" HIMETRICA_SECRET_KEY="$key"
"$@"
