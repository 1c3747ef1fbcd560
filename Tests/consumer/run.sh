#!/usr/bin/env bash
# Builds Tests/consumer, a package that depends on this checkout by path and uses `Himetrica`
# alone, in a fresh folder outside the repository (a cold build, its own scratch path), and
# checks that its resolution names neither Vapor nor Hummingbird nor ArgumentParser. Then runs
# it against a dev server ($HIMETRICA_DEVSERVER or .build/debug/himetrica-devserver): it must
# deliver its events. Prints the cold build time. Last, a plain `swift build` of the checkout
# with no traits, as a newcomer types it: every stub for a disabled trait must still compile.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d /tmp/himetrica-consumer.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cp -R "$root/Tests/consumer/." "$work/"
rm -f "$work/run.sh"
# A path dependency's package identity is its folder's name.
identity="$(basename "$root" | tr '[:upper:]' '[:lower:]')"
sed -i -e "s|@HIMETRICA_ROOT@|$root|" -e "s|@HIMETRICA_IDENTITY@|$identity|" "$work/Package.swift"

start=$(date +%s.%N)
swift build --package-path "$work" --scratch-path "$work/.build" 2>&1 | tail -3
end=$(date +%s.%N)
echo "consumer: cold build $(python3 -c "print(f'{$end - $start:.1f}')") s"

resolved="$work/Package.resolved"
echo "consumer: resolved $(grep -o '"identity" : "[^"]*"' "$resolved" | sed 's/.*: //' | tr -d '"' | sort | tr '\n' ' ')"
for unwanted in vapor hummingbird swift-argument-parser; do
  if grep -qi "\"identity\" : \"$unwanted\"" "$resolved" || [ -e "$work/.build/checkouts/$unwanted" ]; then
    echo "consumer: FAILED: depending on Himetrica alone resolved $unwanted" >&2
    exit 1
  fi
done

HIMETRICA_DEVSERVER="${HIMETRICA_DEVSERVER:-$root/.build/debug/himetrica-devserver}" \
  "$root/scripts/with-devserver.sh" -- "$work/.build/debug/Consumer"
echo "consumer: ok"

swift build --package-path "$root" --scratch-path "$work/.build-plain" 2>&1 | tail -1
echo "consumer: plain swift build of the checkout ok"
