"""The dev server's page in a real browser (headless chromium): load it, send events, a 429
burst and an injected 5xx over real HTTP, and read what the page shows; change the faults
through its form and check the server took them.

    python3 Tests/devserver-page/test_page.py      (make test-devpage)
"""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from browser import Browser  # noqa: E402
from devserver import DevServer  # noqa: E402


def js(value):
    """A Python value as a JavaScript literal."""
    return json.dumps(value)


class DevPageTest(unittest.TestCase):
    def setUp(self):
        # A small track limit so that a burst of a few requests meets 429s.
        self.server = DevServer("--limit", "track=5/60", "--limit", "identify=100/60")
        self.addCleanup(self.server.close)
        self.browser = Browser()
        self.addCleanup(self.browser.close)

    def tearDown(self):
        # The page's script never failed (exceptions and console errors are collected).
        self.assertEqual(self.browser.page_errors, [])

    def text(self, selector):
        return self.browser.evaluate(f"document.querySelector({js(selector)})?.textContent ?? null")

    def chip(self, endpoint, status):
        """The text of the endpoint card's chip for `status` (None when there is none)."""
        return self.text(f"#ep-{endpoint} .chip[data-status='{status}']")

    def wait_chip(self, endpoint, status, count):
        self.browser.wait_for(
            f"document.querySelector(\"#ep-{endpoint} .chip[data-status='{status}']\")?.dataset.count === {js(str(count))}")
        self.assertEqual(self.chip(endpoint, status), f"{status}× {count}")

    def field(self, name):
        return self.browser.evaluate(f"document.getElementById('faults')[{js(name)}].value")

    def type_into(self, name, value):
        """Sets a form field as typing would: the value, then an input event."""
        self.browser.evaluate(
            f"(() => {{ const f = document.getElementById('faults')[{js(name)}]; f.value = {js(value)};"
            f" f.dispatchEvent(new Event('input', {{bubbles: true}})); }})()")

    def test_live_counters_window_log_events_and_fault_form(self):
        server, browser = self.server, self.browser
        # Faults set before the page loads show in its form.
        server.dev("PUT", "/_dev/faults", {"latencyMs": [1, 3], "errorStatus": 502, "retryAfter": 7, "seed": 42})
        browser.open(server.url + "/")
        browser.wait_for("document.getElementById('status').textContent.startsWith('live')")
        self.assertEqual(self.field("latencyMin"), "1")
        self.assertEqual(self.field("latencyMax"), "3")
        self.assertEqual(self.field("errorStatus"), "502")
        self.assertEqual(self.field("retryAfter"), "7")
        self.assertEqual(self.field("seed"), "42")
        self.assertEqual(self.field("errorRate"), "0")
        self.assertIn("latency 1–3 ms", self.text("#faults-summary"))
        self.assertEqual(self.text("#ep-track .window"), "0 / 5 in the last 60 s")

        # Events and a burst past the track limit (5/60 s), sent while the page is open.
        self.assertEqual(server.identify("visitor-1", {"name": "Ada", "email": "ada@example.com"}).status, 200)
        statuses = [server.track("visitor-1", "burst_event", {"n": i}).status for i in range(8)]
        self.assertEqual(statuses, [202] * 5 + [429] * 3)

        # Counters per endpoint and status.
        self.wait_chip("track", 202, 5)
        self.wait_chip("track", 429, 3)
        self.wait_chip("identify", 200, 1)
        # The window chart: 5 accepted against the limit of 5, a full window, with a 429 tick.
        self.assertEqual(self.text("#ep-track .window"), "5 / 5 in the last 60 s")
        self.assertTrue(browser.evaluate("document.querySelector('#ep-track .window').classList.contains('full-window')"))
        self.assertIn("hm_sk_…0001", self.text("#ep-track .keys"))
        browser.wait_for("document.querySelectorAll('#ep-track svg polyline').length === 1")
        browser.wait_for("document.querySelectorAll('#ep-track svg rect.mark').length >= 1")
        self.assertEqual(browser.evaluate("document.querySelectorAll('#ep-track svg line.limit').length"), 1)
        self.assertEqual(self.text("#ep-identify .window"), "1 / 100 in the last 60 s")

        # The request log: 9 rows, newest first, the three 429s marked.
        browser.wait_for("document.querySelectorAll('#request-rows tr').length === 9")
        rows = browser.evaluate("""[...document.querySelectorAll('#request-rows tr')].map(tr =>
            ({seq: tr.dataset.seq, cls: tr.className, status: tr.querySelector('.status').textContent,
              endpoint: tr.cells[3].textContent}))""")
        self.assertEqual([r["seq"] for r in rows], [str(n) for n in range(9, 0, -1)])
        self.assertEqual([r["status"] for r in rows], ["429"] * 3 + ["202"] * 5 + ["200"])
        self.assertEqual([r["cls"] for r in rows], ["throttled"] * 3 + ["ok"] * 6)
        self.assertEqual({r["endpoint"] for r in rows[:8]}, {"track"})
        # Every answered request had the injected latency.
        self.assertEqual(browser.evaluate("[...document.querySelectorAll('#request-rows .fault')].map(f => f.textContent)"),
                         ["latency"] * 9)

        # The event list: the identify and the five accepted tracks, newest first.
        browser.wait_for("document.querySelectorAll('#event-rows tr').length === 6")
        events = browser.evaluate("[...document.querySelectorAll('#event-rows tr')].map(tr => [...tr.cells].map(c => c.textContent))")
        self.assertEqual([e[2] for e in events], ["track"] * 5 + ["identify"])
        self.assertEqual([e[4] for e in events[:5]], ["burst_event"] * 5)
        self.assertIn('"n": 4', events[0][5])
        self.assertIn("visitorId visitor-1", events[-1][3])
        self.assertIn('"name": "Ada"', events[-1][5])

        # The form changes the server's faults: every request answered 502 from now on; the
        # other fields keep what the form showed.
        self.type_into("errorRate", "1")
        self.assertEqual(self.text("#faults-message"), "edited: not applied yet")
        browser.evaluate("document.querySelector('#faults button[type=submit]').click()")
        browser.wait_for("document.getElementById('faults-message').textContent === 'applied'")
        faults = server.dev("GET", "/_dev/faults")
        self.assertEqual(faults["errorRate"], 1)
        self.assertEqual(faults["errorStatus"], 502)
        self.assertEqual(faults["latencyMs"], [1, 3])
        self.assertEqual(faults["retryAfter"], 7)
        self.assertEqual(faults["seed"], 42)
        self.assertIn("100% 502", self.text("#faults-summary"))
        self.assertEqual(server.request("GET", "/api/v1/user-id?visitorId=visitor-1").status, 502)
        self.wait_chip("user-id", 502, 1)
        browser.wait_for("document.querySelector('#request-rows tr')?.dataset.seq === '10'")
        newest = browser.evaluate("""(() => { const tr = document.querySelector('#request-rows tr');
            return [tr.className, tr.querySelector('.status').textContent, tr.querySelector('.fault').textContent]; })()""")
        self.assertEqual(newest, ["error", "502", "error"])

        # A value the server refuses: its message shows and the settings stay as they were.
        self.type_into("dropRate", "2")
        browser.evaluate("document.querySelector('#faults button[type=submit]').click()")
        browser.wait_for("document.getElementById('faults-message').className === 'error'")
        self.assertEqual(self.text("#faults-message"), "dropRate must be a number in 0.0...1.0")
        self.assertEqual(server.dev("GET", "/_dev/faults")["dropRate"], 0)

        # "All off" clears every fault, and the form follows.
        browser.evaluate("document.getElementById('faults-off').click()")
        browser.wait_for("document.getElementById('faults-message').textContent === 'applied'")
        self.assertEqual(server.dev("GET", "/_dev/faults")["errorRate"], 0)
        self.assertEqual(self.text("#faults-summary"), "no faults: every request is answered normally")
        self.assertEqual(self.field("dropRate"), "0")
        self.assertEqual(self.field("latencyMin"), "")

        # The page fetched nothing but the dev server's own URLs.
        origins = browser.evaluate("[...new Set(performance.getEntriesByType('resource').map(e => new URL(e.name).origin))]")
        self.assertEqual(origins, [server.url])

        # A reset empties the page's logs and counters.
        server.dev("POST", "/_dev/reset")
        browser.wait_for("document.querySelectorAll('#request-rows tr, #event-rows tr').length === 0")
        browser.wait_for("document.querySelector('#ep-track .chip') === null")
        self.assertEqual(self.text("#ep-track .window"), "0 / 5 in the last 60 s")

    def test_no_answer_and_outage_are_marked(self):
        server, browser = self.server, self.browser
        server.dev("PUT", "/_dev/faults", {"dropRate": 1})
        browser.open(server.url + "/")
        browser.wait_for("document.getElementById('status').textContent.startsWith('live')")
        with self.assertRaises(OSError):
            server.track("visitor-2", "never_arrives")
        browser.wait_for("document.querySelectorAll('#request-rows tr').length === 1")
        row = browser.evaluate("""(() => { const tr = document.querySelector('#request-rows tr');
            return [tr.className, tr.querySelector('.status').textContent, tr.querySelector('.fault').textContent]; })()""")
        self.assertEqual(row, ["noanswer", "no answer", "drop"])
        browser.wait_for("document.querySelector(\"#totals dd[data-total='fault: drop']\")?.textContent === '1'")
        self.assertEqual(browser.evaluate("document.querySelectorAll('#event-rows tr').length"), 0)

        # An outage: the form shows the seconds still to come (counting down), so applying the
        # form later does not start a finished outage again.
        server.dev("PUT", "/_dev/faults", {"downForSeconds": 30})
        browser.wait_for("document.getElementById('faults-summary').textContent.includes('down for')")
        shown = float(browser.wait_for("Number(document.getElementById('faults').downForSeconds.value) > 0"
                                       " && document.getElementById('faults').downForSeconds.value"))
        self.assertTrue(20 < shown <= 30, shown)
        self.assertEqual(self.field("dropRate"), "0")
        with self.assertRaises(OSError):
            server.track("visitor-2", "during_outage")
        browser.wait_for("document.querySelector('#request-rows tr')?.dataset.fault === 'down'")
        server.dev("PUT", "/_dev/faults", {"downForSeconds": 0.3})
        browser.wait_for("document.getElementById('faults').downForSeconds.value === '0'")
        browser.evaluate("document.querySelector('#faults button[type=submit]').click()")
        browser.wait_for("document.getElementById('faults-message').textContent === 'applied'")
        self.assertEqual(server.dev("GET", "/_dev/faults")["downRemainingSeconds"], 0)
        self.assertEqual(server.track("visitor-2", "after_outage").status, 202)


if __name__ == "__main__":
    unittest.main(verbosity=2)
