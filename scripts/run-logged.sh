#!/usr/bin/env bash
# Runs a command with its stdout and stderr also written to DIR/NAME.log, prints how long it
# took (also appended to DIR/times.txt), and exits with the command's status.
#
#   scripts/run-logged.sh DIR NAME COMMAND [ARGS...]
#
# `make test` runs every suite through it, so scripts/scan-secrets.sh can check all output.
set -uo pipefail
mkdir -p "$1"
dir="$(cd "$1" && pwd)" name="$2"   # absolute: the suites change directories
shift 2
start=$(date +%s)
HIMETRICA_TEST_LOG_DIR="$dir" "$@" 2>&1 | tee "$dir/$name.log"
status=${PIPESTATUS[0]}
took=$(( $(date +%s) - start ))
printf '%-22s %5d s  exit %d\n' "$name" "$took" "$status" | tee -a "$dir/times.txt"
exit "$status"
