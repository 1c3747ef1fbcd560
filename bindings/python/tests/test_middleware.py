"""A real gunicorn (--preload, 2 workers) serving Flask, and a real uvicorn serving Starlette,
with the middleware, over loopback: events arrive with the visitor from the hm_vid cookie."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

import himetrica
from conftest import KEY, REPO
from himetrica._middleware import RequestTracking

APPS = Path(__file__).resolve().parent / "apps"
# The request-tracking contract of every Himetrica middleware.
CONTRACT = json.loads((REPO / "Tests" / "vectors" / "request-tracking.json").read_text())


def violations(body: dict, method: str, routes: set, status: int) -> list:
    """How a received request event breaks the contract: [] when it keeps it."""
    found = []
    expected = CONTRACT["serverErrorEventName"] if status >= CONTRACT["serverErrorFromStatus"] else CONTRACT["eventName"]
    p = body.get("properties", {})
    if body["eventName"] != expected:
        found.append(f"eventName {body['eventName']} != {expected}")
    if sorted(p) != CONTRACT["propertyNames"]:
        found.append(f"properties {sorted(p)}")
    if p.get("method") != method:
        found.append(f"method {p.get('method')}")
    if p.get("route") not in routes:
        found.append(f"route {p.get('route')} not in {routes}")
    if p.get("status") != status:
        found.append(f"status {p.get('status')}")
    d = p.get("durationMs")
    if not isinstance(d, (int, float)) or d < 0 or abs(d * 10 ** CONTRACT["durationDecimals"] - round(d * 10 ** CONTRACT["durationDecimals"])) > 1e-6:
        found.append(f"durationMs {d}")
    return found


def test_request_tracking_contract():
    """Defaults, excluded paths, events and sampling as Tests/vectors/request-tracking.json says."""
    from himetrica import asgi, wsgi

    defaults = RequestTracking()
    assert defaults.event_name == CONTRACT["eventName"]
    assert defaults.server_error_event_name == CONTRACT["serverErrorEventName"]
    assert defaults.sample_rate == CONTRACT["defaults"]["sampleRate"]
    assert list(defaults.excluded_paths) == CONTRACT["defaults"]["excludedPaths"]
    for middleware in (wsgi.HimetricaMiddleware(lambda e, s: []), asgi.HimetricaMiddleware(None)):
        assert middleware.tracking.event_name == CONTRACT["eventName"]
        assert middleware.tracking.server_error_event_name == CONTRACT["serverErrorEventName"]
    for case in CONTRACT["excludedPaths"]:
        assert (not RequestTracking(excluded_paths=case["excluded"]).is_excluded(case["path"])) == case["tracked"], case
    for case in CONTRACT["events"]:
        assert RequestTracking(sample_rate=case["sampleRate"]).event_for(case["status"], case["draw"]) == case["event"], case
    assert sorted(RequestTracking.properties("GET", None, 200, 1.2345678)) == CONTRACT["propertyNames"]
    with pytest.raises(ValueError, match="sample_rate"):
        RequestTracking(sample_rate=2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, visitor: str) -> int:
    request = urllib.request.Request(url, headers={"Cookie": f"theme=dark; hm_vid={visitor}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def serve(cmd: list[str], port: int, server) -> subprocess.Popen:
    env = dict(os.environ, HM_KEY=KEY, HM_ENDPOINT=server.endpoint,
               PYTHONPATH=os.pathsep.join([str(APPS), os.path.dirname(himetrica.__path__[0])]))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read())
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def check(server, base: str, count: int, route: set, error_route: set, extra: int = 0):
    statuses = [get(f"{base}/items/{i}", f"vid-{i % 4}") for i in range(count)]
    assert statuses == [200] * count
    assert get(f"{base}/boom", "vid-err") == 500
    events = server.wait_events(2 * count + 1 + extra, timeout=20)
    viewed = [e for e in events if e["body"]["eventName"] == "viewed_item"]
    requests = [e["body"] for e in events if e["body"]["eventName"] == CONTRACT["eventName"]]
    assert len(viewed) == count
    assert sorted(e["body"]["properties"]["item"] for e in viewed) == list(range(count))
    assert Counter(e["body"]["visitorId"] for e in viewed) == {f"vid-{k}": count // 4 for k in range(4)}
    assert len(requests) == count
    assert [v for r in requests for v in violations(r, "GET", route, 200)] == []
    errors = [e["body"] for e in events if e["body"]["eventName"] == CONTRACT["serverErrorEventName"]]
    assert len(errors) == 1 and errors[0]["visitorId"] == "vid-err"
    assert violations(errors[0], "GET", error_route, 500) == []
    return events


def test_gunicorn_preload_two_workers_flask(server):
    pytest.importorskip("flask")
    pytest.importorskip("gunicorn")
    port = free_port()
    proc = serve([sys.executable, "-m", "gunicorn", "--preload", "-w", "2", "-b", f"127.0.0.1:{port}",
                  "flask_app:app"], port, server)
    try:
        events = check(server, f"http://127.0.0.1:{port}", 40, {"/items/<int:item_id>"}, {"/boom"}, extra=1)
    finally:
        stop(proc)
    time.sleep(0.5)
    events = server.events()
    # the event queued in the master before the fork was sent once, not once per worker
    assert sum(1 for e in events if e["body"]["eventName"] == "preloaded") == 1


def test_uvicorn_starlette(server):
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    port = free_port()
    proc = serve([sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port),
                  "--log-level", "warning", "starlette_app:app"], port, server)
    try:
        check(server, f"http://127.0.0.1:{port}", 20, {"/items/{item_id}", None}, {"/boom", None})
    finally:
        stop(proc)


def test_wsgi_and_asgi_keep_the_contract_without_a_route(server):
    """Both middlewares in-process with a real client: excluded paths, sampling and a 5xx as the
    contract says, and a null route where the app has no route template."""
    import asyncio

    from himetrica import asgi, wsgi

    client = himetrica.Client(KEY, endpoint=server.endpoint, rate_limit_track=None)
    options = dict(track_requests=True, excluded_paths=["/health"], sample_rate=0)
    paths = ["/health", "/health/db", "/healthz", "/fail"]  # /healthz is sampled out; the 503 is not

    def wsgi_app(environ, start_response):
        start_response("503 Service Unavailable" if environ["PATH_INFO"] == "/fail" else "200 OK", [])
        return [b"ok"]

    middleware = wsgi.HimetricaMiddleware(wsgi_app, client, **options)
    for path in paths:
        environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET", "HTTP_COOKIE": "hm_vid=v-wsgi"}
        result = middleware(environ, lambda status, headers, exc_info=None: None)
        list(result)
        getattr(result, "close", lambda: None)()  # as a WSGI server does

    async def asgi_app(scope, receive, send):
        await send({"type": "http.response.start", "status": 503 if scope["path"] == "/fail" else 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def run_asgi():
        middleware = asgi.HimetricaMiddleware(asgi_app, client, **options)

        async def send(message):
            pass

        for path in paths:
            scope = {"type": "http", "method": "POST", "path": path, "headers": [(b"cookie", b"hm_vid=v-asgi")]}
            await middleware(scope, None, send)

    asyncio.run(run_asgi())
    assert client.flush(10).completed
    events = {e["body"]["visitorId"]: e["body"] for e in server.wait_events(2, timeout=10)}
    assert sorted(events) == ["v-asgi", "v-wsgi"]
    assert violations(events["v-wsgi"], "GET", {None}, 503) == []
    assert violations(events["v-asgi"], "POST", {None}, 503) == []
    client.shutdown(5)
