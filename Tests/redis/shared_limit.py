#!/usr/bin/env python3
"""Many hosts, one key: the shared rate limit against a real redis-server and the dev server.

Each scenario starts its own dev server (track limited to COUNT/WINDOW, default 60/5 s) and
redis-server on free ports, runs HOSTS processes of redis_load (each its own client, as
separate hosts would be, each in its own network namespace where the machine allows: see
host_network.py) and ends everything it started:

  shared    all hosts with shared_limit: together >= 95% of the limit, 0 answers 429
  unshared  the same hosts without it: their 429 count, for comparison
  outage    Redis stopped at 4 s and started again at 8 s: nothing lost, 429s bounded,
            shared permits resume
  hang      Redis paused (SIGSTOP) for 3 s: no call blocks, nothing lost, permits resume
  password  a wrong password: one log line, never the password, delivery goes on

Prints one line of numbers per scenario and fails (exit 1) when a check fails.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from host_network import HostNetwork

KEY = "hm_sk_shared_limit_test_5d21e0c4"
PASSWORD = "redis-pass-9f1c2e77"
WRONG_PASSWORD = "wrong-pass-3b8a61d0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: Where the hosts run (set by main(); loopback until then, as for bench/shared_limit.py).
NET = HostNetwork(0, wanted=False)


def http(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


class Redis:
    """A redis-server on a free port of the servers' address, no persistence (a restart forgets
    everything)."""

    def __init__(self, log_dir: str, password: str | None = None):
        self.port = free_port()
        self.host = NET.server_host
        self.password = password
        self.log = open(os.path.join(log_dir, f"redis-{self.port}.log"), "a")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", self.host, "--save", "", "--appendonly", "no",
                   # Without a password Redis answers only loopback clients unless told otherwise;
                   # the bind address is one of the test's own namespaces.
                   "--protected-mode", "yes" if self.host == "127.0.0.1" else "no"]
        if self.password:
            command += ["--requirepass", self.password]
        self.process = subprocess.Popen(command, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64):
                        return
            except OSError:
                time.sleep(0.02)
        raise SystemExit("redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def url(self, password: str | None = None, db: int = 0) -> str:
        credentials = f":{password}@" if password else ""
        return f"redis://{credentials}{self.host}:{self.port}" + (f"/{db}" if db else "")


class DevServer:
    def __init__(self, binary: str, log_dir: str, limit: str):
        self.out = open(os.path.join(log_dir, "devserver.out"), "w+")
        self.process = subprocess.Popen(
            [binary, "--host", NET.server_host, "--port", "0", "--key", KEY, "--no-limits", "--limit", f"track={limit}"],
            stdout=self.out, stderr=open(os.path.join(log_dir, "devserver.err"), "w"))
        for _ in range(400):
            self.out.seek(0)
            line = self.out.readline()
            if line.startswith("listening on "):
                self.base = line.split()[-1].strip()
                return
            time.sleep(0.05)
        self.process.kill()
        raise SystemExit("devserver did not start")

    def statuses(self) -> dict | None:
        """The track answers by status; None off loopback, where /_dev is not served."""
        if not NET.server_host.startswith("127."):
            return None
        return http(f"{self.base}/_dev/stats")["endpoints"].get("track", {})

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def run_hosts(args, server: DevServer, log_dir: str, name: str, options: list[str], seconds: float,
              during=None, env_shared: str | None = None) -> list[dict]:
    """Runs the hosts; returns per host its ticks and final line (and its stderr text)."""
    hosts = []
    for n in range(args.hosts):
        env = dict(os.environ, HIMETRICA_ENDPOINT=f"{server.base}/api/v1", HIMETRICA_SECRET_KEY=KEY)
        env.pop("HIMETRICA_SHARED_LIMIT", None)
        host_options = NET.client_options() + list(options)
        # One host takes the Redis URL from the environment, as a deployment would.
        if env_shared and n == 0:
            env["HIMETRICA_SHARED_LIMIT"] = env_shared
        elif env_shared:
            host_options.append(f"shared_limit={env_shared}")
        err = open(os.path.join(log_dir, f"{name}-host{n}.err"), "w+")
        process = subprocess.Popen(
            [*NET.host_command(n), args.load, str(seconds), f"rate_limit_track={args.limit}", *host_options],
            stdout=subprocess.PIPE, stderr=err, env=env, text=True)
        hosts.append((process, err))
    if during:
        during()
    results = []
    for process, err in hosts:
        out, _ = process.communicate(timeout=seconds + 90)
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        err.seek(0)
        results.append({"ticks": [l for l in lines if not l.get("final")],
                        "final": next((l for l in lines if l.get("final")), None),
                        "stderr": err.read(), "rc": process.returncode})
    return results


failures: list[str] = []


def check(ok: bool, message: str) -> None:
    if not ok:
        failures.append(message)
        print(f"  FAIL: {message}")


def delivered_by(results: list[dict], t: float) -> int:
    total = 0
    for r in results:
        ticks = [tick for tick in r["ticks"] if tick["t"] <= t]
        total += ticks[-1]["delivered"] if ticks else 0
    return total


def summary(results: list[dict]) -> dict:
    keys = ["sent", "delivered", "throttled", "dropped", "gave_up", "pending", "shared_permits", "shared_fallbacks", "redis_errors"]
    total = {k: sum(r["final"][k] for r in results) for k in keys}
    total["max_call_us"] = max(r["final"]["max_call_us"] for r in results)
    return total


def answers_429(name: str, server: DevServer, total: dict) -> int:
    """The 429 answers of this run, as the hosts counted them (`throttled`); where the dev
    server's own count can be read (loopback), it must be the same."""
    statuses = server.statuses()
    if statuses is not None:
        check(statuses.get("429", 0) == total["throttled"],
              f"{name}: the server answered 429 {statuses.get('429', 0)} times, the hosts saw {total['throttled']}")
    return total["throttled"]


def nothing_lost(name: str, results: list[dict], total: dict) -> None:
    for r in results:
        check(r["rc"] == 0 and r["final"] is not None, f"{name}: a host failed: {r['stderr'][-500:]}")
    check(total["sent"] == total["delivered"] and total["pending"] == 0 and total["dropped"] == 0 and total["gave_up"] == 0,
          f"{name}: not everything sent was delivered: {total}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--load", required=True)
    parser.add_argument("--devserver", required=True)
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--limit", default="60/5")
    parser.add_argument("--seconds", type=float, default=10, help="tracking time of shared/unshared (a multiple of the window)")
    parser.add_argument("--scenarios", default="shared,unshared,outage,hang,password")
    parser.add_argument("--log-dir", default=None)
    parser.add_argument("--no-netns", action="store_true", help="all hosts on loopback, no network namespaces")
    args = parser.parse_args()
    global NET
    NET = HostNetwork(args.hosts, wanted=not args.no_netns)
    try:
        return run(args)
    finally:
        NET.close()


def run(args) -> int:
    count, window = (float(x) for x in args.limit.split("/"))
    log_dir = args.log_dir or tempfile.mkdtemp(prefix="shared-limit-")
    os.makedirs(log_dir, exist_ok=True)
    print(f"shared limit: {args.hosts} hosts, track limit {args.limit} s, logs in {log_dir}")
    print(f"shared limit: network: {NET.reason}")
    everything = ""

    for name in args.scenarios.split(","):
        server = DevServer(args.devserver, log_dir, args.limit)
        redis = Redis(log_dir, password=PASSWORD if name in ("shared", "password") else None)
        redis.start()
        try:
            if name in ("shared", "unshared"):
                shared = redis.url(PASSWORD, db=2) if name == "shared" else None
                results = run_hosts(args, server, log_dir, name, [], args.seconds, env_shared=shared)
                total = summary(results)
                throttled = answers_429(name, server, total)
                rate = delivered_by(results, args.seconds) / (count * args.seconds / window)
                print(f"{name:9} delivered in {args.seconds:g} s: {delivered_by(results, args.seconds)} "
                      f"({rate:.1%} of the limit), 429 answers: {throttled}, "
                      f"shared_permits {total['shared_permits']}, redis_errors {total['redis_errors']}, "
                      f"slowest track call {total['max_call_us']:.0f} us")
                nothing_lost(name, results, total)
                if name == "shared":
                    check(throttled == 0, f"shared: the server answered 429 {throttled} times")
                    check(rate >= 0.95, f"shared: delivered {rate:.1%} of the limit (< 95%)")
                    check(total["shared_permits"] == total["delivered"], f"shared: not every request had a shared permit: {total}")
                    check(total["redis_errors"] == 0, f"shared: Redis errors: {total}")
            elif name in ("outage", "hang"):
                seconds = 14
                marks = {}

                def during():
                    start = time.monotonic()
                    if name == "outage":
                        time.sleep(4)
                        redis.stop()
                        marks["down"] = time.monotonic() - start
                        time.sleep(4)
                        redis.start()
                        marks["up"] = time.monotonic() - start
                    else:
                        time.sleep(3)
                        redis.process.send_signal(signal.SIGSTOP)
                        marks["down"] = time.monotonic() - start
                        time.sleep(3)
                        redis.process.send_signal(signal.SIGCONT)
                        marks["up"] = time.monotonic() - start

                results = run_hosts(args, server, log_dir, name, [], seconds, during=during, env_shared=redis.url())
                total = summary(results)
                throttled = answers_429(name, server, total)
                resumed = []
                for r in results:
                    before = [t for t in r["ticks"] if t["t"] <= marks["up"]]
                    base = before[-1]["shared_permits"] if before else 0
                    later = [t["t"] for t in r["ticks"] if t["t"] > marks["up"] and t["shared_permits"] > base]
                    resumed.append(later[0] - marks["up"] if later else float("inf"))
                fell = [r["stderr"].count("shared rate limit: Redis unavailable") for r in results]
                back = [r["stderr"].count("shared rate limit: Redis is back") for r in results]
                print(f"{name:9} Redis away {marks['up'] - marks['down']:.1f} s: 429 answers {throttled}, "
                      f"delivered {total['delivered']}/{total['sent']}, fallbacks {total['shared_fallbacks']}, "
                      f"redis_errors {total['redis_errors']}, first shared permit after its return "
                      f"{min(resumed):.2f} s (per host: {', '.join(f'{x:.1f}' for x in resumed)}), "
                      f"slowest track call {total['max_call_us']:.0f} us")
                nothing_lost(name, results, total)
                # A host that did not need Redis while it was away never noticed: it need not fall back.
                check(total["shared_fallbacks"] >= 1, f"{name}: no host fell back: {total}")
                check(fell == back and all(f <= 1 for f in fell), f"{name}: expected one warning and one 'back' line per host that fell back: {fell} {back}")
                check(min(resumed) <= 6, f"{name}: shared permits did not resume within 6 s: {resumed}")
                check(throttled <= 30 * args.hosts / 4, f"{name}: {throttled} answers 429 (goal <= 30)")
                # A call that waited for Redis would take the 200 ms timeout at least; less is
                # the machine's scheduling (2 busy cores).
                check(total["max_call_us"] < 200_000, f"{name}: a track call took {total['max_call_us']:.0f} us")
            elif name == "password":
                results = run_hosts(args, server, log_dir, name, [], 3, env_shared=redis.url(WRONG_PASSWORD))
                total = summary(results)
                warnings = [sum("shared rate limit: Redis unavailable" in line for line in r["stderr"].splitlines()) for r in results]
                print(f"{name:9} wrong password: warnings per host {warnings}, delivered {total['delivered']}/{total['sent']}, "
                      f"redis_errors {total['redis_errors']}")
                nothing_lost(name, results, total)
                check(all(w == 1 for w in warnings), f"password: expected one warning per host, got {warnings}")
                check(all("refused the credentials" in r["stderr"] for r in results), "password: the log does not say why")
            else:
                raise SystemExit(f"unknown scenario {name}")
            for r in results:
                everything += r["stderr"] + json.dumps(r["final"])
        finally:
            redis.stop()
            server.stop()
    for secret in (PASSWORD, WRONG_PASSWORD, KEY):
        check(secret not in everything, "a password or the secret key appeared in the output")
    print("shared limit: " + ("all checks passed" if not failures else f"{len(failures)} checks failed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
