"""track() call cost from Python: himetrica vs posthog vs segment-analytics-python.

Each SDK gets the same 4-key properties over 50 users, N calls timed one by one while its
sender thread is busy delivering to a local server: himetrica to himetrica-devserver
(--no-limits), posthog and segment to a local sink answering 200 (each SDK's own endpoint),
both over loopback in separate processes. Prints median and p99 per call, and ratios.

For the himetrica rows it also counts the calling thread's context switches during the timed
loop (getrusage, outside the per-call timing): "blocked" (voluntary: the thread slept; in the
plain rows only on the core's engine lock, which the flush thread also takes) and "preempted"
(involuntary: the scheduler ran something else). Each one costs that call tens of
microseconds or more, so they explain the p99. One more himetrica row runs with another
Python thread spinning, as in a threaded web server: a call that let go of the GIL would wait
up to the switch interval (5 ms) to get it back; its "blocked" also counts GIL hand-overs.

    HIMETRICA_DEVSERVER=.build/debug/himetrica-devserver python3 bench/python_track.py [N]
"""

from __future__ import annotations

import logging
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bindings" / "python" / "src"))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
# Machine-readable "name value" lines for bench/run.sh go here when given.
MACHINE = sys.argv[2] if len(sys.argv) > 2 else None
CPU_N = max(N // 4, 50)  # events per SDK for the CPU-per-delivered-event figure
WARMUP = min(1000, N)
PROPS = {"plan": "pro", "amount": 29.99, "items": 3, "coupon": None}
KEY = "hm_sk_test_python_0001"

SINK = r"""
import http.server, socketserver, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0); self.rfile.read(n)
        body = b'{"status":1}'
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
class S(http.server.ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True
s = S(("127.0.0.1", 0), H); print(s.server_address[1], flush=True); s.serve_forever()
"""


def start(cmd: list[str], marker: str | None = None) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline().strip()
    return proc, (line.split(marker, 1)[1] if marker else line)


def measure(call) -> tuple[float, float, int, int]:
    """Median and p99 (µs) of N timed calls, and the calling thread's voluntary and
    involuntary context switches during them."""
    timer = time.perf_counter_ns
    for i in range(WARMUP):
        call(i)
    samples = []
    append = samples.append
    before = resource.getrusage(resource.RUSAGE_THREAD)
    for i in range(N):
        t0 = timer()
        call(i)
        append(timer() - t0)
    after = resource.getrusage(resource.RUSAGE_THREAD)
    samples.sort()
    return (samples[len(samples) // 2] / 1000, samples[int(len(samples) * 0.99)] / 1000,
            after.ru_nvcsw - before.ru_nvcsw, after.ru_nivcsw - before.ru_nivcsw)


def measure_with_busy_thread(call) -> tuple[float, float, int, int]:
    """``measure(call)`` while another Python thread spins, as in a threaded web server."""
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            pass

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    try:
        return measure(call)
    finally:
        stop.set()
        spinner.join()


def cpu_per_event(send, flush, delivered) -> float:
    """Process CPU (all threads, getrusage) per delivered event for CPU_N sends + flush."""

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    before_delivered = delivered()
    start = cpu()
    for i in range(CPU_N):
        send(i)
    flush()
    count = delivered() - before_delivered
    return (cpu() - start) / max(count, 1) * 1e6


def main() -> None:
    logging.getLogger("posthog").setLevel(logging.CRITICAL)
    logging.getLogger("segment").setLevel(logging.CRITICAL)
    rows = []
    cpu_rows = []
    devserver = os.environ.get("HIMETRICA_DEVSERVER") or str(REPO / ".build/debug/himetrica-devserver")
    ds, base = start([devserver, "--port", "0", "--key", KEY, "--no-limits"], "listening on ")
    sink, port = start([sys.executable, "-c", SINK])
    sink_url = f"http://127.0.0.1:{port}"
    users = [f"user-{i}" for i in range(50)]
    try:
        import himetrica

        client = himetrica.Client(KEY, endpoint=base + "/api/v1", rate_limit_track=None, queue_capacity=1_000_000)
        track = client.track
        rows.append(("himetrica", "himetrica " + himetrica.__version__, *measure(
            lambda i: track("purchase", visitor_id=users[i % 50], properties=PROPS))))
        busy = client.stats()
        client.flush(120)
        rows.append(("gil", "  (another thread busy)", *measure_with_busy_thread(
            lambda i: track("purchase", visitor_id=users[i % 50], properties=PROPS))))
        client.flush(120)
        try:  # the same properties as JSON bytes made by orjson, when installed: the dict-to-JSON step's share
            from orjson import dumps
        except ImportError:
            pass
        else:
            rows.append(("orjson", "  (properties=orjson.dumps)", *measure(
                lambda i: track("purchase", visitor_id=users[i % 50], properties=dumps(PROPS)))))
            client.flush(120)
        cpu_rows.append(("himetrica", cpu_per_event(
            lambda i: track("purchase", visitor_id=users[i % 50], properties=PROPS),
            lambda: client.flush(120), lambda: client.stats()["delivered"])))
        # The same call straight into hm_track with pre-encoded arguments: the core's own cost,
        # so the binding's share of the row above is visible.
        from himetrica._json import encode_object

        raw, handle = client._hm_track, client._handle
        body = encode_object(PROPS, "properties")
        encoded = [u.encode() for u in users]
        rows.append(("ctypes", "  (hm_track via ctypes)", *measure(
            lambda i: raw(handle, b"purchase", None, None, encoded[i % 50], body, None, None))))
        client.flush(120)
        client.shutdown(5)
        print(f"himetrica sender was busy: queue depth {busy['queue_depth']}, in flight {busy['in_flight']} "
              f"at the end of the timed loop", file=sys.stderr)
        try:
            import posthog

            ph = posthog.Posthog("phc_bench", host=sink_url, max_queue_size=1_000_000)
            rows.append(("posthog", f"posthog {posthog.VERSION}", *measure(
                lambda i: ph.capture("purchase", distinct_id=users[i % 50], properties=PROPS))))
            ph.flush()
            sent = [0]
            cpu_rows.append(("posthog", cpu_per_event(
                lambda i: (ph.capture("purchase", distinct_id=users[i % 50], properties=PROPS), sent.__setitem__(0, sent[0] + 1)),
                ph.flush, lambda: sent[0])))
            ph.shutdown()
        except ImportError:
            print("posthog not installed: pip install posthog", file=sys.stderr)
        try:
            from segment import analytics as seg

            sg = seg.Client(write_key="bench", host=sink_url, max_queue_size=1_000_000)
            rows.append(("segment", f"segment {seg.VERSION}", *measure(
                lambda i: sg.track(users[i % 50], "purchase", PROPS))))
            sg.flush()
            sent = [0]
            cpu_rows.append(("segment", cpu_per_event(
                lambda i: (sg.track(users[i % 50], "purchase", PROPS), sent.__setitem__(0, sent[0] + 1)),
                sg.flush, lambda: sent[0])))
            sg.shutdown()
        except ImportError:
            print("segment-analytics-python not installed: pip install segment-analytics-python", file=sys.stderr)
    finally:
        ds.terminate()
        sink.terminate()
    if MACHINE:
        with open(MACHINE, "w") as out:
            for key, _name, median, p99, blocked, preempted in rows:
                out.write(f"py_{key}_median {median:.3f}\npy_{key}_p99 {p99:.3f}\n")
                if key in ("himetrica", "gil", "ctypes"):
                    out.write(f"py_{key}_blocked {blocked}\npy_{key}_preempted {preempted}\n")
            for name, cpu in cpu_rows:
                out.write(f"py_cpu_{name} {cpu:.2f}\n")
    base_median, base_p99 = rows[0][2], rows[0][3]
    print(f"\ntrack() call cost, N={N}, 4-key properties, sender busy (µs per call)\n")
    print(f"| {'SDK':<28} | {'median':>8} | {'p99':>8} | {'median vs himetrica':>20} | {'p99 vs himetrica':>17} "
          f"| {'blocked':>7} | {'preempted':>9} |")
    print(f"|{'-' * 30}|{'-' * 10}|{'-' * 10}|{'-' * 22}|{'-' * 19}|{'-' * 9}|{'-' * 11}|")
    for key, name, median, p99, blocked, preempted in rows:
        print(f"| {name:<28} | {median:8.2f} | {p99:8.2f} | {median / base_median:19.1f}x | {p99 / base_p99:16.1f}x "
              f"| {blocked:7} | {preempted:9} |")
    print(f"\nblocked / preempted: the calling thread's voluntary / involuntary context switches during "
          f"the {N} timed calls")


if __name__ == "__main__":
    main()
