#!/usr/bin/env python3
"""The shared limit's cost (issue 14), as machine lines `name value` on stdout:

  redis_round_trips_per_event   permit-script calls (EVALSHA/EVAL, from Redis's INFO
                                commandstats) per delivered event: 4 hosts at 60/5 s, and one
                                host with the limit out of the way (8 in flight)
  redis_added_latency_us        time per request with shared_limit minus without, one request
                                in flight (so every request waits for its own lease: the worst
                                case), same dev server, same run

  shared_limit.py LOAD DEVSERVER SECONDS
"""
import os
import socket
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "Tests", "redis"))
import shared_limit as t  # noqa: E402


def script_calls(port: int) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"INFO commandstats\r\n")
        data = b""
        while b"\r\n" not in data or len(data) < int(data[1:data.index(b"\r\n")]) + data.index(b"\r\n") + 2:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    calls = 0
    for line in data.decode().splitlines():
        if line.startswith(("cmdstat_evalsha:", "cmdstat_eval:")):
            calls += int(line.split("calls=")[1].split(",")[0])
    return calls


class Args:
    pass


def run(load: str, devserver: str, seconds: float, hosts: int, limit: str, options: list[str], shared: bool):
    log_dir = tempfile.mkdtemp(prefix="bench-shared-")
    args = Args()
    args.load, args.hosts, args.limit = load, hosts, limit
    server = t.DevServer(devserver, log_dir, limit)
    redis = t.Redis(log_dir)
    redis.start()
    try:
        results = t.run_hosts(args, server, log_dir, "bench", options, seconds, env_shared=redis.url() if shared else None)
        delivered = sum(r["final"]["delivered"] for r in results)
        return delivered, script_calls(redis.port)
    finally:
        redis.stop()
        server.stop()


def main() -> None:
    load, devserver, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    delivered, calls = run(load, devserver, seconds, 4, "60/5", [], True)
    print(f"redis_round_trips_per_event_4hosts {calls / max(1, delivered):.3f}")
    print(f"redis_delivered_4hosts {delivered}")
    delivered, calls = run(load, devserver, seconds / 2, 1, "100000/60", ["max_in_flight=8"], True)
    print(f"redis_round_trips_per_event_fast {calls / max(1, delivered):.3f}")
    plain, _ = run(load, devserver, seconds / 2, 1, "100000/60", ["max_in_flight=1"], False)
    shared, calls = run(load, devserver, seconds / 2, 1, "100000/60", ["max_in_flight=1"], True)
    # redis_load tracks for seconds/2, then flushes: per-request time over the tracking time.
    per_plain, per_shared = seconds / 2 / max(1, plain) * 1e6, seconds / 2 / max(1, shared) * 1e6
    print(f"redis_latency_plain_us {per_plain:.1f}")
    print(f"redis_latency_shared_us {per_shared:.1f}")
    print(f"redis_added_latency_us {per_shared - per_plain:.1f}")


if __name__ == "__main__":
    main()
