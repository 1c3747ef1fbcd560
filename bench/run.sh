#!/usr/bin/env bash
# `make bench`: runs the benchmarks against a release build of the dev server on loopback and
# prints one markdown table. Every figure is measured next to its reference in the same run.
# Bounded: each step is limited in count and time.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
lib="$root/build/lib"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

swift build -c release --product himetrica-devserver >/dev/null
export HIMETRICA_DEVSERVER="$root/.build/release/himetrica-devserver"
cc -O2 -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -Iinclude bench/c_track.c \
  -L"$lib" -lhimetrica -lpthread -Wl,-rpath,"$lib" -o "$work/c_track"

# The C figures, then wrk on the same route of the same server.
scripts/with-devserver.sh --no-limits -- sh -c '
  "$0"/c_track all > "$0"/c.txt 2>/dev/null
  HIMETRICA_KEY="$HIMETRICA_SECRET_KEY" timeout 30 wrk -t2 -c16 -d8s -s bench/devserver-track.lua \
    "$HIMETRICA_ENDPOINT/track" > "$0"/wrk.txt
' "$work"

value() { awk -v k="$1" '$1 == k { print $2 }' "$work/c.txt"; }
wrk_rps="$(awk '/^Requests\/sec/ { printf "%.0f", $2 }' "$work/wrk.txt")"
deliver="$(value c_deliver_events_per_s)"
one="$(value c_track_calls_per_s_1_thread)"
two="$(value c_track_calls_per_s_2_thread)"

echo
echo "Benchmarks, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -m)"
echo
echo "| figure | value | reference (same run) | ratio |"
echo "|---|---|---|---|"
echo "| C \`hm_track\` call, flush thread busy | median $(value c_track_p50) µs, p99 $(value c_track_p99) µs | — | — |"
echo "| C \`hm_track\` from 2 threads at once | $two calls/s | 1 thread: $one calls/s | $(awk -v a="$two" -v b="$one" 'BEGIN { printf "%.2f×", a / b }') |"
echo "| delivery to the dev server, no limits | $deliver events/s | wrk, same route: $wrk_rps req/s | $(awk -v a="$deliver" -v b="$wrk_rps" 'BEGIN { printf "%.0f%%", 100 * a / b }') |"
echo "| client CPU per delivered event | $(value c_cpu_per_event) µs | — | — |"
