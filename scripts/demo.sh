#!/usr/bin/env bash
# The demo behind `make demo`: starts the dev server on a free loopback port, runs the C
# example and the CLI against it, and prints what arrived.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

if [ -z "${HIMETRICA_DEV_URL:-}" ]; then
  exec scripts/with-devserver.sh -- "$0" "$@"
fi

echo "== dev server at $HIMETRICA_DEV_URL (open it in a browser to watch events arrive)"
echo "== the C example (examples/c/example.c)"
make -s -C Tests/c example LIBDIR="$root/build/lib" INCDIR="$root/include" >/dev/null
Tests/c/example

echo "== the CLI"
run() { echo "\$ himetrica $*"; "${HIMETRICA_CLI:-.build/debug/himetrica}" "$@"; }
run identify --visitor-id demo-visitor-42 --traits '{"name":"Ada","email":"ada@example.com","userId":"ext-42"}'
run track checkout_completed --email ada@example.com --prop plan=team --prop seats=5 --prop amount=149.5
run track webhook_received --visitor-id demo-visitor-42 --properties '{"source":"stripe"}' --session new --json
run user-id demo-visitor-42

echo "== what the dev server received"
python3 - "$HIMETRICA_DEV_URL" <<'PY'
import json, sys, urllib.request
events = json.load(urllib.request.urlopen(sys.argv[1] + "/_dev/events"))["events"]
for e in events:
    body = e["body"]
    who = next(f"{k}={body[k]}" for k in ("userId", "email", "visitorId") if k in body)
    what = body.get("eventName", "identify")
    extra = body.get("properties") or body.get("traits") or {}
    print(f"  #{e['seq']:<3} {e['endpoint']:<9} {what:<22} {who:<40} {json.dumps(extra, ensure_ascii=False)}")
print(f"{len(events)} requests accepted")
PY
