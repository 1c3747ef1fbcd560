#!/usr/bin/env bash
# `make bench`: every figure of issue 7's table, each next to its reference measured in the same
# run, as one markdown table with the target and met / not met. Against a release build of the
# dev server on loopback. Bounded: every loop is limited in count, every step in time (a few
# minutes in all).
#
#   BENCH_FULL=1   (make bench-full) the delivery-at-latency figure with the real default limit,
#                  1000/min for 2 minutes; otherwise the same rate scaled to 250 per 15 s for 30 s.
#   BENCH_SMOKE=1  (make bench-smoke) tiny counts and timeouts: checks every benchmark still runs,
#                  not how fast. Figures are meaningless then.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
lib="$root/build/lib"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
PYTHON="${PYTHON:-python3}"
smoke="${BENCH_SMOKE:-0}"
full="${BENCH_FULL:-0}"

if [ "$smoke" = 1 ]; then
  scale=0.002; wrk_time=1s; rounds=1; lat_limit=20/2; lat_secs=3; lat_flag=(--limit track=20/2)
  py_n=200; node_n=500; load_reps=1
  swift build ${SWIFT_TRAITS:---traits Vapor,Hummingbird,CLI,DevServer} --product himetrica-devserver >/dev/null
  export HIMETRICA_DEVSERVER="$root/.build/debug/himetrica-devserver"
else
  scale=1; wrk_time=4s; rounds=5; py_n=20000; node_n=20000; load_reps=7
  if [ "$full" = 1 ]; then lat_limit=1000/60; lat_secs=120; lat_flag=()
  else lat_limit=250/15; lat_secs=30; lat_flag=(--limit track=250/15); fi
  swift build -c release ${SWIFT_TRAITS:---traits Vapor,Hummingbird,CLI,DevServer} --product himetrica-devserver >/dev/null
  export HIMETRICA_DEVSERVER="$root/.build/release/himetrica-devserver"
fi
cc -O2 -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -Iinclude bench/c_track.c \
  -L"$lib" -lhimetrica -lpthread -Wl,-rpath,"$lib" -o "$work/c_track"
step() { echo "bench: $*" >&2; }

# 1. C: call cost (sender busy), 1 vs 2 threads (sender busy, and sender idle), a flush of one
#    event.
step "C track / threads / flush"
scripts/with-devserver.sh --no-limits -- sh -c 'timeout 300 "$0"/c_track all "$1" > "$0"/c.txt 2>/dev/null' "$work" "$scale"

# 1a. Delivery against wrk on the same route of one server, in alternating rounds (a shared
#     machine's speed moves within seconds): wrk with the reference body, wrk sending the SDK's
#     own request (for information), memory mode, then a spool. Each share is the median of the
#     rounds' shares of that round's wrk.
step "delivery: $rounds rounds of wrk, memory mode and a spool"
scripts/with-devserver.sh --no-limits -- sh -c 'for i in $(seq "$3"); do
    for script in devserver-track devserver-track-sdk; do
      echo "round_$script $(HIMETRICA_KEY="$HIMETRICA_SECRET_KEY" timeout 60 wrk -t2 -c16 -d"$2" -s bench/$script.lua \
        "$HIMETRICA_ENDPOINT/track" | awk "/^Requests.sec/ { print \$2 }")"
    done
    timeout 300 "$0"/c_track deliver "$1" 2>/dev/null
    timeout 300 "$0"/c_track spool_deliver "$1" 2>/dev/null; rm -rf /tmp/himetrica-bench-spool-*
  done > "$0"/rounds.txt' "$work" "$scale" "$wrk_time" "$rounds"
$PYTHON bench/delivery_rounds.py "$work/rounds.txt" >> "$work/c.txt"

# 1b. The same with a spool (each client a fresh spool directory), and the spool's commit rate
#     and disk bytes per queued event.
step "C with a spool: track, flush, commit rate, bytes"
scripts/with-devserver.sh --no-limits -- sh -c 'timeout 300 "$0"/c_track spool "$1" >> "$0"/c.txt 2>/dev/null; rm -rf /tmp/himetrica-bench-spool-*' \
  "$work" "$scale"
# The call cost with and without a spool in five alternating rounds, the median of each: the
# figures of steps 1 and 1b lie minutes apart, and a shared machine's speed moves in minutes.
scripts/with-devserver.sh --no-limits -- sh -c 'for i in 1 2 3 4 5; do
    "$0"/c_track call "$1"; "$0"/c_track spool_call "$1"; rm -rf /tmp/himetrica-bench-spool-*
  done > "$0"/alternating.txt 2>/dev/null' "$work" "$scale"
for key in c_track_p50 spool_track_p50; do
  awk -v k="$key" '$1 == k { print $2 }' "$work/alternating.txt" | sort -n |
    awk -v k="$key" '{ a[NR] = $1 } END { if (NR) print "alternating_" k, a[int((NR + 1) / 2)] }' >> "$work/c.txt"
done

# 2. Memory: 10,000 events queued with the server down (the client sends to a closed port).
step "memory with the server down"
scripts/with-devserver.sh -- timeout 60 "$work/c_track" memory "$([ "$smoke" = 1 ] && echo 0.01 || echo 1)" \
  >> "$work/c.txt" 2>/dev/null

# 3. Delivery at 100 ms added latency under the limit.
step "delivery at 100 ms latency, limit $lat_limit for $lat_secs s"
scripts/with-devserver.sh --latency-ms 100 "${lat_flag[@]}" -- \
  timeout $((lat_secs + 60)) "$work/c_track" latency 1 "$lat_limit" "$lat_secs" >> "$work/c.txt" 2>/dev/null

# 4. Python: track() vs posthog and segment (from PyPI), CPU per delivered event; load + start.
step "Python track vs posthog / segment"
if [ "$smoke" != 1 ]; then
  $PYTHON -m pip install -q --disable-pip-version-check posthog segment-analytics-python >&2 || true
fi
HIMETRICA_LIBRARY="$lib/libhimetrica.so" PYTHONPATH="$root/bindings/python/src" \
  timeout 600 $PYTHON bench/python_track.py "$py_n" "$work/py.txt" > "$work/py-table.txt" 2>/dev/null

step "Python import + Client() vs import json (fresh processes)"
# As installed from a wheel, whose .pyc files pip compiles: without them (PYTHONDONTWRITEBYTECODE)
# every run would also time compiling the package's sources.
$PYTHON -m compileall -q bindings/python/src/himetrica >&2
HIMETRICA_LIBRARY="$lib/libhimetrica.so" PYTHONPATH="$root/bindings/python/src" $PYTHON - "$load_reps" >> "$work/py.txt" <<'EOF'
import statistics, subprocess, sys
reps = int(sys.argv[1])
code = {
    "json": "import time; t = time.perf_counter(); import json; print(time.perf_counter() - t)",
    "himetrica": "import time; t = time.perf_counter(); import himetrica; "
                 "himetrica.Client('hm_sk_local_demo_key_0001', endpoint='http://127.0.0.1:9/api/v1', exit_flush_timeout=0); "
                 "print(time.perf_counter() - t)",
}
times = {k: [] for k in code}
for _ in range(reps):  # interleaved, so both see the same machine
    for name, text in code.items():
        out = subprocess.run([sys.executable, "-c", text], capture_output=True, text=True, timeout=60)
        times[name].append(float(out.stdout.strip()) * 1000)
for name, values in times.items():
    print(f"py_load_{name} {statistics.median(values):.2f}")
EOF

# 5. Node: track() vs JSON.stringify + array push.
step "Node track vs JSON.stringify + push"
BENCH_MACHINE="$work/node.txt" N="$node_n" timeout 300 node bindings/node/bench/node_track.js > "$work/node-table.txt" 2>/dev/null

# 6. The shared limit (issue 14): Redis round trips per delivered event, added latency.
step "shared limit through Redis"
shared_secs=10; [ "$smoke" = 1 ] && shared_secs=2
timeout 300 $PYTHON bench/shared_limit.py "$root/build/redis_load" "$root/.build/debug/himetrica-devserver" "$shared_secs" \
  > "$work/shared.txt" 2>/dev/null || echo "bench: shared limit run failed" >&2

cat "$work/py.txt" "$work/node.txt" "$work/shared.txt" >> "$work/c.txt"
[ -n "${BENCH_KEEP:-}" ] && cp "$work/c.txt" "$BENCH_KEEP"

# The table.
$PYTHON - "$work/c.txt" "$smoke" "$full" "$lat_limit" "$lat_secs" <<'EOF'
import sys
v = {}
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) >= 2:
        try: v[parts[0]] = float(parts[1])
        except ValueError: pass
smoke, full, lat_limit, lat_secs = sys.argv[2] == "1", sys.argv[3] == "1", sys.argv[4], sys.argv[5]
rows = []
def g(k): return v.get(k, float("nan"))
def met(ok): return "met" if ok else "**not met**"
def row(figure, value, reference, ratio, target, ok): rows.append((figure, value, reference, ratio, target, met(ok)))

p50, p99 = g("c_track_p50"), g("c_track_p99")
row("C `hm_track` call, flush thread busy", f"median {p50:.3f} µs, p99 {p99:.2f} µs",
    f"sender busy: {int(g('c_track_busy_in_flight'))} in flight at the end", "—", "median ≤ 0.5 µs, p99 ≤ 5 µs", p50 <= 0.5 and p99 <= 5)
one, two = g("c_track_calls_per_s_1_thread_idle"), g("c_track_calls_per_s_2_thread_idle")
row("C `hm_track` from 2 threads at once (flush thread idle: client rate-limited, not sending)",
    f"{two:,.0f} calls/s", f"1 thread: {one:,.0f} calls/s", f"{two / one:.2f}×", "≥ 1.7×", two / one >= 1.7)
ob, tb = g("c_track_calls_per_s_1_thread"), g("c_track_calls_per_s_2_thread")
rows.append(("  (same, flush thread busy sending, for information)", f"{tb:,.0f} calls/s", f"1 thread: {ob:,.0f} calls/s",
             f"{tb / ob:.2f}×", "—", "—"))
hm, ph, sg = g("py_himetrica_median"), g("py_posthog_median"), g("py_segment_median")
peers = [x for x in (ph, sg) if x == x]
faster = min(peers) if peers else float("nan")
hp99 = g("py_himetrica_p99")
row("Python `track` (4-key properties), sender busy", f"median {hm:.2f} µs, p99 {hp99:.2f} µs",
    f"posthog {ph:.2f} µs, segment {sg:.2f} µs (medians); raw `hm_track` via ctypes: median "
    f"{g('py_ctypes_median'):.2f} µs, p99 {g('py_ctypes_p99'):.2f} µs; the calling thread's context switches in the "
    f"timed loop: {g('py_himetrica_blocked'):.0f} blocked, {g('py_himetrica_preempted'):.0f} preempted",
    f"1/{faster / hm:.1f} of the faster peer", "median ≤ 1/8 of the faster peer; p99 ≤ 10 µs", faster / hm >= 8 and hp99 <= 10)
rows.append(("  (same, another Python thread spinning)", f"median {g('py_gil_median'):.2f} µs, p99 {g('py_gil_p99'):.2f} µs",
             f"context switches: {g('py_gil_blocked'):.0f} blocked (GIL), {g('py_gil_preempted'):.0f} preempted",
             "—", "—", "—"))
if "py_orjson_median" in v:
    rows.append(("  (same, properties as JSON bytes from `orjson.dumps`, for information)",
                 f"median {g('py_orjson_median'):.2f} µs, p99 {g('py_orjson_p99'):.2f} µs",
                 "the dict's conversion to JSON is most of the difference", f"1/{faster / g('py_orjson_median'):.1f} of the faster peer",
                 "—", "—"))
nt, nb = g("node_track_median"), g("node_base_median")
row("Node `track`", f"median {nt:.2f} µs/call", f"JSON.stringify + push: {nb:.2f} µs/call", f"{nt / nb:.2f}×", "≤ 1.5×", nt / nb <= 1.5)
d, w, ws, share = g("c_deliver_events_per_s"), g("wrk_rps"), g("wrk_sdk_rps"), g("c_deliver_share")
rounds = f"{g('delivery_rounds'):.0f} alternating rounds, medians; each share is of its own round's wrk"
row("delivery to the dev server, no limits (C, 16 in flight)", f"{d:,.0f} events/s",
    f"wrk -c16, same route: {w:,.0f} req/s ({rounds}); wrk sending the SDK's own request: {ws:,.0f} req/s, "
    f"of which {100 * g('c_deliver_share_sdk'):.0f}%", f"{100 * share:.0f}%", "≥ 60%", share >= 0.6)
cpu = g("c_cpu_per_event")
row("client CPU per delivered event (C, whole process, getrusage)", f"{cpu:.1f} µs, one request per event",
    f"Python: himetrica {g('py_cpu_himetrica'):.1f}, posthog {g('py_cpu_posthog'):.1f}, segment {g('py_cpu_segment'):.1f} µs "
    "(they send 100 events per request)", "—", "≤ 25 µs", cpu <= 25)
frac, e429 = g("c_latency_fraction"), g("c_latency_429")
label = "default limit 1000/min, 2 minutes" if full else f"limit {lat_limit} s (1000/min scaled), {lat_secs} s; `make bench-full`: 1000/min, 2 min"
row(f"delivery at 100 ms added latency, {label}", f"{int(g('c_latency_delivered'))} delivered, {int(e429)} × 429",
    f"the limit: {int(g('c_latency_allowed'))} in {lat_secs} s", f"{100 * frac:.1f}%", "≥ 99%, zero 429", frac >= 0.99 and e429 == 0)
mem = g("c_memory_beyond_body")
row("memory with 10,000 queued events (server down)", f"{mem:.0f} B/event beyond its body",
    f"empty client; RSS delta {g('c_memory_rss_per_event'):.0f} B/event, body {g('c_memory_body_bytes'):.0f} B",
    "—", "≤ 512 B/event", mem <= 512)
sp50, sp99 = g("spool_track_p50"), g("spool_track_p99")
ap, asp = g("alternating_c_track_p50"), g("alternating_spool_track_p50")
row("C `hm_track` call with a spool, flush thread busy", f"median {sp50:.3f} µs, p99 {sp99:.2f} µs",
    f"5 alternating rounds, medians: spool {asp:.3f} µs, memory mode {ap:.3f} µs", f"{asp / ap:.2f}×",
    "≤ 1.2× memory mode", asp <= 1.2 * ap)
sc = g("spool_commit_events_per_s")
row("events/s committed to the spool by the flush thread, no limit (nothing sent)", f"{sc:,.0f} events/s",
    f"calls: {one:,.0f}/s from 1 thread", "—", "≥ 50,000/s", sc >= 50000)
sd, sshare = g("spool_deliver_events_per_s"), g("spool_deliver_share")
row("delivery with a spool, no limits (C, 16 in flight)", f"{sd:,.0f} events/s",
    f"wrk -c16: {w:,.0f} req/s; memory mode {d:,.0f} events/s (the same rounds); of wrk sending the SDK's own "
    f"request: {100 * g('spool_deliver_share_sdk'):.0f}%", f"{100 * sshare:.0f}%", "≥ 50% of wrk", sshare >= 0.5)
rows.append(("`flush()` of one event, until delivered (median of 51)", f"{g('spool_flush_ms'):.2f} ms with a spool",
             f"memory mode: {g('c_flush_ms'):.2f} ms", "—", "—", "—"))
sb = g("spool_bytes_per_event")
rows.append(("disk bytes per queued event (spool files incl. WAL)", f"{sb:.0f} B/event",
             f"memory mode: {mem + g('c_memory_body_bytes'):.0f} B/event in RAM (body {g('c_memory_body_bytes'):.0f} B)", "—", "—", "—"))
lh, lj = g("py_load_himetrica"), g("py_load_json")
row("library load + client start (Python `import himetrica` + `Client()`)", f"{lh:.1f} ms",
    f"`import json`: {lj:.2f} ms", f"+{lh - lj:.1f} ms", "≤ 30 ms", lh <= 30)
rt, rtf = g("redis_round_trips_per_event_4hosts"), g("redis_round_trips_per_event_fast")
row("shared limit: Redis round trips per delivered event (4 hosts at 60/5 s)", f"{rt:.3f}",
    f"1 host, limit out of the way, 8 in flight: {rtf:.3f}", "—", "≤ 0.25", rt <= 0.25)
added = g("redis_added_latency_us")
rows.append(("shared limit: added time per request (1 in flight: one lease per request, the worst case)",
             f"{added:.0f} µs", f"without shared_limit: {g('redis_latency_plain_us'):.0f} µs/request", "—", "(information)", ""))

print()
print("| figure | value | reference (same run) | ratio | target | |")
print("|---|---|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
if smoke:
    print("\n(BENCH_SMOKE: tiny counts, the figures mean nothing; this only checks every benchmark runs)")
EOF
