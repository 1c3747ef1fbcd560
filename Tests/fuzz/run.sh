#!/usr/bin/env bash
# Builds the libFuzzer targets and runs each for SECONDS (default 30) from the seed corpus.
#
#   Tests/fuzz/run.sh [SECONDS_PER_TARGET]      (make fuzz-short: 15 s each; make fuzz: 300 s each)
#
# Targets (in build/fuzz):
#   fuzz-rules  FuzzRules.swift + Sources/HimetricaRules, swiftc -sanitize=fuzzer,address
#   fuzz-capi   fuzz_capi.c, clang -fsanitize=fuzzer,address,undefined, against libhimetrica built with
#               swiftc -sanitize=fuzzer,address (.build-fuzzlib), so coverage reaches into the library
# New inputs go to build/fuzz/work-* (not committed); a crash leaves build/fuzz/crash-* and
# fails the run. Prints each target's executions.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${1:-30}"
out="$root/build/fuzz"
mkdir -p "$out"
swiftc="${SWIFTC:-swiftc}"
clang="${FUZZ_CC:-clang}"
nolink='Cannot export local symbol'   # ld.gold's noise about the sanitizer runtime

# -package-name: the rules' internals are `package` (one package with the rest of the toolkit).
"$swiftc" -sanitize=fuzzer,address -parse-as-library -module-name HimetricaRules -package-name himetrica -O -g \
  "$root"/Sources/HimetricaRules/*.swift "$root/Tests/fuzz/FuzzRules.swift" -o "$out/fuzz-rules" 2>&1 | { grep -v "$nolink" || true; }
fuzzlib="$root/.build-fuzzlib/release"
swift build -c release --product HimetricaC --scratch-path "$root/.build-fuzzlib" --package-path "$root" \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library 2>&1 | { grep -E 'error|Build of' || true; }
ln -sf libHimetricaC.so "$fuzzlib/libhimetrica.so"
swiftlib="$(dirname "$(command -v "$swiftc")")/../lib/swift/linux"
"$clang" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I"$root/include" \
  "$root/Tests/fuzz/fuzz_capi.c" -L"$fuzzlib" -lhimetrica -Wl,-rpath,"$fuzzlib" -Wl,-rpath,"$swiftlib" \
  -o "$out/fuzz-capi" 2>&1 | { grep -v "$nolink" || true; }

status=0
for target in rules capi; do
  work="$out/work-$target"
  mkdir -p "$work"
  log="$out/fuzz-$target.log"
  set +e
  SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 timeout $((seconds + 120)) "$out/fuzz-$target" -max_total_time="$seconds" \
    -timeout=10 -rss_limit_mb=2048 -max_len=12000 -print_final_stats=1 -artifact_prefix="$out/crash-$target-" \
    "$work" "$root/Tests/fuzz/corpus/$target" >"$log" 2>&1
  rc=$?
  set -e
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  echo "fuzz-$target: ${runs:-?} executions in ${seconds} s, exit $rc (log: $log)"
  if [ $rc -ne 0 ]; then
    tail -40 "$log" >&2
    status=1
  fi
done
exit $status
