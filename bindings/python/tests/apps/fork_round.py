"""One round of the Python fork stress (test_fork.py): a fresh process, so its first fork comes
while the flush thread runs code paths for the first time. It tracks to distinct visitors
(many requests in flight against a server with added latency), with a Python delivery
callback and logging (the flush thread calls into Python, so it may wait for the GIL the
forking thread holds), and forks FORKS times at varied moments. Each child tracks, resolves a
user id and flushes with a 10 s deadline. Prints one line per fork:
"<requests in flight at the fork> <child exit code> <child flush seconds>"."""

import logging
import os
import sys
import time

import himetrica

ROUND = int(sys.argv[1])
FORKS, EVENTS, FLUSH_SECONDS = 4, 30, 10.0

logging.basicConfig(level=logging.DEBUG, stream=open(os.devnull, "w"))
delivered = []
client = himetrica.Client(
    os.environ["HM_KEY"], endpoint=os.environ["HM_ENDPOINT"], rate_limit_track=None, rate_limit_user_id=None,
    max_in_flight=8, on_delivery=delivered.append)


def track(fork_index: int, who: str) -> None:
    for i in range(EVENTS):
        client.track("fork_stress", visitor_id=f"v-r{ROUND}f{fork_index}{who}{i}",
                     properties={"tag": f"r{ROUND}f{fork_index}{who}{i}-"})


def child(fork_index: int) -> int:
    track(fork_index, "c")
    try:
        client.user_id(f"v-r{ROUND}f{fork_index}c0", timeout=5)
    except himetrica.HimetricaError:
        return 12
    start = time.monotonic()
    result = client.flush(FLUSH_SECONDS)
    took = time.monotonic() - start
    os.write(3, f"{took:.3f}\n".encode())
    if took > FLUSH_SECONDS + 0.5:
        return 11
    return 0 if result else 10


children = []
for f in range(FORKS):
    track(f, "p")
    if f == 0:
        # Within 0-0.5 ms of the first call: the new flush thread is running code paths for
        # the first time. The later forks come 0-22 ms after tracking. Each round differs.
        until = time.perf_counter() + ((ROUND * 37) % 500) / 1e6
        while time.perf_counter() < until:
            pass
    else:
        time.sleep(((ROUND * 7 + f * 13) % 23) / 1000)
    in_flight = client.stats()["in_flight"]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.dup2(write_end, 3)
        os._exit(child(f))
    os.close(write_end)
    children.append((pid, in_flight, read_end))

for pid, in_flight, read_end in children:
    _, status = os.waitpid(pid, 0)
    took = os.read(read_end, 64).decode().strip() or "-1"
    print(in_flight, os.waitstatus_to_exitcode(status), took, flush=True)

result = client.flush(FLUSH_SECONDS)
client.shutdown(5)
sys.exit(0 if result and len(delivered) == FORKS * EVENTS else 1)
