"""A headless chromium driven over the DevTools protocol, Python standard library only.

Chromium's `--remote-debugging-pipe` speaks the protocol as NUL-terminated JSON messages on
file descriptors 3 (commands in) and 4 (replies and events out), so no WebSocket client and no
network port are needed. Used by the dev server page's browser test and its screenshot script.
"""

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time


class BrowserError(Exception):
    """The browser could not start, timed out, or reported an error."""


class Browser:
    """One headless chromium with one page. Stop it with close() (or contextlib.closing)."""

    def __init__(self, width=1280, height=900, timeout=30.0):
        binary = shutil.which("chromium")
        if binary is None:
            raise BrowserError("chromium is not installed (.ci/install-deps installs it)")
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="devpage-chromium-")
        self._log = open(os.path.join(self._profile, "stderr.log"), "w")
        to_browser, self._out = os.pipe()
        self._in, from_browser = os.pipe()

        def as_fds_3_and_4():
            # Move both ends above 4 first, so neither is overwritten by the other's dup2.
            read_end, write_end = os.dup(to_browser), os.dup(from_browser)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        self._process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--remote-debugging-pipe", f"--user-data-dir={self._profile}",
             f"--window-size={width},{height}", "about:blank"],
            preexec_fn=as_fds_3_and_4, close_fds=False,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next_id = 0
        #: Uncaught exceptions and console errors the page reported, as text.
        self.page_errors = []
        try:
            targets = self._call("Target.getTargets")["targetInfos"]
            page = next((t for t in targets if t["type"] == "page"), None)
            if page is None:
                raise BrowserError("chromium opened no page")
            self._session = self._call("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]
            self.call("Page.enable")
            self.call("Runtime.enable")
            self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        except BaseException:
            self.close()
            raise

    def close(self):
        """Stops the browser and removes its profile."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        for fd in (self._in, self._out):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def _send(self, message):
        try:
            os.write(self._out, json.dumps(message).encode() + b"\0")
        except BrokenPipeError:
            raise BrowserError("chromium exited: " + self._stderr()) from None

    def _receive(self, deadline):
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._in], [], [], max(0.0, remaining))
            if not ready:
                raise BrowserError("no answer from chromium in time")
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise BrowserError("chromium exited: " + self._stderr())
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _stderr(self):
        self._log.flush()
        with open(self._log.name) as f:
            lines = [line for line in f if "dbus" not in line]
        return "".join(lines[-10:])

    def _call(self, method, session=None, **params):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self._send(message)
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._receive(deadline)
            self._note_error(reply)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})

    def _note_error(self, message):
        """Keeps what an event says went wrong in the page."""
        params = message.get("params", {})
        if message.get("method") == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.page_errors.append(details.get("exception", {}).get("description") or details.get("text"))
        elif message.get("method") == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.page_errors.append(" ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))

    def call(self, method, **params):
        """Sends a DevTools command to the page and returns its result."""
        return self._call(method, session=self._session, **params)

    def open(self, url):
        """Loads `url` and waits until its document has loaded."""
        result = self.call("Page.navigate", url=url)
        if result.get("errorText"):
            raise BrowserError(f"{url}: {result['errorText']}")
        self.wait_for("document.readyState === 'complete'")

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page (awaited when it is a promise)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"{expression}: {text}")
        return result["result"].get("value")

    def wait_for(self, expression, timeout=None):
        """Waits until `expression` is truthy in the page and returns its value."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out waiting for: {expression}")
            time.sleep(0.1)

    def screenshot(self, path):
        """Saves a PNG of the whole page (not just the window) to `path`."""
        height = self.evaluate("Math.ceil(document.documentElement.scrollHeight)")
        width = self.evaluate("document.documentElement.clientWidth")
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
