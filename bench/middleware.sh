#!/bin/sh
# The Himetrica middleware's added latency per request: wrk against an example app's trivial
# route (GET /hello) served without and with the middleware, in one run, on loopback.
#
#   bench/middleware.sh [hummingbird|vapor]     (default hummingbird)
#
# Environment: DURATION (default 10s), CONNECTIONS (16), THREADS (2), CONFIG (release).
# Runs the pair twice: with THREADS/CONNECTIONS (saturating) and with one connection.
# Both app instances send their events to a local himetrica-devserver with the client's default
# rate limits, as a deployed app would; every tracked request carries an hm_vid cookie.
set -eu
cd "$(dirname "$0")/.."
framework=${1:-hummingbird}
duration=${DURATION:-10s}
connections=${CONNECTIONS:-16}
threads=${THREADS:-2}
config=${CONFIG:-release}
key=hm_sk_bench_middleware_0001

# The package traits (Package.swift), the same set the Makefile enables, so nothing rebuilds.
traits=${SWIFT_TRAITS:---traits Vapor,Hummingbird,CLI,DevServer}
swift build -c "$config" $traits --product himetrica-devserver >&2
swift build -c "$config" $traits --product "himetrica-example-$framework" >&2
bin=$(swift build -c "$config" $traits --show-bin-path)

work=$(mktemp -d)
pids=""
cleanup() { for pid in $pids; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT INT TERM

"$bin/himetrica-devserver" --port 0 --key "$key" >"$work/devserver" 2>/dev/null &
pids="$pids $!"
until grep -q listening "$work/devserver" 2>/dev/null; do sleep 0.1; done
endpoint="$(sed -n 's/^listening on //p' "$work/devserver")/api/v1"

# Free loopback ports for the two instances.
ports=$(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))')
set -- $ports
plain=$1 tracked=$2
HIMETRICA_SECRET_KEY=$key HIMETRICA_ENDPOINT=$endpoint PORT=$plain HIMETRICA_MIDDLEWARE=off \
    "$bin/himetrica-example-$framework" >/dev/null 2>&1 &
pids="$pids $!"
HIMETRICA_SECRET_KEY=$key HIMETRICA_ENDPOINT=$endpoint PORT=$tracked \
    "$bin/himetrica-example-$framework" >/dev/null 2>&1 &
pids="$pids $!"
for port in $plain $tracked; do
    until curl -sf "http://127.0.0.1:$port/hello" >/dev/null; do sleep 0.1; done
done

# wrk --latency prints "50%  1.23ms" etc.; convert to microseconds.
percentile() {
    awk -v p="$1" '$1 == p {
        v = $2; u = 1
        if (v ~ /us$/) { u = 1 } else if (v ~ /ms$/) { u = 1000 } else if (v ~ /s$/) { u = 1000000 }
        sub(/[a-z]+$/, "", v); printf "%.0f", v * u }' "$2"
}
# One wrk run per instance with $1 threads and $2 connections; prints a table.
compare() {
    echo "wrk -t$1 -c$2 -d$duration --latency -H 'Cookie: hm_vid=bench-visitor-0001' http://127.0.0.1:PORT/hello ($framework, $config)"
    for name in plain tracked; do
        port=$plain; [ "$name" = tracked ] && port=$tracked
        wrk -t"$1" -c"$2" -d"$duration" --latency -H "Cookie: hm_vid=bench-visitor-0001" \
            "http://127.0.0.1:$port/hello" >"$work/$name"
    done
    printf '%-10s %12s %12s %12s\n' "" "median (us)" "p99 (us)" "requests/s"
    for name in plain tracked; do
        printf '%-10s %12s %12s %12s\n' "$name" "$(percentile 50% "$work/$name")" "$(percentile 99% "$work/$name")" \
            "$(awk '/Requests\/sec/ { print $2 }' "$work/$name")"
    done
    printf '%-10s %12s %12s\n\n' "added" \
        "$(($(percentile 50% "$work/tracked") - $(percentile 50% "$work/plain")))" \
        "$(($(percentile 99% "$work/tracked") - $(percentile 99% "$work/plain")))"
}
# Saturated (the server's cost shows as lost throughput and queueing), then one connection at a
# time (the per-request cost itself).
compare "$threads" "$connections"
compare 1 1
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
curl -s "${endpoint%/api/v1}/_dev/stats" | sed 's/^/devserver stats: /'
echo
