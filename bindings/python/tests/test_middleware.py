"""A real gunicorn (--preload, 2 workers) serving Flask, and a real uvicorn serving Starlette,
with the middleware, over loopback: events arrive with the visitor from the hm_vid cookie."""

from __future__ import annotations

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
from conftest import KEY

APPS = Path(__file__).resolve().parent / "apps"


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


def check(server, base: str, count: int, route: set, extra: int = 0):
    statuses = [get(f"{base}/items/{i}", f"vid-{i % 4}") for i in range(count)]
    assert statuses == [200] * count
    assert get(f"{base}/boom", "vid-err") == 500
    events = server.wait_events(2 * count + 1 + extra, timeout=20)
    viewed = [e for e in events if e["body"]["eventName"] == "viewed_item"]
    requests = [e for e in events if e["body"]["eventName"] == "request"]
    assert len(viewed) == count
    assert sorted(e["body"]["properties"]["item"] for e in viewed) == list(range(count))
    assert Counter(e["body"]["visitorId"] for e in viewed) == {f"vid-{k}": count // 4 for k in range(4)}
    ok = [r["body"]["properties"] for r in requests if r["body"]["visitorId"] != "vid-err"]
    assert len(ok) == count and all(p["method"] == "GET" and p["status"] == 200 for p in ok)
    assert {p["route"] for p in ok} <= route
    errors = [r["body"]["properties"] for r in requests if r["body"]["visitorId"] == "vid-err"]
    assert len(errors) == 1 and errors[0]["status"] == 500
    return events


def test_gunicorn_preload_two_workers_flask(server):
    pytest.importorskip("flask")
    pytest.importorskip("gunicorn")
    port = free_port()
    proc = serve([sys.executable, "-m", "gunicorn", "--preload", "-w", "2", "-b", f"127.0.0.1:{port}",
                  "flask_app:app"], port, server)
    try:
        events = check(server, f"http://127.0.0.1:{port}", 40, {"/items/<int:item_id>"}, extra=1)
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
        check(server, f"http://127.0.0.1:{port}", 20, {"/items/{item_id}", None})
    finally:
        stop(proc)
