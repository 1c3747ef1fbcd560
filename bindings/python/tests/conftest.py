"""Fixtures: a himetrica-devserver on a free loopback port, reset before each test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
KEY = "hm_sk_test_python_0001"

if not os.environ.get("HIMETRICA_TEST_INSTALLED"):
    # Test the source tree unless told to test an installed wheel.
    sys.path.insert(0, str(HERE.parent / "src"))


def devserver_binary() -> str:
    path = os.environ.get("HIMETRICA_DEVSERVER") or str(REPO / ".build" / "debug" / "himetrica-devserver")
    if not Path(path).is_file():
        pytest.skip(f"himetrica-devserver not built ({path}); run `swift build --product himetrica-devserver`")
    return path


class DevServer:
    def __init__(self, *flags: str) -> None:
        self.process = subprocess.Popen(
            [devserver_binary(), "--port", "0", "--key", KEY, *flags],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if line.startswith("listening on "):
                break
        else:
            self.process.kill()
            raise RuntimeError("devserver did not start")
        self.base = line.split("listening on ", 1)[1].strip()
        self.endpoint = self.base + "/api/v1"

    def _call(self, method: str, path: str, body: object = None) -> object:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read() or b"null")

    def reset(self) -> None:
        self._call("PUT", "/_dev/faults", {})
        self._call("POST", "/_dev/reset")

    def faults(self, **settings: object) -> None:
        self._call("PUT", "/_dev/faults", settings)

    def events(self) -> list:
        return self._call("GET", "/_dev/events")["events"]

    def requests(self) -> list:
        return self._call("GET", "/_dev/requests")["requests"]

    def stats(self) -> dict:
        return self._call("GET", "/_dev/stats")

    def wait_events(self, count: int, timeout: float = 30.0) -> list:
        deadline = time.monotonic() + timeout
        events = self.events()
        while len(events) < count and time.monotonic() < deadline:
            time.sleep(0.05)
            events = self.events()
        return events

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="session")
def _devserver():
    server = DevServer("--no-limits")
    yield server
    server.stop()


@pytest.fixture
def server(_devserver):
    _devserver.reset()
    return _devserver


@pytest.fixture
def client(server):
    import himetrica

    c = himetrica.Client(KEY, endpoint=server.endpoint, rate_limit_track=None, rate_limit_identify=None)
    yield c
    c.shutdown(5)


@pytest.fixture(scope="session")
def key() -> str:
    return KEY
