"""Every call and option of the Python surface, over loopback against himetrica-devserver."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import threading
import uuid
from decimal import Decimal
from enum import Enum

import pytest

import himetrica
from conftest import KEY, DevServer


class Plan(Enum):
    PRO = "pro"


def bodies(server, endpoint="track"):
    return [e["body"] for e in server.events() if e["endpoint"] == endpoint]


def test_track_delivers_with_converted_properties(server, client):
    when = dt.datetime(2026, 1, 31, 12, 0, 0)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    client.track(
        "purchase",
        visitor_id="v_1",
        properties={
            "when": when,
            "day": dt.date(2026, 1, 31),
            "price": Decimal("29.99"),
            "id": ident,
            "plan": Plan.PRO,
            "pair": (1, 2),
            "tags": {"b", "a"},
            "nested": {"ok": [True, None, 1.5]},
            "text": "Zürich 🎉",
        },
        timestamp=dt.datetime(2026, 1, 31, 10, 0, tzinfo=dt.timezone.utc),
        session="new",
    )
    assert client.flush(10)
    (body,) = bodies(server)
    assert body["eventName"] == "purchase" and body["visitorId"] == "v_1"
    assert body["timestamp"] == "2026-01-31T10:00:00Z"
    assert body["session"] == "new"
    assert body["properties"] == {
        "when": "2026-01-31T12:00:00Z",
        "day": "2026-01-31",
        "price": 29.99,
        "id": str(ident),
        "plan": "pro",
        "pair": [1, 2],
        "tags": ["a", "b"],
        "nested": {"ok": [True, None, 1.5]},
        "text": "Zürich 🎉",
    }


def test_track_with_json_text_bytes_and_identities(server, client):
    client.track("a", visitor_id=b"v_2", properties='{"x": 1}')
    client.track("b", visitor_id="v_2", properties=b'{"y":2}', session="latest")
    assert client.flush(10)  # different identities are sent in parallel: fix the order here
    user = client.user_id("v_2")
    client.track("c", user_id=user)
    client.identify(visitor_id="v_2", traits={"email": "jane@example.com", "name": "Jane"})
    assert client.flush(10)
    client.track("d", email="jane@example.com")
    assert client.flush(10)
    names = [b["eventName"] for b in bodies(server)]
    assert names == ["a", "b", "c", "d"]
    assert bodies(server)[0]["properties"] == {"x": 1}
    assert bodies(server, "identify")[0]["traits"] == {"email": "jane@example.com", "name": "Jane"}
    # a timestamp is stamped at capture time when omitted
    assert all("timestamp" in b for b in bodies(server))


def test_user_id_cached_and_errors(server, client):
    first = client.user_id("visitor-x", timeout=5)
    assert first.startswith("hm_usr_")
    assert client.user_id("visitor-x") == first
    assert sum(1 for r in server.requests() if r["endpoint"] == "user-id") == 1
    with pytest.raises(himetrica.ValidationError, match="^visitorId: must not be empty$"):
        client.user_id("")


def test_user_id_not_found():
    strict = DevServer("--no-limits", "--no-auto-create")
    try:
        c = himetrica.Client(KEY, endpoint=strict.endpoint)
        with pytest.raises(himetrica.NotFoundError):
            c.user_id("unknown-visitor", timeout=5)
        c.shutdown(1)
    finally:
        strict.stop()


def test_user_id_timeout_releases_the_gil(server, client):
    server.faults(hang=True)
    ticks = []
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            ticks.append(1)
            stop.wait(0.01)

    t = threading.Thread(target=spin)
    t.start()
    with pytest.raises(himetrica.TimeoutError):
        client.user_id("slow-visitor", timeout=0.5)
    stop.set()
    t.join()
    assert len(ticks) > 10  # another Python thread ran while user_id waited
    assert isinstance(himetrica.TimeoutError("x"), TimeoutError)


def test_unauthorized(server):
    c = himetrica.Client("hm_sk_wrong_key_000000000000", endpoint=server.endpoint)
    with pytest.raises(himetrica.UnauthorizedError) as info:
        c.user_id("v", timeout=5)
    assert "hm_sk_wrong_key_000000000000" not in str(info.value)
    c.shutdown(1)


def test_flush_shutdown_and_after(server, client):
    client.track("x", visitor_id="v")
    result = client.flush(10)
    assert result.completed and result.pending == 0 and bool(result)
    assert client.shutdown(5).completed
    assert client.shutdown(5).completed  # safe to repeat
    with pytest.raises(himetrica.ShutDownError):
        client.track("x", visitor_id="v")


def test_flush_timeout_reports_pending(server):
    server.faults(hang=True)
    c = himetrica.Client(KEY, endpoint=server.endpoint, request_timeout=30)
    c.track("x", visitor_id="v")
    result = c.flush(0.3)
    assert not result and result.pending == 1
    dropped = c.shutdown(0.2)
    assert dropped.pending == 1
    assert c.stats()["dropped"] == 1


def test_queue_full(server):
    server.faults(hang=True)
    c = himetrica.Client(KEY, endpoint=server.endpoint, queue_capacity=2, request_timeout=30)
    with pytest.raises(himetrica.QueueFullError):
        for i in range(50):
            c.track("x", visitor_id="v")
    assert c.stats()["dropped"] >= 1
    c.shutdown(0.2)


def test_stats_names(server, client):
    client.track("x", visitor_id="v")
    client.flush(10)
    stats = client.stats()
    assert list(stats) == [
        "queued", "delivered", "rejected", "retried", "gave_up", "dropped", "throttled", "in_flight", "queue_depth",
        "shared_permits", "shared_fallbacks", "redis_errors",
        "spooled", "spool_bytes", "resent", "sender", "spool_errors",
    ]
    assert stats["queued"] == 1 and stats["delivered"] == 1


def test_context_manager(server):
    with himetrica.Client(KEY, endpoint=server.endpoint) as c:
        c.track("x", visitor_id="v")
    assert len(server.events()) == 1
    with pytest.raises(himetrica.ShutDownError):
        c.track("x", visitor_id="v")
    c.close()
    with pytest.raises(himetrica.ShutDownError):
        c.track("x", visitor_id="v")


def test_on_delivery_and_exceptions_are_logged(server, caplog):
    seen = []

    def callback(delivery):
        seen.append(delivery)
        raise RuntimeError("boom in callback")

    c = himetrica.Client(KEY, endpoint=server.endpoint, on_delivery=callback)
    with caplog.at_level(logging.WARNING, logger="himetrica"):
        c.track("x", visitor_id="v", properties={"a": 1})
        c.track("y", user_id="hm_usr_000000000000000000000000")  # unknown user: rejected (404)
        assert c.flush(10)
    c.shutdown(1)
    outcomes = sorted((d.endpoint, d.outcome, d.status) for d in seen)
    assert outcomes == [("track", "delivered", 202), ("track", "rejected", 404)]
    assert json.loads(next(d.body for d in seen if d.delivered))["properties"] == {"a": 1}
    assert any("on_delivery callback raised" in r.getMessage() for r in caplog.records)
    # the core's own log line about the rejection reached logging.getLogger("himetrica")
    assert any("rejected" in r.getMessage() and r.name == "himetrica" for r in caplog.records)


def test_repr_and_errors_hide_key(server):
    c = himetrica.Client(KEY, endpoint=server.endpoint)
    assert KEY not in repr(c) and "hm_sk_…0001" in repr(c)
    with pytest.raises(himetrica.ValidationError) as info:
        himetrica.Client("hm_sk_bad key!!", endpoint=server.endpoint)
    assert "bad key" not in str(info.value)
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(c)
    c.shutdown(1)


def test_missing_key(monkeypatch, server):
    monkeypatch.delenv("HIMETRICA_SECRET_KEY", raising=False)
    with pytest.raises(himetrica.ValidationError, match="HIMETRICA_SECRET_KEY"):
        himetrica.Client(endpoint=server.endpoint)
    monkeypatch.setenv("HIMETRICA_SECRET_KEY", KEY)
    monkeypatch.setenv("HIMETRICA_ENDPOINT", server.endpoint)
    c = himetrica.Client()
    c.track("env", visitor_id="v")
    assert c.flush(10)
    assert len(server.events()) == 1
    c.shutdown(1)


ALL_OPTIONS = dict(
    queue_capacity=500,
    max_in_flight=4,
    max_attempts=5,
    max_retry_age=60,
    retry_base_delay=0.1,
    retry_max_delay=2.5,
    connect_timeout=dt.timedelta(seconds=3),
    request_timeout=7,
    exit_flush_timeout=1.5,
    user_id_cache_capacity=100,
    not_found_cache_seconds=3,
    max_response_bytes=32768,
    ca_file="",
    allow_insecure_http=False,
    rate_limit_track=(100, 60),
    rate_limit_identify=himetrica.RateLimit(50, 30),
    rate_limit_user_id="10/60",
)


def test_every_option_accepted(server):
    c = himetrica.Client(KEY, endpoint=server.endpoint, **ALL_OPTIONS)
    c.track("x", visitor_id="v")
    c.identify(visitor_id="v", traits={})
    assert c.user_id("v").startswith("hm_usr_")
    assert c.flush(10)
    c.shutdown(1)
    c2 = himetrica.Client(KEY, endpoint=server.endpoint, rate_limit_track=None, rate_limit_user_id="none")
    c2.shutdown(0)


@pytest.mark.parametrize(
    "name,value,message",
    [
        ("queue_capacity", "many", "queue_capacity: must be an integer"),
        ("max_retry_age", "soon", "max_retry_age: must be a number"),
        ("allow_insecure_http", "yes", "allow_insecure_http: must be true or false"),
        ("rate_limit_track", "fast", "rate_limit_track: must be COUNT/SECONDS (e.g. 1000/60) or none"),
        ("no_such_option", 1, "no_such_option: is not a known option"),
        # The caller's name is shown escaped and cut after 64 characters.
        pytest.param('a\nb"c' + "x" * 5000, 1, 'a\\nb\\"c' + "x" * 59 + "…: is not a known option",
                     id="unknown name escaped and cut"),
    ],
)
def test_bad_options(server, name, value, message):
    with pytest.raises(himetrica.ValidationError) as info:
        himetrica.Client(KEY, endpoint=server.endpoint, **{name: value})
    assert str(info.value) == message


def test_insecure_http_refused_for_non_loopback():
    with pytest.raises(himetrica.ValidationError):
        himetrica.Client(KEY, endpoint="http://example.com/api/v1")


def test_type_errors_name_the_path(client):
    with pytest.raises(TypeError, match=r"^properties\.items\[2\]: "):
        client.track("x", visitor_id="v", properties={"items": [1, 2, object()]})
    with pytest.raises(TypeError, match=r"^properties\.a: keys must be str"):
        client.track("x", visitor_id="v", properties={"a": {1: "x"}})
    with pytest.raises(TypeError, match=r"^traits\.meta\.when: "):
        client.identify(visitor_id="v", traits={"meta": {"when": object()}})
    with pytest.raises(TypeError):
        client.track("x", visitor_id="v", properties=[1, 2])
    with pytest.raises(TypeError):
        client.track(42, visitor_id="v")
    loop: dict = {}
    loop["self"] = loop
    with pytest.raises(ValueError, match="circular"):
        client.track("x", visitor_id="v", properties=loop)


def test_nan_reaches_the_core_rule(client):
    with pytest.raises(himetrica.ValidationError) as info:
        client.track("x", visitor_id="v", properties={"a": float("nan")})
    assert str(info.value).startswith("properties.a: ")
    assert isinstance(info.value, ValueError)


def test_module_level_default_client(server):
    himetrica.init(KEY, endpoint=server.endpoint)
    himetrica.track("module", visitor_id="v")
    himetrica.identify(visitor_id="v", traits={"name": "V"})
    assert himetrica.user_id("v").startswith("hm_usr_")
    assert himetrica.flush(10)
    assert himetrica.stats()["delivered"] == 2
    assert himetrica.shutdown(1)
    assert len(server.events()) == 2


def test_library_version_and_path():
    assert himetrica.library_version().count(".") == 2
    assert himetrica.library_path().endswith("libhimetrica.so")


def test_missing_library_says_what_to_do(tmp_path):
    code = "import himetrica\ntry:\n  himetrica.Client('hm_sk_x')\nexcept ImportError as e:\n  print(type(e).__name__, e)"
    env = dict(os.environ, HIMETRICA_LIBRARY=str(tmp_path / "nope.so"), PYTHONPATH=os.path.dirname(himetrica.__path__[0]))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60).stdout
    assert "LibraryNotFoundError" in out and "make lib" in out and "HIMETRICA_LIBRARY" in out


def test_python_strings_the_core_cannot_take(client):
    with pytest.raises(himetrica.ValidationError) as info:
        client.track("x", visitor_id="v", properties={"a": "\ud800"})
    assert str(info.value) == "properties.a: must be valid Unicode (lone surrogate)"
    with pytest.raises(himetrica.ValidationError) as info:
        client.track("x", visitor_id="a\ud800")
    assert str(info.value) == "visitorId: must be valid UTF-8"
    with pytest.raises(himetrica.ValidationError) as info:
        client.track("sign\x00up", visitor_id="v")
    assert str(info.value) == "eventName: may contain only letters, digits, '_' and '-'"
    with pytest.raises(himetrica.ValidationError) as info:
        client.track("x", visitor_id="v", properties={"d": Decimal("NaN")})
    assert str(info.value).startswith("properties.d: ")


def test_more_conversions(server, client):
    from enum import IntEnum

    class Level(IntEnum):
        HIGH = 3

    naive = dt.datetime(2026, 5, 1, 8, 30, 15, 250000)
    client.track("x", visitor_id="v", timestamp=naive,
                 properties={"lvl": Level.HIGH, "big": Decimal("12345678901234567890.5"), "fs": frozenset([2, 1]),
                             "t": dt.time(9, 5)})
    assert client.flush(10)
    (body,) = bodies(server)
    assert body["timestamp"] == "2026-05-01T08:30:15.250000Z"
    assert body["properties"] == {"lvl": 3, "big": 12345678901234567890.5, "fs": [1, 2], "t": "09:05:00"}
