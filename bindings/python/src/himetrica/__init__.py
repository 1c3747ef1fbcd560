"""Himetrica for Python: server-side analytics over the shared Himetrica engine.

>>> import himetrica
>>> client = himetrica.Client("hm_sk_...")
>>> client.track("signup", visitor_id="v_123", properties={"plan": "pro"})

Module-level functions use a default client, configured with :func:`init` or, on first use,
from ``HIMETRICA_SECRET_KEY`` (and ``HIMETRICA_ENDPOINT``).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Optional

from ._constants import VERSION
from .client import Client, RateLimit, _flush_result
from .errors import (
    HimetricaError,
    LibraryNotFoundError,
    NotFoundError,
    QueueFullError,
    RejectedError,
    ShutDownError,
    TimeoutError,
    UnauthorizedError,
    UnavailableError,
    ValidationError,
)

if TYPE_CHECKING:
    from ._results import Delivery, FlushResult

__version__ = VERSION

__all__ = [
    "Client",
    "Delivery",
    "FlushResult",
    "RateLimit",
    "HimetricaError",
    "LibraryNotFoundError",
    "NotFoundError",
    "QueueFullError",
    "RejectedError",
    "ShutDownError",
    "TimeoutError",
    "UnauthorizedError",
    "UnavailableError",
    "ValidationError",
    "init",
    "get_client",
    "track",
    "identify",
    "user_id",
    "flush",
    "shutdown",
    "stats",
    "library_version",
    "library_path",
]

_default: Optional[Client] = None
_default_lock = threading.Lock()


def init(secret_key: Optional[str] = None, **kwargs: Any) -> Client:
    """Creates (or replaces) the default client used by the module-level functions.

    Takes the same arguments as :class:`Client`. A replaced client is shut down.
    """
    global _default
    client = Client(secret_key, **kwargs)
    with _default_lock:
        previous, _default = _default, client
    if previous is not None:
        previous.shutdown()
    return client


def get_client() -> Client:
    """The default client, created from the environment on first use."""
    global _default
    client = _default
    if client is not None:
        return client
    with _default_lock:
        if _default is None:
            _default = Client()
        return _default


def track(event_name: Any, **kwargs: Any) -> None:
    """:meth:`Client.track` on the default client."""
    (_default or get_client()).track(event_name, **kwargs)


def identify(**kwargs: Any) -> None:
    """:meth:`Client.identify` on the default client."""
    (_default or get_client()).identify(**kwargs)


def user_id(visitor_id: Any, timeout: Optional[float] = 10.0) -> str:
    """:meth:`Client.user_id` on the default client."""
    return get_client().user_id(visitor_id, timeout)


def flush(timeout: Optional[float] = 5.0) -> FlushResult:
    """:meth:`Client.flush` on the default client (nothing to do when there is none)."""
    client = _default
    return client.flush(timeout) if client is not None else _flush_result(True, 0)


def shutdown(timeout: Optional[float] = 5.0) -> FlushResult:
    """:meth:`Client.shutdown` on the default client (nothing to do when there is none)."""
    client = _default
    return client.shutdown(timeout) if client is not None else _flush_result(True, 0)


def stats() -> dict[str, int]:
    """:meth:`Client.stats` of the default client."""
    return get_client().stats()


def library_version() -> str:
    """The version of the loaded ``libhimetrica``."""
    from . import _native

    version: bytes = _native.load().hm_version()
    return version.decode()


def library_path() -> str:
    """The path of ``libhimetrica.so`` this package loads."""
    from . import _native

    return _native.library_path()


def __getattr__(name: str) -> Any:
    """``Delivery`` and ``FlushResult`` are imported on first use (they need ``dataclasses``)."""
    if name in ("Delivery", "FlushResult"):
        from . import _results

        return getattr(_results, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _reset_default_after_fork() -> None:
    global _default_lock
    _default_lock = threading.Lock()


import os as _os

if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(after_in_child=_reset_default_after_fork)
