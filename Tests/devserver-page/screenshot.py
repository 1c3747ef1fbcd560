"""Makes the README's picture of the dev server's page (make screenshot).

Starts a dev server with a small track limit, opens the page in headless chromium, sends a
little of what an app sends (identifies, tracks, a burst past the limit, a few injected 503s,
a dropped connection), waits until the page shows it, and saves a PNG.

    python3 Tests/devserver-page/screenshot.py docs/devserver-page.png
"""

import os
import sys
import time
from contextlib import closing

sys.path.insert(0, os.path.dirname(__file__))
from browser import Browser  # noqa: E402
from devserver import DevServer  # noqa: E402


def main(path):
    with closing(DevServer("--limit", "track=30/15")) as server, closing(Browser(width=1280, height=900)) as browser:
        browser.open(server.url + "/")
        browser.wait_for("document.getElementById('status').textContent.startsWith('live')")
        people = [("visitor-ada", "Ada", "ada@example.com"), ("visitor-grace", "Grace", "grace@example.com")]
        for visitor, name, email in people:
            server.identify(visitor, {"name": name, "email": email, "plan": "team"})
        # Steady tracks for about 12 s, so the window chart climbs.
        for i in range(24):
            visitor = people[i % 2][0]
            server.track(visitor, ["page_viewed", "invoice_paid", "signup_completed"][i % 3],
                         {"amount": 10 + i, "currency": "EUR"} if i % 3 == 1 else {"path": f"/docs/{i}"})
            time.sleep(0.5)
        server.request("GET", "/api/v1/user-id?visitorId=visitor-ada")
        # A burst past the limit (30 per 15 s): the last ones are answered 429.
        for i in range(10):
            server.track("visitor-grace", "burst_event", {"n": i})
        # Some injected 503s and a dropped connection, then faults as a newcomer might leave them.
        server.dev("PUT", "/_dev/faults", {"errorRate": 1, "errorStatus": 503})
        for _ in range(2):
            server.identify("visitor-ada", {"name": "Ada"})
        server.dev("PUT", "/_dev/faults", {"dropRate": 1})
        try:
            server.request("GET", "/api/v1/user-id?visitorId=visitor-grace")
        except OSError:
            pass
        server.dev("PUT", "/_dev/faults", {"latencyMs": [20, 80], "errorRate": 0.1, "errorStatus": 503, "seed": 7})
        sent = len(server.dev("GET", "/_dev/requests")["requests"])
        browser.wait_for(f"document.querySelectorAll('#request-rows tr').length === {sent}")
        time.sleep(4)  # a few more chart samples, as the window starts to empty
        browser.screenshot(path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/devserver-page.png")
