"""Where the shared-limit tests' hosts run: each in a network namespace of its own, linked by a
veth pair to a bridge in the servers' namespace, so that permits and events cross a real
network (addresses 10.213.7.0/24, which exist only inside these namespaces); or, where
namespaces cannot be made (not root, no `ip`, no veth or bridge in the kernel), all on this
namespace's loopback, with the reason printed.

The test process itself moves into the servers' namespace (setns), so redis-server and the
dev server it starts listen there, and its own connections to them stay local. Every
namespace is deleted on every exit path (`close()`, called from `finally`, atexit, SIGTERM
and SIGINT), and namespaces left by a test that was SIGKILLed are deleted by the next one.
"""
import atexit
import ctypes
import os
import re
import signal
import subprocess

CLONE_NEWNET = 0x40000000
PREFIX = "hmsl"
SUBNET = "10.213.7"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=10)


def _setns(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {path}: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(fd)


def _remove_stale() -> None:
    """Deletes the namespaces of earlier runs whose process is gone."""
    try:
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return
    for name in names:
        match = re.fullmatch(PREFIX + r"(\d+)[sh]\d*", name)
        if match and not os.path.exists(f"/proc/{match.group(1)}"):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)


class HostNetwork:
    """`hosts` namespaces (or none): the address the servers listen on, the command prefix
    that runs host `n` in its namespace."""

    def __init__(self, hosts: int, wanted: bool = True):
        self.names: list[str] = []
        self.isolated = False
        self.server_host = "127.0.0.1"
        self._home: int | None = None
        if not wanted:
            self.reason = "--no-netns given: all hosts on loopback"
            return
        if os.geteuid() != 0:
            self.reason = "not root: cannot make network namespaces"
            return
        _remove_stale()
        atexit.register(self.close)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        try:
            self._make(hosts)
            self.isolated = True
            self.reason = f"{hosts} hosts in their own network namespaces, servers at {self.server_host} over veth + bridge"
        except (OSError, subprocess.SubprocessError) as error:
            detail = getattr(error, "stderr", None) or str(error)
            self.close()
            self.reason = f"network namespaces unavailable ({detail.strip()}): all hosts on loopback"

    def _make(self, hosts: int) -> None:
        base = f"{PREFIX}{os.getpid()}"
        servers = base + "s"
        self.names.append(servers)
        _ip("netns", "add", servers)
        _ip("-n", servers, "link", "set", "lo", "up")
        _ip("-n", servers, "link", "add", "br0", "type", "bridge")
        _ip("-n", servers, "addr", "add", f"{SUBNET}.1/24", "dev", "br0")
        _ip("-n", servers, "link", "set", "br0", "up")
        for n in range(hosts):
            host = f"{base}h{n}"
            self.names.append(host)
            _ip("netns", "add", host)
            _ip("-n", host, "link", "set", "lo", "up")
            _ip("-n", servers, "link", "add", f"vh{n}", "type", "veth", "peer", "name", "eth0", "netns", host)
            _ip("-n", servers, "link", "set", f"vh{n}", "master", "br0", "up")
            _ip("-n", host, "addr", "add", f"{SUBNET}.{10 + n}/24", "dev", "eth0")
            _ip("-n", host, "link", "set", "eth0", "up")
        self._home = os.open("/proc/self/ns/net", os.O_RDONLY)
        _setns(f"/run/netns/{servers}")
        self.server_host = f"{SUBNET}.1"

    def host_command(self, n: int) -> list[str]:
        """The prefix that runs a command as host `n`."""
        return ["ip", "netns", "exec", self.names[1 + n]] if self.isolated else []

    def client_options(self) -> list[str]:
        """Client options the hosts need: plain http to a non-loopback dev server."""
        return ["allow_insecure_http=true"] if self.isolated else []

    def close(self) -> None:
        """Back to the namespace the process started in; deletes every namespace made (their
        veth ends and the bridge go with them). Safe to repeat."""
        if self._home is not None:
            ctypes.CDLL(None, use_errno=True).setns(self._home, CLONE_NEWNET)
            os.close(self._home)
            self._home = None
        while self.names:
            subprocess.run(["ip", "netns", "del", self.names.pop()], capture_output=True, timeout=10)
        self.isolated = False

    @staticmethod
    def _on_signal(signum, frame) -> None:
        # The callers' `finally` blocks stop the servers, then call close().
        raise SystemExit(128 + signum)
