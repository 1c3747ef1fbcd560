"""Nothing is lost: threads, faults, exit without flush, fork."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections import Counter

import himetrica
from conftest import KEY


def test_8_threads_x_2000_tracks_all_delivered(server):
    c = himetrica.Client(KEY, endpoint=server.endpoint, rate_limit_track=None, queue_capacity=20000, max_in_flight=16)
    errors = []

    def worker(t):
        try:
            for i in range(2000):
                c.track("load", visitor_id=f"t{t}-v{i % 50}", properties={"t": t, "i": i, "k": "x", "f": 1.5})
        except Exception as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert c.flush(180), c.stats()
    events = server.wait_events(16000, timeout=10)
    seen = Counter((e["body"]["properties"]["t"], e["body"]["properties"]["i"]) for e in events)
    assert len(seen) == 16000 and max(seen.values()) == 1
    stats = c.stats()
    assert stats["delivered"] == 16000 and stats["dropped"] == 0
    c.shutdown(5)


def test_faults_503_drops_and_outage_lose_nothing(server):
    server.faults(errorRate=0.3, errorStatus=503, dropRate=0.05, downForSeconds=3, seed=42)
    c = himetrica.Client(
        KEY, endpoint=server.endpoint, rate_limit_track=None, max_attempts=60, max_retry_age=120,
        retry_base_delay=0.05, retry_max_delay=0.5, request_timeout=5,
    )
    for i in range(400):
        c.track("faulty", visitor_id=f"v{i % 40}", properties={"n": i})
    assert c.flush(120), c.stats()
    events = server.wait_events(400, timeout=10)
    numbers = Counter(e["body"]["properties"]["n"] for e in events)
    assert sorted(numbers) == list(range(400)) and max(numbers.values()) == 1
    stats = c.stats()
    assert stats["retried"] > 0 and stats["gave_up"] == 0 and stats["delivered"] == 400
    faults = server.stats()["faults"]
    assert faults.get("error", 0) > 0 and faults.get("drop", 0) > 0 and faults.get("down", 0) > 0
    c.shutdown(5)


def _run(code: str, server, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.path.dirname(himetrica.__path__[0]), HM_ENDPOINT=server.endpoint)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_exit_without_flush_delivers_everything(server):
    result = _run(
        f"""
        import os, himetrica
        c = himetrica.Client({KEY!r}, endpoint=os.environ["HM_ENDPOINT"], rate_limit_track=None,
                             exit_flush_timeout=60)
        for i in range(2000):
            c.track("atexit", visitor_id=f"v{{i % 100}}", properties={{"n": i}})
        print("queued", c.stats()["queue_depth"] + c.stats()["in_flight"])
        """,
        server,
    )
    assert result.returncode == 0, result.stderr
    events = server.wait_events(2000, timeout=10)
    assert sorted(e["body"]["properties"]["n"] for e in events) == list(range(2000))


def test_exit_with_on_delivery_callback_is_clean(server):
    # Callbacks are detached before the interpreter finalizes: no crash, no hang.
    result = _run(
        f"""
        import os, himetrica
        c = himetrica.Client({KEY!r}, endpoint=os.environ["HM_ENDPOINT"], rate_limit_track=None,
                             on_delivery=lambda d: None, exit_flush_timeout=30)
        for i in range(300):
            c.track("cb", visitor_id=f"v{{i % 30}}")
        """,
        server,
    )
    assert result.returncode == 0, result.stderr
    assert len(server.wait_events(300, timeout=10)) == 300


def test_fork_child_delivers_and_parent_queue_is_not_resent(server):
    result = _run(
        f"""
        import os, himetrica
        c = himetrica.Client({KEY!r}, endpoint=os.environ["HM_ENDPOINT"], rate_limit_track=None)
        for i in range(300):
            c.track("parent", visitor_id=f"p{{i % 5}}", properties={{"n": i}})
        pid = os.fork()
        if pid == 0:
            for i in range(50):
                c.track("child", visitor_id=f"c{{i % 5}}", properties={{"n": i}})
            ok = c.flush(60)
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        assert c.flush(60)
        print("child-exit", os.waitstatus_to_exitcode(status))
        """,
        server,
    )
    assert result.returncode == 0, result.stderr
    assert "child-exit 0" in result.stdout
    events = server.wait_events(350, timeout=10)
    names = Counter(e["body"]["eventName"] for e in events)
    assert names == {"parent": 300, "child": 50}
    parent = Counter(e["body"]["properties"]["n"] for e in events if e["body"]["eventName"] == "parent")
    assert max(parent.values()) == 1
