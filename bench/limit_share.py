"""Share of a rate limit the client reaches: the dev server and a Python client both at 60/5 s,
300 tracks, arrivals per 5 s window (the formula of the gunicorn spool test) and 429 answers.

    HIMETRICA_DEVSERVER=.build/release/himetrica-devserver PYTHONPATH=bindings/python/src \\
      python3 bench/limit_share.py [COUNT] [spool]
"""
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bindings" / "python" / "tests"))
from conftest import KEY, DevServer  # noqa: E402

import himetrica  # noqa: E402

total = int(sys.argv[1]) if len(sys.argv) > 1 else 300
spool = len(sys.argv) > 2 and sys.argv[2] == "spool"
server = DevServer("--no-limits", "--limit", "track=60/5")
try:
    extra = {"spool": tempfile.mkdtemp()} if spool else {}
    client = himetrica.Client(KEY, endpoint=server.endpoint, rate_limit_track="60/5", exit_flush_timeout=0, **extra)
    for n in range(total):
        client.track("share", visitor_id="v%d" % (n % 5), properties={"n": n})
    times = sorted(x["receivedAt"] for x in server.wait_events(total, timeout=total / 12 * 1.5 + 10))
    per_window = len(times) / ((times[-1] - times[0]) / 1000 + 5) * 5
    throttled = sum(v.get("429", 0) for v in server.stats()["endpoints"].values())
    print(f"limit_share_events {len(times)}")
    print(f"limit_share_per_5s {per_window:.1f} (of 60)")
    print(f"limit_share_429 {throttled}")
    client.shutdown(0)
finally:
    server.stop()
