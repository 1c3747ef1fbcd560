"""The durable spool over real processes: exit without flush, SIGKILL, a crash loop, a forked
pre-fork server (real gunicorn), bad spools, and `himetrica spool status/drain`.

The dev server and the client keep to 100 track requests per 2 s (the default limit scaled
down so a test is short), except where a test says otherwise."""

from __future__ import annotations

import collections
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from conftest import HERE, KEY, REPO, DevServer

LIMIT = "100/2"
SRC = str(HERE.parent / "src")


@pytest.fixture(scope="module")
def limited():
    server = DevServer("--no-limits", "--limit", f"track={LIMIT}", "--limit", f"identify={LIMIT}")
    yield server
    server.stop()


@pytest.fixture
def server(limited):
    limited.reset()
    return limited


@pytest.fixture
def spool_dir():
    with tempfile.TemporaryDirectory(prefix="himetrica-spool-") as d:
        yield os.path.join(d, "spool")


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = SRC + os.pathsep + e.get("PYTHONPATH", "")
    return e


def script(body: str) -> str:
    return "import himetrica, os, sys, time\n" + textwrap.dedent(body)


def client_args(server, spool: str, **extra) -> str:
    options = dict(endpoint=server.endpoint, spool=spool, rate_limit_track=LIMIT, rate_limit_identify=LIMIT)
    options.update(extra)
    return ", ".join(f"{k}={v!r}" for k, v in options.items())


def start(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def drain(server, spool: str, timeout: float = 20, **extra) -> dict:
    """A second process that opens the spool and stays until no row waits; its stats."""
    code = script(
        f"""
        import json, sqlite3
        c = himetrica.Client({KEY!r}, {client_args(server, spool, **extra)})
        db = sqlite3.connect(os.path.join({spool!r}, "spool.db"))
        deadline = time.monotonic() + {timeout}
        while time.monotonic() < deadline and db.execute("SELECT count(*) FROM requests").fetchone()[0] > 0:
            time.sleep(0.05)
        print(json.dumps(c.stats()))
        c.shutdown(2)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], env=env(), capture_output=True, text=True, timeout=timeout + 30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def numbers(server) -> list[int]:
    return [e["body"]["properties"]["n"] for e in server.events() if e["body"].get("eventName") == "spooled"]


def throttled(server) -> int:
    return sum(v.get("429", 0) for v in server.stats()["endpoints"].values())


def rows_waiting(spool: str) -> int:
    import sqlite3

    db = sqlite3.connect(os.path.join(spool, "spool.db"))
    try:
        return db.execute("SELECT count(*) FROM requests").fetchone()[0]
    finally:
        db.close()


TRACKS = """
for n in range({count}):
    c.track("spooled", visitor_id="v%d" % (n % 7), properties={{"n": n}})
"""


def tracking(server, spool: str, count: int) -> str:
    """A process that tracks `count` events, says so, and lives on (until killed)."""
    return (script(f"c = himetrica.Client({KEY!r}, {client_args(server, spool)})\n") + TRACKS.format(count=count)
            + 'print("tracked", flush=True)\ntime.sleep(60)\n')


def test_exit_without_flush_loses_nothing(server, spool_dir):
    started = time.monotonic()
    first = subprocess.run(
        [sys.executable, "-c", script(f"c = himetrica.Client({KEY!r}, {client_args(server, spool_dir)})\n" + TRACKS.format(count=600))],
        env=env(), capture_output=True, text=True, timeout=60,
    )
    assert first.returncode == 0, first.stderr
    waiting = rows_waiting(spool_dir)
    assert 0 < waiting < 600
    assert f"requests wait in the spool; the next process that opens it sends them spool={spool_dir} waiting={waiting}" in first.stderr
    before = len(numbers(server))
    assert before < 600  # the limit held the first process back
    drain(server, spool_dir)
    got = numbers(server)
    assert time.monotonic() - started < 15 + 10  # the second process's share took at most ~15 s
    assert sorted(got) == list(range(600)), f"missing {sorted(set(range(600)) - set(got))[:10]}"
    assert len(got) == len(set(got)) == 600  # no duplicates
    assert throttled(server) == 0
    assert rows_waiting(spool_dir) == 0


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_kill_loses_at_most_the_commit_window_and_keeps_the_window(server, spool_dir, sig):
    process = start(tracking(server, spool_dir, 600))
    assert process.stdout.readline().strip() == "tracked"
    time.sleep(0.5)
    process.send_signal(sig)
    assert process.wait(10) == -sig  # the exit status the signal gives
    stats = drain(server, spool_dir)
    got = numbers(server)
    counts = collections.Counter(got)
    duplicates = sum(v - 1 for v in counts.values())
    # Everything was committed within 10 ms of the last call, 0.5 s before the kill.
    assert set(got) == set(range(600))
    assert duplicates <= stats["resent"]
    assert duplicates <= 8  # at most the requests in flight at the kill (max_in_flight)
    assert throttled(server) == 0  # the new sender kept to the old window
    print(f"{sig.name}: {duplicates} duplicates, {stats['resent']} resent")


def test_a_sigkill_mid_delivery_without_limits_loses_nothing_and_counts_its_resends(spool_dir):
    """Without a limit, requests leave without a commit each: the rows recorded in flight name
    the next ones to start too. A kill mid-delivery still loses nothing, and every duplicate is
    counted as resent."""
    server = DevServer("--no-limits")
    try:
        unlimited = dict(rate_limit_track=None, rate_limit_identify=None)
        code = script(
            f"""
            c = himetrica.Client({KEY!r}, {client_args(server, spool_dir, **unlimited)})
            for n in range(3000):
                c.track("spooled", visitor_id="v%d" % (n % 7), properties={{"n": n}})
            while c.stats()["delivered"] < 1000:
                time.sleep(0.001)
            print("delivering", flush=True)
            time.sleep(60)
            """
        )
        process = start(code)
        assert process.stdout.readline().strip() == "delivering", process.stderr.read()
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        before = len(numbers(server))
        assert 1000 <= before < 3000, "killed mid-delivery"
        stats = drain(server, spool_dir, **unlimited)
        got = numbers(server)
        duplicates = len(got) - len(set(got))
        assert set(got) == set(range(3000))
        assert duplicates <= stats["resent"]
        # In flight, answered but not yet recorded, or named as next: 3 × max_in_flight at most.
        assert stats["resent"] <= 3 * 8
        print(f"SIGKILL mid-delivery: {before} delivered before, {duplicates} duplicates, {stats['resent']} resent")
    finally:
        server.stop()


def test_crash_loop_keeps_order_and_bounds_duplicates(server, spool_dir):
    rng = random.Random(13)
    rounds = int(os.environ.get("HIMETRICA_CRASH_ROUNDS", "20"))
    per_round = 20
    accepted = 0
    for r in range(rounds):
        code = script(
            f"""
            c = himetrica.Client({KEY!r}, {client_args(server, spool_dir)})
            for n in range({r * per_round}, {(r + 1) * per_round}):
                c.track("spooled", visitor_id="v%d" % (n % 3), properties={{"n": n}})
            print("tracked", flush=True)
            time.sleep(30)
            """
        )
        process = start(code)
        assert process.stdout.readline().strip() == "tracked"
        time.sleep(0.02 + rng.random() * 0.2)  # past the commit window, at a random moment
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        accepted += per_round
    stats = drain(server, spool_dir, timeout=40)
    got = numbers(server)
    assert set(got) == set(range(accepted))
    assert throttled(server) == 0
    duplicates = len(got) - len(set(got))
    assert duplicates <= 8 * rounds
    # Per-identity order: within a visitor, first arrivals come in call order.
    seen = set()
    lanes = collections.defaultdict(list)
    for e in server.events():
        if e["body"].get("eventName") != "spooled":
            continue
        n = e["body"]["properties"]["n"]
        if n not in seen:
            seen.add(n)
            lanes[n % 3].append(n)
    for lane in lanes.values():
        assert lane == sorted(lane)
    print(f"crash loop: {rounds} rounds, {duplicates} duplicates, {stats['resent']} resent")


def test_bad_spools_are_clear_errors(server, tmp_path, caplog):
    import logging

    import himetrica

    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(himetrica.ValidationError) as error:
        himetrica.Client(KEY, endpoint=server.endpoint, spool=str(a_file))
    assert str(error.value) == f"spool: {a_file}: is not a directory"

    other = tmp_path / "other"
    other.mkdir()
    import sqlite3

    db = sqlite3.connect(other / "spool.db")
    db.execute("CREATE TABLE mine(x)")
    db.commit()
    db.close()
    with pytest.raises(himetrica.ValidationError) as error:
        himetrica.Client(KEY, endpoint=server.endpoint, spool=str(other))
    assert str(error.value) == f"spool: {other}/spool.db: is not a Himetrica spool (another program's database)"

    newer = tmp_path / "newer"
    himetrica.Client(KEY, endpoint=server.endpoint, spool=str(newer)).shutdown(1)
    db = sqlite3.connect(newer / "spool.db")
    db.execute("PRAGMA user_version=9")
    db.close()
    with pytest.raises(himetrica.ValidationError) as error:
        himetrica.Client(KEY, endpoint=server.endpoint, spool=str(newer))
    assert "was written by a newer version of the toolkit (schema 9; this one reads up to 3)" in str(error.value)

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "spool.db").write_bytes(b"Z" * 8192)
    with caplog.at_level(logging.ERROR, logger="himetrica"):
        c = himetrica.Client(KEY, endpoint=server.endpoint, spool=str(corrupt), rate_limit_track=None)
    c.track("spooled", visitor_id="v", properties={"n": 0})
    assert c.flush(10).pending == 0
    c.shutdown(1)
    [aside] = [p for p in corrupt.iterdir() if p.name.startswith("spool.db.corrupt-")]
    assert [r.getMessage() for r in caplog.records if "corrupt" in r.getMessage()] == [
        f"the spool's database was corrupt; moved it aside and started a fresh one moved_to={aside} spool={corrupt}"
    ]
    assert numbers(server) == [0]


@pytest.fixture
def unlimited(_devserver):
    """The session's dev server without limits (conftest), reset."""
    _devserver.reset()
    return _devserver


def in_private_mounts(setup: str, directory: str, argv: list[str]) -> list[str]:
    """`argv` run in a private mount namespace (gone with it) after the shell commands `setup`,
    which name `directory` as $0."""
    return ["unshare", "-m", "sh", "-c", setup + ' && exec "$@"', directory, *argv]


def require_private_mounts(setup: str, directory: str) -> None:
    probe = subprocess.run(in_private_mounts(setup, directory, ["true"]), capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"no private mount namespace to mount in here (needs root with CAP_SYS_ADMIN): {probe.stderr.strip()}")


# How the disk fills, and room is made again: a 4 MiB tmpfs filled by a file (writes fail
# with ENOSPC), or this process's files held at their size by RLIMIT_FSIZE (EFBIG; a process
# started before keeps its own limit). Either way the spool's next commit cannot grow its log.
FILL_DISK = {
    "tmpfs": (
        """
        filler = os.open(os.path.join(os.path.dirname(SPOOL), "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(filler, bytes(65536))
        except OSError as error:
            assert error.errno == errno.ENOSPC, error
        os.close(filler)
        """,
        'os.remove(os.path.join(os.path.dirname(SPOOL), "filler"))',
    ),
    "fsize": (
        """
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        largest = max(os.path.getsize(os.path.join(SPOOL, name)) for name in os.listdir(SPOOL))
        resource.setrlimit(resource.RLIMIT_FSIZE, (largest, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        """,
        "pass",
    ),
}


@pytest.mark.parametrize("how", FILL_DISK)
def test_a_disk_that_fills_falls_back_to_memory_with_one_warning_and_loses_nothing(unlimited, tmp_path, how):
    root = str(tmp_path)
    spool = os.path.join(root, "spool")
    fill, make_room = FILL_DISK[how]
    opening = textwrap.dedent(
        f"""
        import errno, json, resource, signal, subprocess
        SPOOL = {spool!r}
        c = himetrica.Client({KEY!r}, endpoint={unlimited.endpoint!r}, spool=SPOOL, rate_limit_track=None)
        def track(numbers):
            for n in numbers:
                c.track("spooled", visitor_id="v%d" % (n % 7), properties={{"n": n}})
        """
    )
    # Another process on the spool: once told, it tracks 100 and flushes (someone must send them).
    other = script(
        opening
        + textwrap.dedent(
            """
            print("opened", flush=True)
            sys.stdin.readline()
            track(range(500, 600))
            pending = c.flush(10).pending
            print(json.dumps(dict(c.stats(), pending=pending)), flush=True)
            c.shutdown(2)
            """
        )
    )
    # The sender: 50 tracks go through the spool; the disk fills, and 450 more are accepted;
    # then room is made, and the other process's calls must still be sent.
    code = script(
        opening
        + textwrap.dedent(
            f"""
            while c.stats()["sender"] != 1:
                time.sleep(0.01)
            track(range(50))
            assert c.flush(20).pending == 0
            assert c.stats()["spooled"] == 50
            other = subprocess.Popen([sys.executable, "-c", {other!r}], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
            assert other.stdout.readline() == "opened\\n"
            """
        )
        + textwrap.dedent(fill)
        + textwrap.dedent(
            f"""
            track(range(50, 500))
            pending = c.flush(30).pending
            {make_room}
            out, err = other.communicate("go\\n", timeout=30)
            print("other", out.strip(), flush=True)
            print("".join("other: " + line for line in err.splitlines(True)), end="", file=sys.stderr)
            print(json.dumps(dict(c.stats(), pending=pending)), flush=True)
            c.shutdown(5)
            """
        )
    )
    argv = [sys.executable, "-c", code]
    if how == "tmpfs":
        mount = 'mount -t tmpfs -o size=4m,mode=0700 himetrica-full "$0"'
        require_private_mounts(mount, root)
        argv = in_private_mounts(mount, root, argv)
    done = subprocess.run(argv, env=env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr  # no crash
    lines = done.stdout.strip().splitlines()
    stats, others = json.loads(lines[-1]), json.loads(lines[-2].removeprefix("other "))
    warnings = [line for line in done.stderr.splitlines() if line.startswith("the spool failed")]
    cause = "database or disk is full" if how == "tmpfs" else "disk I/O error"
    assert warnings == [
        "the spool failed; requests are kept in memory from now on and are lost if the process ends"
        f" error={spool}/spool.db: {cause} spool={spool}"
    ], done.stderr
    assert stats["spool_errors"] == 1
    assert stats["pending"] == 0 and stats["dropped"] == 0
    # The process that fell back gave the sender role up: the other one took it and sent its calls.
    assert (others["pending"], others["sender"], others["spool_errors"]) == (0, 1, 0), others
    got = numbers(unlimited)
    assert sorted(set(got)) == list(range(600)), f"missing {sorted(set(range(600)) - set(got))[:10]}"
    print(f"{how}: {len(got) - 600} duplicates")


UNWRITABLE = """
try:
    himetrica.Client({key!r}, endpoint={endpoint!r}, spool={spool!r})
    print("opened")
except himetrica.ValidationError as error:
    print(error)
"""


@pytest.mark.parametrize("how", ["read-only mount", "another user"])
def test_an_unwritable_directory_is_a_clear_error(unlimited, how):
    # In /tmp (which anyone may search), owned by whoever runs the test, mode 0700 or 0500.
    directory = tempfile.mkdtemp(prefix="himetrica-unwritable-")
    try:
        code = script(UNWRITABLE.format(key=KEY, endpoint=unlimited.endpoint, spool=directory))
        argv = [sys.executable, "-c", code]
        if how == "read-only mount":
            # Root may write anywhere, but not to a read-only file system.
            mount = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0"'
            require_private_mounts(mount, directory)
            argv, cause = in_private_mounts(mount, directory, argv), "Read-only file system"
        elif os.getuid() == 0:
            # As root, the child runs as nobody (65534), for whom the 0700 directory of root is closed.
            argv, cause = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv], "Permission denied"
            probe = subprocess.run([*argv[:4], sys.executable, "-c", "import himetrica; himetrica.Client"], env=env(),
                                   capture_output=True, text=True)
            if probe.returncode != 0:
                pytest.skip(f"user 65534 cannot run the package here: {probe.stderr.strip().splitlines()[-1:]}")
        else:
            os.chmod(directory, 0o500)
            cause = "Permission denied"
        done = subprocess.run(argv, env=env(), capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"spool: {directory}: the directory is not writable ({cause})"
    finally:
        os.chmod(directory, 0o700)
        os.rmdir(directory)


def test_workers_opening_a_new_spool_at_once_all_open_it(server, tmp_path):
    """Pre-fork servers start their workers together: each must open the one new spool, never
    see another's half-made directory, database or WAL switch as an error."""
    code = script(f"""
        import shutil
        failures = []
        for round in range(40):
            spool = os.path.join({str(tmp_path)!r}, f"spool-{{round}}")
            start = time.time() + 0.05
            workers = []
            for w in range(6):
                pid = os.fork()
                if pid == 0:
                    while time.time() < start:
                        pass
                    try:
                        himetrica.Client({KEY!r}, endpoint={server.endpoint!r}, spool=spool).shutdown(timeout=0)
                        os._exit(0)
                    except himetrica.HimetricaError as error:
                        print("round", round, "worker", w, error, flush=True)
                        os._exit(1)
                workers.append(pid)
            failures += [pid for pid in workers if os.waitpid(pid, 0)[1] != 0]
        print("failed", len(failures))
    """)
    run = subprocess.run([sys.executable, "-c", code], env=env(), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().endswith("failed 0"), run.stdout


def test_two_keys_in_one_spool(server, spool_dir):
    import himetrica

    mine = himetrica.Client(KEY, endpoint=server.endpoint, spool=spool_dir)
    deadline = time.monotonic() + 5
    while mine.stats()["sender"] != 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    other = himetrica.Client("hm_sk_other_key_0002", endpoint=server.endpoint, spool=spool_dir)
    other.track("spooled", visitor_id="v", properties={"n": 1})
    assert other.flush(0.5).pending == 1  # nobody holding its key sends it
    other.shutdown(0)
    mine.track("spooled", visitor_id="v", properties={"n": 2})
    assert mine.flush(10).pending == 0
    mine.shutdown(1)
    assert numbers(server) == [2]
    assert rows_waiting(spool_dir) == 1


CLI = REPO / ".build" / "debug" / "himetrica"


def spool_status(spool: str) -> dict:
    done = subprocess.run([str(CLI), "spool", "status", spool, "--json"], capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def slow_server():
    server = DevServer("--no-limits", "--limit", "track=60/5")
    yield server
    server.stop()


def test_gunicorn_four_workers_share_one_sender_and_survive_its_sigkill(slow_server, spool_dir):
    pytest.importorskip("flask")
    pytest.importorskip("gunicorn")
    if not CLI.is_file():
        pytest.skip("the himetrica CLI is not built")
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    e = env()
    e.update(HM_KEY=KEY, HM_ENDPOINT=slow_server.endpoint, HM_SPOOL=spool_dir, PYTHONPATH=SRC + os.pathsep + str(HERE / "apps"))
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "4", "-b", f"127.0.0.1:{port}", "spool_app:app"],
                            env=e, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/t/0", timeout=2).read()
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        total = 240
        pids = set()
        from concurrent.futures import ThreadPoolExecutor

        def hit(n: int) -> str:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/t/{n}", timeout=10).read().decode()

        with ThreadPoolExecutor(8) as pool:  # concurrent requests spread over the sync workers
            pids.update(pool.map(hit, range(1, total // 2)))
        assert len(pids) >= 2  # several workers wrote to the spool
        status = spool_status(spool_dir)
        sender = status["sender_pid"]
        assert sender is not None and sender != proc.pid  # a worker sends, not the arbiter
        assert sum(w["count"] for w in status["waiting"]) > 0  # status against a live spool
        time.sleep(0.3)  # past the commit window of the last call
        os.kill(sender, signal.SIGKILL)
        killed = time.monotonic()
        while True:
            now = spool_status(spool_dir)["sender_pid"]
            if now not in (None, sender):
                break
            assert time.monotonic() - killed < 1.0, "no takeover within 1 s"
            time.sleep(0.02)
        takeover = time.monotonic() - killed
        with ThreadPoolExecutor(8) as pool:
            pids.update(pool.map(hit, range(total // 2, total)))
        events = slow_server.wait_events(total, timeout=60)
        deadline = time.monotonic() + 10
        while spool_status(spool_dir)["waiting"] and time.monotonic() < deadline:
            time.sleep(0.1)
        events = slow_server.events()
    finally:
        proc.terminate()
        proc.wait(15)
    got = [x["body"]["properties"]["n"] for x in events if x["body"].get("eventName") == "spooled"]
    assert set(got) == set(range(total))
    assert throttled(slow_server) == 0
    times = sorted(x["receivedAt"] for x in events)
    # Arrivals per 5 s window over the run (the first window's burst included). The issue asks
    # for 95% of 60 (58-59 measured); the bound is looser so a loaded machine does not fail it.
    per_window = len(times) / ((times[-1] - times[0]) / 1000 + 5) * 5
    assert per_window >= 0.85 * 60, per_window
    print(f"gunicorn: {len(pids)} workers wrote, takeover {takeover:.2f} s, {len(got) - total} duplicates, {per_window:.1f} per 5 s")


def test_status_and_drain_against_a_live_spool(server, spool_dir):
    if not CLI.is_file():
        pytest.skip("the himetrica CLI is not built")
    live = start(tracking(server, spool_dir, 300))
    try:
        assert live.stdout.readline().strip() == "tracked"
        time.sleep(0.1)
        status = spool_status(spool_dir)
        assert status["sender_pid"] == live.pid
        assert [w["endpoint"] for w in status["waiting"]] == ["track"]
        assert status["waiting"][0]["fingerprint"].startswith("fp_") and KEY not in json.dumps(status)
        assert 0 < status["waiting"][0]["count"] <= 300 and status["bytes"] > 0
        text = subprocess.run([str(CLI), "spool", "status", spool_dir], capture_output=True, text=True, timeout=10)
        assert f"sender: pid {live.pid}" in text.stdout and "track\tfp_" in text.stdout
        # drain while the live process sends: it returns once nothing of its key waits.
        drained = subprocess.run(
            [str(CLI), "spool", "drain", spool_dir, "--endpoint", server.endpoint, "--timeout", "30", "--json"],
            capture_output=True, text=True, timeout=60, env={**os.environ, "HIMETRICA_SECRET_KEY": KEY},
        )
        assert drained.returncode == 0, drained.stdout + drained.stderr
        assert json.loads(drained.stdout)["waiting"] == 0
    finally:
        live.kill()
        live.wait(10)
    got = numbers(server)
    assert sorted(set(got)) == list(range(300))
    assert spool_status(spool_dir)["waiting"] == []


def test_drain_exits_by_outcome(server, spool_dir):
    if not CLI.is_file():
        pytest.skip("the himetrica CLI is not built")
    import himetrica

    c = himetrica.Client(KEY, endpoint=server.endpoint, spool=spool_dir, rate_limit_track="1/3600")
    for n in range(20):
        c.track("spooled", visitor_id="v", properties={"n": n})
    c.flush(0.3)
    c.shutdown(0)  # all but the first wait in the spool
    drained = subprocess.run([str(CLI), "spool", "drain", spool_dir, "--endpoint", server.endpoint, "--timeout", "20"],
                             capture_output=True, text=True, timeout=60, env={**os.environ, "HIMETRICA_SECRET_KEY": KEY})
    assert drained.returncode == 0, drained.stdout + drained.stderr
    assert "0 waiting" in drained.stdout
    assert sorted(set(numbers(server))) == list(range(20))
