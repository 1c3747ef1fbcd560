#!/usr/bin/env python3
"""fork() with shared_limit: a Python client (the ctypes binding) takes shared permits from a
real redis-server, then forks FORKS times while its limiter's thread is busy leasing. Each
child tracks, flushes and reports. Checks:

- the child opened its own Redis connection: none of the sockets it holds to Redis is one
  the parent held when it forked (a socket shared by two processes mixes their replies), and
  Redis counted it as a sender of its own (its pid is in the key's live-sender set);
- parent and children all keep delivering, every request with a shared permit, no Redis
  error, no fallback, nothing lost; no child hangs (each wait is bounded).

  shared_limit_fork.py --devserver BINARY [--forks N]     (HIMETRICA_LIBRARY: the library)
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bindings", "python", "src"))
import himetrica  # noqa: E402
from shared_limit import KEY, DevServer, Redis, check, failures  # noqa: E402

EVENTS = 25
CHILD_SECONDS = 30


def redis_sockets(port: int) -> set[tuple[str, str]]:
    """The (local, remote) ends of this process's TCP sockets connected to Redis's `port`."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        match = re.fullmatch(r"socket:\[(\d+)\]", target)
        if match:
            inodes.add(match.group(1))
    ends = set()
    with open("/proc/self/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            if inode in inodes and int(remote.split(":")[1], 16) == port and state == "01":  # ESTABLISHED
                ends.add((local, remote))
    return ends


def track(client: himetrica.Client, who: str) -> None:
    for i in range(EVENTS):
        client.track("fork_shared", visitor_id=f"{who}-{i % 8}", properties={"i": i})


def child(client: himetrica.Client, index: int, port: int, write_end: int) -> int:
    track(client, f"child{index}")
    flushed = client.flush(20)
    report = {"pid": os.getpid(), "flushed": bool(flushed), "stats": client.stats(),
              "sockets": sorted(map(list, redis_sockets(port)))}
    os.write(write_end, json.dumps(report).encode())
    return 0


def wait_bounded(pid: int, seconds: float) -> int | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devserver", required=True)
    parser.add_argument("--forks", type=int, default=6)
    args = parser.parse_args()
    log_dir = tempfile.mkdtemp(prefix="shared-limit-fork-")
    # 600 per 5 s: the limit shapes nothing here; every request still needs a shared permit.
    server = DevServer(args.devserver, log_dir, "600/5")
    redis = Redis(log_dir)
    redis.start()
    try:
        client = himetrica.Client(KEY, endpoint=f"{server.base}/api/v1", shared_limit=redis.url(),
                                  rate_limit_track="600/5", max_in_flight=4)
        track(client, "parent")
        check(bool(client.flush(20)), "the parent did not flush before forking")
        children = []
        for index in range(args.forks):
            # The parent's limiter is leasing for these when the fork comes.
            track(client, f"parent{index}")
            time.sleep((index * 7 % 5) / 1000)
            parent_sockets = redis_sockets(redis.port)
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read_end)
                code = 1
                try:
                    code = child(client, index, redis.port, write_end)
                finally:
                    os._exit(code)
            os.close(write_end)
            children.append((pid, read_end, parent_sockets))
        reports = []
        for pid, read_end, parent_sockets in children:
            code = wait_bounded(pid, CHILD_SECONDS)
            text = os.read(read_end, 65536).decode()
            os.close(read_end)
            check(code == 0 and text, f"child {pid} {'hung' if code is None else f'exited {code}'}")
            if not text:
                continue
            report = json.loads(text)
            reports.append(report)
            stats, own = report["stats"], {tuple(s) for s in report["sockets"]}
            check(report["flushed"] and stats["delivered"] == EVENTS, f"child {pid}: not delivered: {stats}")
            check(stats["shared_permits"] == stats["delivered"], f"child {pid}: requests without a shared permit: {stats}")
            check(stats["redis_errors"] == 0 and stats["shared_fallbacks"] == 0, f"child {pid}: Redis failed: {stats}")
            check(bool(own - parent_sockets), f"child {pid} holds no Redis connection of its own")
            check(not own & parent_sockets, f"child {pid} holds the parent's Redis socket: {own & parent_sockets}")
        track(client, "parent-after")
        check(bool(client.flush(20)), "the parent did not flush after the forks")
        stats = client.stats()
        parent_events = EVENTS * (args.forks + 2)
        check(stats["delivered"] == parent_events, f"parent: {stats['delivered']} of {parent_events} delivered")
        check(stats["shared_permits"] == stats["delivered"], f"parent: requests without a shared permit: {stats}")
        check(stats["redis_errors"] == 0 and stats["shared_fallbacks"] == 0, f"parent: Redis failed: {stats}")
        (key,) = redis_command(redis, "KEYS", "himetrica:*:senders")
        senders = redis_command(redis, "ZRANGE", key, "0", "-1")
        pids = {s.rsplit("-", 1)[-1] for s in senders}
        missing = [r["pid"] for r in reports if str(r["pid"]) not in pids]
        check(str(os.getpid()) in pids and not missing, f"senders in Redis {sorted(pids)}; children missing: {missing}")
        client.shutdown(5)
        print(f"shared limit fork: {args.forks} forks while leasing, {len(reports)} children reported, "
              f"each its own Redis connection and sender; parent delivered {stats['delivered']}, "
              f"children {sum(r['stats']['delivered'] for r in reports)}, all with shared permits")
    finally:
        redis.stop()
        server.stop()
    print("shared limit fork: " + ("all checks passed" if not failures else f"{len(failures)} checks failed"))
    return 1 if failures else 0


def redis_command(redis: Redis, *words: str) -> list[str]:
    """One command through redis-cli (Debian's redis-tools, a dependency of redis-server)."""
    out = subprocess.run(["redis-cli", "-h", redis.host, "-p", str(redis.port), "--raw", *words],
                         capture_output=True, text=True, timeout=10, check=True).stdout
    return out.split()


if __name__ == "__main__":
    sys.exit(main())
