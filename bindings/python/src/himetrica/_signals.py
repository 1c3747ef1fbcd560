"""The opt-in flush on SIGTERM and SIGINT (``Client(..., flush_on_signals=True)``).

SIGTERM is how containers, systemd and Kubernetes stop a process, and its default action ends
the process without running any exit handler, so without a spool whatever is queued is lost.
This module installs a handler only for clients that ask for it; importing the package
installs nothing.

What the handler does for a signal:

- When the signal's previous disposition was the default action (SIGTERM's, usually): every
  opted-in client is shut down within its ``exit_flush_timeout``, then the default action is
  restored and the signal raised again, so the process ends as it would have (killed by that
  signal, exit status 128 + signal number in a shell). As PID 1 of a namespace (a container
  without an init), where the kernel ignores that, it exits with status 128 + signal number.
- When the application had installed a Python handler before (``signal.signal``), and for
  SIGINT's default ``KeyboardInterrupt``: every opted-in client is flushed within its
  ``exit_flush_timeout`` and the previous handler is then called with the same arguments; it
  decides what happens next (the clients keep working if the process goes on).
- A signal that was ignored (``SIG_IGN``, e.g. under ``nohup``) or handled by code outside
  Python stays as it was.

A handler the application installs later replaces this one, as ``signal.signal`` always does:
the application then owns the signal, and a normal exit (``sys.exit``) still runs the at-exit
flush.
"""

from __future__ import annotations

import os
import signal
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable, Dict, Union

if TYPE_CHECKING:
    from types import FrameType

    from .client import Client

_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_Handler = Union[Callable[[int, "FrameType | None"], Any], int, None]

_clients: "weakref.WeakSet[Client]" = weakref.WeakSet()
# The disposition each signal had before the first client opted in (only for the signals
# this module handles now).
_previous: Dict[int, _Handler] = {}
_lock = threading.Lock()


def install(client: Client) -> None:
    """Flushes `client` on SIGTERM and SIGINT from now on (see the module's doc).

    Raises:
        ValueError: not called from the main thread (Python only lets it set handlers).
    """
    if threading.current_thread() is not threading.main_thread():
        raise ValueError("flush_on_signals: must be set in the main thread (Python runs signal handlers there)")
    with _lock:
        _clients.add(client)
        for signum in _SIGNALS:
            if signum in _previous:
                continue
            current = signal.getsignal(signum)
            if current is None or current == signal.SIG_IGN:
                continue
            _previous[signum] = current
            signal.signal(signum, _on_signal)


def uninstall(client: Client) -> None:
    """Stops flushing `client` on signals; with no client left, gives each signal back the
    disposition it had, unless the application has replaced this module's handler since."""
    with _lock:
        _clients.discard(client)
        if len(_clients) or threading.current_thread() is not threading.main_thread():
            return
        for signum, previous in list(_previous.items()):
            if signal.getsignal(signum) is _on_signal:
                signal.signal(signum, previous)
            del _previous[signum]


def _on_signal(signum: int, frame: FrameType | None) -> None:
    previous = _previous.get(signum, signal.SIG_DFL)
    clients = list(_clients)
    if previous == signal.SIG_DFL:
        for client in clients:
            client._exit_flush()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        if os.getpid() == 1:
            # The kernel ignores default-action signals sent to a namespace's init (a container
            # started without an init process): end as a shell reports a signal's end.
            os._exit(128 + signum)
        return
    for client in clients:
        try:
            client.flush(client._exit_timeout)
        except Exception:  # a closed client has nothing to flush
            pass
    if callable(previous):
        previous(signum, frame)
