"""Starts a himetrica-devserver on a free loopback port and talks to it over real HTTP."""

import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KEY = "hm_sk_devpage_browser_test_0001"


class Answer:
    """An HTTP answer: status and JSON body (None when the body is not JSON)."""

    def __init__(self, status, text):
        self.status = status
        try:
            self.json = json.loads(text)
        except ValueError:
            self.json = None


class DevServer:
    """A dev server process (`--port 0`, flags as given); stop it with close()."""

    def __init__(self, *flags):
        binary = os.environ.get("HIMETRICA_DEVSERVER", os.path.join(ROOT, ".build", "debug", "himetrica-devserver"))
        self._log = tempfile.NamedTemporaryFile("w+", prefix="devpage-server-", suffix=".log")
        self._process = subprocess.Popen([binary, "--port", "0", "--key", KEY, *flags],
                                         stdout=subprocess.PIPE, stderr=self._log, text=True)
        line = self._process.stdout.readline()
        if not line.startswith("listening on "):
            self.close()
            raise RuntimeError("devserver did not start: " + line)
        self.url = line.split("listening on ", 1)[1].strip()

    def close(self):
        """Stops the server; with HIMETRICA_TEST_LOG_DIR set (make test) its log is kept there."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process.stdout.close()
        log_dir = os.environ.get("HIMETRICA_TEST_LOG_DIR")
        if log_dir:
            self._log.seek(0)
            with open(os.path.join(log_dir, f"devserver-page-{self._process.pid}.log"), "a") as f:
                f.write(self._log.read())
        self._log.close()

    def request(self, method, path, body=None, key=KEY):
        """Sends one request and returns its Answer (also for 4xx/5xx)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if key:
            request.add_header("X-API-Key", key)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return Answer(response.status, response.read().decode())
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.read().decode())

    def track(self, visitor, name, properties=None):
        return self.request("POST", "/api/v1/track",
                            {"visitorId": visitor, "eventName": name, "properties": properties or {}})

    def identify(self, visitor, traits):
        return self.request("POST", "/api/v1/identify", {"visitorId": visitor, "traits": traits})

    def dev(self, method, path, body=None):
        """A `/_dev/*` call (no key); its JSON body."""
        return self.request(method, path, body, key=None).json
