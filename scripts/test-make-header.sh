#!/bin/sh
# Shows that `make-header.py check` catches drift: on a copy of the files it reads and writes,
# it must pass as is, and fail when a binding's copy is edited by hand or when a source (a new
# counter, a new option, a new version) changes without regenerating.
# usage: scripts/test-make-header.sh SWIFT_HEADER
set -eu
header=$1
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
files="VERSION Sources/HimetricaCore/Delivery.swift Sources/HimetricaCore/Configuration.swift
  Sources/HimetricaCTypes/include/himetrica_types.h Sources/HimetricaCore/Version.swift include/himetrica.h
  bindings/python/src/himetrica/_constants.py bindings/node/lib/constants.js bindings/node/index.d.ts
  bindings/node/package.json README.md"
fresh() {
  rm -rf "$work/tree"
  for f in $files; do mkdir -p "$work/tree/$(dirname "$f")"; cp "$root/$f" "$work/tree/$f"; done
}
check() { python3 "$root/scripts/make-header.py" check "$header" "$work/tree" > "$work/out" 2>&1; }
expect_stale() {  # what was changed, and a file the check must name
  if check; then echo "make-header check missed: $1" >&2; exit 1; fi
  grep -q "stale generated files.*$2" "$work/out" || { echo "make-header check did not name $2 ($1):" >&2; cat "$work/out" >&2; exit 1; }
}

fresh
check || { cat "$work/out" >&2; echo "make-header check fails on an unchanged copy" >&2; exit 1; }

fresh; sed -i 's/QUEUE_FULL: 2/QUEUE_FULL: 20/' "$work/tree/bindings/node/lib/constants.js"
expect_stale "a status code edited in Node's copy" bindings/node/lib/constants.js

fresh; sed -i "/\"max_in_flight\"/d" "$work/tree/bindings/python/src/himetrica/_constants.py"
expect_stale "an option removed from Python's copy" bindings/python/src/himetrica/_constants.py

fresh; sed -i 's/("queue_depth", queueDepth)/("queue_depth", queueDepth), ("future_counter", futureCounter)/; s/public var queueDepth: UInt64 = 0/&\n    \/\/\/ A counter still to come.\n    public var futureCounter: UInt64 = 0/' \
  "$work/tree/Sources/HimetricaCore/Delivery.swift"
expect_stale "a counter added to Stats" "himetrica_types.h.*index.d.ts"

fresh; sed -i 's/case "max_in_flight":/case "spool_path": spoolPath = value\n        &/' "$work/tree/Sources/HimetricaCore/Configuration.swift"
expect_stale "an option added to Configuration.set" "_constants.py.*constants.js.*index.d.ts"

fresh; sed -i '/^| `max_in_flight` |/d' "$work/tree/README.md"
if check; then echo "make-header check missed: an option dropped from the README's table" >&2; exit 1; fi
grep -q "README.md's configuration table: missing \['max_in_flight'\]" "$work/out" || { cat "$work/out" >&2; exit 1; }

fresh; echo 0.2.0 > "$work/tree/VERSION"
expect_stale "a new VERSION" "Version.swift.*himetrica.h.*_constants.py.*package.json"
echo "make-header check: catches drift in every generated copy"
