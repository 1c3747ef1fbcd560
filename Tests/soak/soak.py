#!/usr/bin/env python3
"""The fault soak: the C load (soak_load) against a himetrica-devserver that injects faults.

    soak.py --load PATH [--devserver PATH] [--events N] [--threads T] [--identities K]
            [--outage-at S ...] [--outage-seconds D] [--budget SECONDS] [--report FILE]

Starts the dev server on a free loopback port (no rate limits), sets 20% 503, 5% 429 with
Retry-After, 2% dropped connections and 0-20 ms latency, runs the load, and at each
--outage-at second takes the server down for --outage-seconds (PUT /_dev/faults with
downForSeconds). Afterwards it reads /_dev/events and /_dev/requests and checks:

* every call the client accepted arrived at least once (per identity, seq 0..n-1);
* duplicates (an event arriving twice) are counted, and only allowed where an answer was
  lost: a request the server recorded but the client saw fail;
* per-identity order: in acceptance order, each identity's seq never goes back;
* the counters add up: queued = delivered + rejected + gave_up + dropped (after the flush,
  with nothing in flight or queued), delivered = events that arrived, attempts = requests;
* memory bounded: the load's peak RSS (VmHWM) below --max-rss-mb.

Prints a report and exits 1 if a check fails. Every wait is bounded.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KEY = "hm_sk_soak_test_key_7f3a9c01"


def http(method: str, url: str, body: object | None = None, timeout: float = 60) -> object:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return json.loads(answer.read())


def start_devserver(binary: str, log_dir: str) -> tuple[subprocess.Popen, str]:
    out = open(os.path.join(log_dir, "devserver.out"), "w+")
    err = open(os.path.join(log_dir, "devserver.err"), "w")
    server = subprocess.Popen(
        [binary, "--port", "0", "--key", KEY, "--no-limits", "--max-log", "2000000"], stdout=out, stderr=err
    )
    for _ in range(400):  # at most 20 s
        out.seek(0)
        line = out.readline()
        if line.startswith("listening on "):
            return server, line.split()[-1].strip()
        if server.poll() is not None:
            break
        time.sleep(0.05)
    server.kill()
    sys.exit(f"devserver did not start; see {log_dir}")


def fetch_all(url: str, member: str) -> list[dict]:
    records: list[dict] = []
    for _ in range(10000):  # pages; bounded
        after = records[-1]["seq"] if records else 0
        page = http("GET", f"{url}?after={after}")[member]
        if not page:
            break
        records.extend(page)
    return records


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--load", required=True)
    parser.add_argument("--devserver", default=os.environ.get("HIMETRICA_DEVSERVER", f"{ROOT}/.build/debug/himetrica-devserver"))
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--identities", type=int, default=40, help="visitor ids per thread (half also get an email)")
    parser.add_argument("--outage-at", type=float, action="append", default=None)
    parser.add_argument("--outage-seconds", type=float, default=5)
    parser.add_argument("--retry-after", type=int, default=0)
    parser.add_argument("--budget", type=float, default=280, help="seconds the load may take")
    parser.add_argument("--max-rss-mb", type=float, default=256)
    parser.add_argument("--report")
    args = parser.parse_args()
    outages = args.outage_at if args.outage_at is not None else [20.0, 60.0]

    log_dir = tempfile.mkdtemp(prefix="himetrica-soak-")
    server, base = start_devserver(args.devserver, log_dir)
    faults = {"latencyMs": [0, 20], "errorRate": 0.2, "errorStatus": 503, "throttleRate": 0.05,
              "retryAfter": args.retry_after, "dropRate": 0.02, "seed": 7}
    try:
        http("PUT", f"{base}/_dev/faults", faults)
        env = dict(os.environ, HIMETRICA_ENDPOINT=f"{base}/api/v1", HIMETRICA_SECRET_KEY=KEY)
        load_err = open(os.path.join(log_dir, "load.err"), "w+")
        started = time.monotonic()
        load = subprocess.Popen(
            [args.load, str(args.events), str(args.threads), str(args.identities), str(args.budget)],
            stdout=subprocess.PIPE, stderr=load_err, env=env, text=True,
        )
        outage_log: list[str] = []

        def outage_driver() -> None:
            for n, at in enumerate(sorted(outages)):
                wait = started + at - time.monotonic()
                if wait > 0 and load.poll() is None:
                    time.sleep(wait)
                if load.poll() is not None:
                    outage_log.append(f"outage {n + 1} at {at:g} s: skipped (load finished)")
                    continue
                http("PUT", f"{base}/_dev/faults", dict(faults, downForSeconds=args.outage_seconds, seed=100 + n))
                outage_log.append(f"outage {n + 1}: {args.outage_seconds:g} s from {time.monotonic() - started:.1f} s")

        driver = threading.Thread(target=outage_driver, daemon=True)
        driver.start()
        try:
            stdout, _ = load.communicate(timeout=args.budget + 60)
        except subprocess.TimeoutExpired:
            load.kill()
            load.communicate()
            print(f"soak: the load did not finish within {args.budget + 60:g} s", file=sys.stderr)
            return 1
        driver.join(timeout=1)
        load_err.seek(0)
        load_stderr = load_err.read()
        if load.returncode != 0 or not stdout.strip():
            print(load_stderr, file=sys.stderr)
            print(f"soak: the load failed (exit {load.returncode})", file=sys.stderr)
            return 1
        result = json.loads(stdout)

        events = fetch_all(f"{base}/_dev/events", "events")
        requests = fetch_all(f"{base}/_dev/requests", "requests")
        server_stats = http("GET", f"{base}/_dev/stats")
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()

    failures: list[str] = []

    def check(ok: bool, message: str) -> None:
        if not ok:
            failures.append(message)

    # What arrived, per identity, in acceptance order.
    arrived: dict[str, list[int]] = {}
    for e in events:
        body = e["body"]
        identity = next((f"{kind}:{body[kind]}" for kind in ("visitorId", "email", "userId") if kind in body), "?")
        data = body.get("properties") if e["endpoint"] == "track" else body.get("traits")
        arrived.setdefault(identity, []).append(int(data["seq"]))

    expected = result["identities"]
    missing = duplicates = order_violations = 0
    for identity, count in expected.items():
        seqs = arrived.get(identity, [])
        seen: set[int] = set()
        last = -1
        for seq in seqs:
            if seq in seen:
                duplicates += 1
                # A resend comes right after its first arrival, before the next call's.
                if seq != last:
                    order_violations += 1
                continue
            if seq < last:
                order_violations += 1
            seen.add(seq)
            last = max(last, seq)
        missing += sum(1 for s in range(count) if s not in seen)
        check(all(s < count for s in seen), f"{identity}: an event that was never sent arrived")
    unexpected = sum(len(v) for k, v in arrived.items() if k not in expected)

    stats = result["stats"]
    accepted = sum(expected.values())
    faults_seen: dict[str, int] = {}
    for r in requests:
        faults_seen[r["fault"] or "none"] = faults_seen.get(r["fault"] or "none", 0) + 1
    answered_ok = sum(1 for r in requests if r["status"] in (200, 202))
    # Requests the server recorded (2xx) but whose answer the client never got are what may
    # legitimately arrive twice: 2xx answers beyond the client's delivered count.
    lost_answers = answered_ok - stats["delivered"]

    check(result["flushed"] and result["pending"] == 0, f"flush did not finish: {result['pending']} pending")
    check(result["call_errors"] == 0, f"{result['call_errors']} calls failed")
    check(missing == 0, f"{missing} accepted events never arrived")
    check(unexpected == 0, f"{unexpected} events of unknown identities arrived")
    check(duplicates <= max(lost_answers, 0), f"{duplicates} duplicates but only {lost_answers} lost answers")
    check(order_violations == 0, f"{order_violations} per-identity order violations")
    check(accepted == stats["queued"] - result["queue_full_refusals"],
          f"accepted {accepted} != queued {stats['queued']} - refused {result['queue_full_refusals']}")
    check(stats["queued"] == stats["delivered"] + stats["rejected"] + stats["gave_up"] + stats["dropped"]
          + stats["in_flight"] + stats["queue_depth"], "queued != delivered + rejected + gave_up + dropped (+ pending)")
    check(stats["in_flight"] == 0 and stats["queue_depth"] == 0, "requests left in flight or queued")
    check(stats["rejected"] == 0 and stats["gave_up"] == 0, f"rejected {stats['rejected']}, gave up {stats['gave_up']}")
    check(stats["dropped"] == result["queue_full_refusals"], "dropped != queue-full refusals")
    check(stats["delivered"] == len(events) - duplicates, f"delivered {stats['delivered']} != unique arrivals {len(events) - duplicates}")
    # Every attempt reaches the server once, except that libcurl itself resends a request once
    # on a fresh connection when a reused one was closed before any answer (a drop or down
    # fault): those resends are extra requests the engine does not count.
    attempts = stats["delivered"] + stats["rejected"] + stats["gave_up"] + stats["retried"]
    unanswered = faults_seen.get("drop", 0) + faults_seen.get("down", 0)
    resends = len(requests) - attempts
    check(0 <= resends <= unanswered,
          f"requests seen {len(requests)} vs attempts (outcomes + retries) {attempts}: off by more than the drops")
    cb = result["callback"]
    check((cb["delivered"], cb["rejected"], cb["gave_up"]) == (stats["delivered"], stats["rejected"], stats["gave_up"]),
          "the delivery callback's counts differ from the counters")
    peak_mb = result["peak_rss_kb"] / 1024
    check(peak_mb < args.max_rss_mb, f"peak RSS {peak_mb:.1f} MB >= {args.max_rss_mb:g} MB")

    lines = [
        f"fault soak: {args.events} events, {args.threads} threads, {len(expected)} identities "
        f"({sum(1 for k in expected if k.startswith('email:'))} by email after identify), track + identify",
        f"faults: 20% 503, 5% 429 (Retry-After: {args.retry_after}), 2% dropped connections, 0-20 ms latency; "
        + "; ".join(outage_log),
        f"duration: {result['duration']:.1f} s (calls made in {result['produce_seconds']:.1f} s), "
        f"{accepted / max(result['duration'], 1e-9):.0f} events/s delivered",
        f"requests seen by the server: {len(requests)}; by fault: "
        + ", ".join(f"{k} {v}" for k, v in sorted(faults_seen.items())),
        f"events accepted by the client: {accepted}; arrived: {len(events)}; missing: {missing}; "
        f"duplicates: {duplicates} (answers lost after the server recorded the event: {lost_answers}; "
        f"connections dropped without processing: {faults_seen.get('drop', 0) + faults_seen.get('down', 0)})",
        f"per-identity order violations: {order_violations}",
        f"attempts (outcomes + retries): {attempts}; requests seen: {len(requests)} "
        f"(+{resends} resent by libcurl on a fresh connection after a closed reused one)",
        "counters: " + ", ".join(f"{k} {v}" for k, v in stats.items())
        + f"; queued = delivered + rejected + gave_up + dropped: "
        f"{stats['queued']} = {stats['delivered']} + {stats['rejected']} + {stats['gave_up']} + {stats['dropped']}",
        f"queue-full refusals (retried by the load, counted as dropped): {result['queue_full_refusals']}",
        f"memory: peak RSS (VmHWM) {peak_mb:.1f} MB, RSS after client creation {result['rss_start_kb'] / 1024:.1f} MB",
        f"log lines (notice and above): {result['log_lines']}",
        "result: " + ("PASS" if not failures else "FAIL: " + "; ".join(failures)),
    ]
    report = "\n".join(lines)
    print(report)
    if args.report:
        os.makedirs(os.path.dirname(os.path.abspath(args.report)), exist_ok=True)
        with open(args.report, "w") as f:
            f.write(report + "\n")
    if failures:
        print(f"(logs in {log_dir})", file=sys.stderr)
        if load_stderr:
            print(load_stderr[-4000:], file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
