"""SIGTERM/SIGINT with and without flush_on_signals, and the one line about what exit left
undelivered: real child processes against the dev server."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import himetrica

from conftest import KEY

# The child queues 2000 tracks (no rate limit), says so, and waits for a signal.
QUEUE_AND_WAIT = """
import os, signal, sys, time, himetrica
{before}
c = himetrica.Client({key!r}, endpoint=os.environ["HM_ENDPOINT"], rate_limit_track=None,
                     exit_flush_timeout=10, {options})
{after}
for i in range(2000):
    c.track("signalled", visitor_id=f"v{{i % 200}}", properties={{"n": i}})
print("queued", flush=True)
time.sleep(60)
print("slept through", flush=True)
"""


def _start(server, options: str = "flush_on_signals=True", before: str = "", after: str = "",
           prefix: tuple[str, ...] = ()) -> subprocess.Popen:
    code = QUEUE_AND_WAIT.format(key=KEY, options=options, before=before, after=after)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(himetrica.__path__[0]), HM_ENDPOINT=server.endpoint)
    child = subprocess.Popen([*prefix, sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    child.early_output = []  # type: ignore[attr-defined]
    for line in child.stdout:
        if line.strip() == "queued":
            return child
        child.early_output.append(line)  # type: ignore[attr-defined]
    raise AssertionError(child.stderr.read())


def _signal(child: subprocess.Popen, signum: int) -> tuple[float, str, str]:
    """Sends `signum` 50 ms after the child queued; returns seconds until it ended, stdout, stderr."""
    time.sleep(0.05)
    sent = time.monotonic()
    child.send_signal(signum)
    out, err = child.communicate(timeout=30)
    return time.monotonic() - sent, out, err


def _numbers(server) -> list[int]:
    return sorted(e["body"]["properties"]["n"] for e in server.events())


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_opt_in_delivers_everything_then_ends_by_the_signal(server, signum):
    child = _start(server)
    elapsed, _, err = _signal(child, signum)
    assert child.returncode == -signum, err
    # Everything arrived before the process ended, within exit_flush_timeout (10 s).
    assert _numbers(server) == list(range(2000))
    assert elapsed < 10, elapsed
    assert "not delivered" not in err
    print(f"{signal.Signals(signum).name}: 2000 events delivered, the child ended {elapsed:.2f} s after the signal")


@pytest.mark.skipif(subprocess.run(["unshare", "--pid", "--fork", "true"], capture_output=True).returncode != 0,
                    reason="needs unshare --pid (root)")
def test_as_pid_1_it_exits_with_128_plus_the_signal(server):
    # A container without an init: the kernel ignores a default-action signal sent to PID 1.
    child = _start(server, prefix=("unshare", "--pid", "--fork", "--kill-child"))
    with open(f"/proc/{child.pid}/task/{child.pid}/children") as children:
        pid1 = int(children.read().split()[0])  # the Python process, PID 1 in its namespace
    time.sleep(0.05)
    os.kill(pid1, signal.SIGTERM)
    _, err = child.communicate(timeout=30)
    assert child.returncode == 128 + signal.SIGTERM, err
    assert _numbers(server) == list(range(2000))


# The application's own SIGTERM handler, installed before the client opted in (it runs after
# the flush) or after (it replaces the opt-in; the at-exit flush after sys.exit delivers).
APP_HANDLER = ("def mine(signum, frame):\n    print('app handler', signum, flush=True)\n    sys.exit(3)\n"
               "signal.signal(signal.SIGTERM, mine)")


@pytest.mark.parametrize("installed", ["before", "after"])
def test_an_application_handler_runs_and_decides_the_exit(server, installed):
    child = _start(server, **{installed: APP_HANDLER})
    _, out, err = _signal(child, signal.SIGTERM)
    assert child.returncode == 3, err
    assert f"app handler {int(signal.SIGTERM)}" in out
    assert _numbers(server) == list(range(2000))


def test_without_the_opt_in_nothing_is_installed(server):
    child = _start(
        server,
        options="flush_on_signals=False",
        after="print('dispositions', signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,"
        " signal.getsignal(signal.SIGINT) is signal.default_int_handler, flush=True)",
    )
    _, _, err = _signal(child, signal.SIGTERM)
    assert child.returncode == -signal.SIGTERM, err
    assert child.early_output == ["dispositions True True\n"]


def test_shutdown_gives_the_signals_back(server):
    before = (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT))
    c = himetrica.Client(KEY, endpoint=server.endpoint, flush_on_signals=True)
    assert signal.getsignal(signal.SIGTERM) is not before[0]
    c.shutdown(1)
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_opt_in_outside_the_main_thread_is_a_clear_error(server):
    errors: list[BaseException] = []

    def make() -> None:
        try:
            himetrica.Client(KEY, endpoint=server.endpoint, flush_on_signals=True)
        except BaseException as error:  # noqa: BLE001 - the test reports it
            errors.append(error)

    thread = threading.Thread(target=make)
    thread.start()
    thread.join()
    assert len(errors) == 1 and isinstance(errors[0], ValueError)
    assert str(errors[0]).startswith("flush_on_signals: must be set in the main thread")


def test_exit_reports_undelivered_requests_in_one_line(server):
    # 200 tracks against a client limit of 50 a minute: 50 leave, 150 cannot within 1 s.
    code = textwrap.dedent(
        f"""
        import os, himetrica
        c = himetrica.Client({KEY!r}, endpoint=os.environ["HM_ENDPOINT"], rate_limit_track=(50, 60),
                             exit_flush_timeout=1)
        for i in range(200):
            c.track("exiting", visitor_id=f"v{{i}}", properties={{"n": i}})
        """
    )
    env = dict(os.environ, PYTHONPATH=os.path.dirname(himetrica.__path__[0]), HM_ENDPOINT=server.endpoint)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "not delivered" in line]
    assert lines == [
        "150 requests were not delivered before exit (exit_flush_timeout 1 s); "
        "set the spool option to keep them across restarts"
    ], result.stderr
    assert len(server.events()) == 50


def test_queue_full_warning_is_one_line_per_interval(server):
    # Four threads keep tracking into a full queue (1 slot, 1 request a minute) for 0.5 s.
    import logging

    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger("himetrica")
    handler = Collect()
    logger.addHandler(handler)
    try:
        c = himetrica.Client(KEY, endpoint=server.endpoint, queue_capacity=1, rate_limit_track=(1, 60))
        refused = [0] * 4
        stop = time.monotonic() + 0.5

        def flood(index: int) -> None:
            while time.monotonic() < stop:
                try:
                    c.track("flood", visitor_id="v")
                except himetrica.QueueFullError:
                    refused[index] += 1

        threads = [threading.Thread(target=flood, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        c.shutdown(0)
    finally:
        logger.removeHandler(handler)
    full = [line for line in lines if line.startswith("queue full")]
    print(f"{sum(refused)} calls refused by 4 threads in 0.5 s: {len(full)} queue-full line(s)")
    assert sum(refused) > 1000
    assert full == ["queue full (1 requests); calls are refused until it drains"]
    assert re.fullmatch(r"\d+ requests? (was|were) not delivered before shutdown \(timeout 0 s\); .*",
                        next(line for line in lines if "not delivered" in line))
