"""The Himetrica client: a thin ctypes layer over ``libhimetrica``'s ``hm_*`` functions."""

from __future__ import annotations

import atexit
import os
import sys
import threading
import weakref
from collections.abc import Callable, Mapping
from ctypes import Structure, byref, c_size_t, c_uint64, c_void_p, sizeof, string_at
from typing import TYPE_CHECKING, Any, NamedTuple, Optional, Union

from . import _native
from ._constants import LOG_LEVELS, OPTIONS, STATS, STATUS
from ._json import _SCALARS, _STR, _fast, encode_object, instance_of, iso8601
from .errors import HimetricaError, ShutDownError, ValidationError, error_for

if TYPE_CHECKING:
    import datetime as _dt

    from ._results import Delivery, FlushResult

__all__ = ["Client", "RateLimit"]

Text = Union[str, bytes]
_str_keys = _STR.issuperset
_scalars = _SCALARS.issuperset
_join = "".join
_MAX_MS = 0xFFFFFFFF
_DEFAULT_EXIT_FLUSH = 2.0


class RateLimit(NamedTuple):
    """A rate limit: at most ``count`` requests in any ``seconds``-long window."""

    count: int  # type: ignore[assignment]  # shadows tuple.count, as the field is named in the API
    seconds: float


def _flush_result(completed: bool, pending: int) -> FlushResult:
    """A :class:`FlushResult` (its module is imported on first use)."""
    from ._results import FlushResult

    return FlushResult(completed, pending)


# --- log lines from the core -------------------------------------------------------------

# `logging` is imported on first use, not with the package (it is ~a quarter of the import
# time when nothing else loaded it).
_LOGGER_NAME = "himetrica"
# The Python level of each core level (hm_log_level): logging.DEBUG is 10, INFO 20, WARNING 30,
# ERROR 40, CRITICAL 50; trace and notice sit between.
_PY_LEVELS = {
    LOG_LEVELS[name]: py
    for name, py in (
        ("trace", 5), ("debug", 10), ("info", 20), ("notice", 25), ("warning", 30), ("error", 40), ("critical", 50)
    )
}
_CORE_WARNING = LOG_LEVELS["warning"]


def _logger() -> Any:
    import logging

    return logging.getLogger(_LOGGER_NAME)


def _core_min_level() -> int:
    """The core level matching the "himetrica" logger's effective level. Before anything
    imported `logging` nothing can have configured it, so Python's default (WARNING) holds."""
    if "logging" not in sys.modules:
        return _CORE_WARNING
    effective = _logger().getEffectiveLevel()
    for core, py in sorted(_PY_LEVELS.items()):
        if py >= effective:
            return min(core, _CORE_WARNING)
    return _CORE_WARNING


def _on_log(level: int, message: bytes | None, _user_data: object) -> None:
    try:
        if _state.finalizing:
            return
        py = _PY_LEVELS.get(level, _PY_LEVELS[_CORE_WARNING])
        logger = _logger()
        if logger.isEnabledFor(py):
            logger.log(py, "%s", (message or b"").decode("utf-8", "replace"))
    except BaseException:  # never let anything cross back into the native thread
        pass


_LOG_TRAMPOLINE = _native.LOG_CALLBACK(_on_log)


def _make_delivery_trampoline(callback: Callable[[Delivery], Any], lib: Any) -> Any:
    endpoint_of, outcome_of, status_of = lib.hm_delivery_endpoint, lib.hm_delivery_outcome, lib.hm_delivery_status
    attempts_of, message_of, body_of, outcome_name = (
        lib.hm_delivery_attempts,
        lib.hm_delivery_message,
        lib.hm_delivery_body,
        lib.hm_outcome_name,
    )

    from ._results import Delivery

    def trampoline(handle: int, _user_data: object) -> None:
        try:
            if _state.finalizing:
                return
            message = message_of(handle)
            delivery = Delivery(
                endpoint=(endpoint_of(handle) or b"").decode(),
                outcome=outcome_name(outcome_of(handle)).decode(),
                status=status_of(handle),
                attempts=attempts_of(handle),
                message=None if message is None else message.decode("utf-8", "replace"),
                body=(body_of(handle) or b"").decode("utf-8", "replace"),
            )
            callback(delivery)
        except BaseException:
            try:
                _logger().exception("himetrica: the on_delivery callback raised; the error was ignored")
            except BaseException:
                pass

    return _native.DELIVERY_CALLBACK(trampoline)


# --- process state: exit and fork ---------------------------------------------------------


class _State:
    finalizing = False
    pid = os.getpid()


_state = _State()
_live: "weakref.WeakSet[Client]" = weakref.WeakSet()
_live_lock = threading.Lock()


def _at_exit() -> None:
    """A bounded flush of every live client, then their flush threads are stopped, so no
    native thread calls into Python once the interpreter starts finalizing."""
    with _live_lock:
        clients = list(_live)
    for client in clients:
        try:
            client._exit_flush()
        except BaseException:
            pass
    _state.finalizing = True


atexit.register(_at_exit)


def _after_fork_in_child() -> None:
    # The core already gave every client a fresh queue and thread (pthread_atfork) and does
    # not resend the parent's queue; reset what Python keeps per process.
    global _live_lock
    _state.pid = os.getpid()
    _live_lock = threading.Lock()
    for client in list(_live):
        client._lock = threading.Lock()


def _before_fork() -> None:
    # A CDLL call, so the GIL is released while it waits: every flush thread finishes the
    # callback it is in and parks until the fork ends. Otherwise the child could be copied
    # while a flush thread enters Python, and CPython 3.11 and older, unless patched, then
    # hangs the child (python/cpython#112275).
    if _live:
        try:
            _native.load().hm_prepare_fork()
        except BaseException:
            pass


_before_fork_installed = False


def _install_before_fork() -> None:
    """Registers `_before_fork` once, with the first client (call it holding `_live_lock`).
    `logging` is imported first: before-fork hooks run in the reverse order of registration,
    so logging's (which takes its module lock) runs after ours, and a log callback under way
    can finish while ours waits."""
    global _before_fork_installed
    if _before_fork_installed or not hasattr(os, "register_at_fork"):
        return
    import logging  # noqa: F401  (see the docstring)

    os.register_at_fork(before=_before_fork)
    _before_fork_installed = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _stop_flushing_on_signals(client: Client) -> None:
    signals = sys.modules.get("himetrica._signals")  # loaded only if a client opted in
    if signals is not None:
        signals.uninstall(client)


# --- argument conversion (the slow path; track's fast path is inline) -----------------------


def _text(value: Any, field: str) -> bytes | None:
    """UTF-8 bytes for a string argument. bytes pass as they are (the core checks them)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            data = value.encode()
        except UnicodeEncodeError:
            data = value.encode("utf-8", "surrogatepass")  # the core reports invalid UTF-8
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
    else:
        raise TypeError(f"{field} must be str or bytes, not {type(value).__name__}")
    return _no_nul(data)


def _no_nul(data: bytes) -> bytes:
    # C strings end at NUL; a string with an embedded NUL must not be silently cut short.
    # Every rule treats NUL like any other control character (U+0001 here), so the core
    # reports the same message, at the same place in its check order, as for the NUL.
    # `0 in data` looks for the byte 0; `b"\0" in data` costs ~6x as much (it first tries
    # the operand as an int and throws that error away).
    return data.replace(b"\0", b"\x01") if 0 in data else data


def _json_arg(value: Any, field: str) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return encode_object(value, field)
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        return _text(value, field)  # JSON text, passed as given
    raise TypeError(f"{field} must be a dict with str keys (or JSON text), not {type(value).__name__}")


def _timestamp(value: Any) -> bytes | None:
    if value is None or isinstance(value, (str, bytes, bytearray, memoryview)):
        return _text(value, "timestamp")
    import datetime as _dt  # only for a datetime, a date or a number

    if isinstance(value, (_dt.datetime, _dt.date)):
        if not isinstance(value, _dt.datetime):
            value = _dt.datetime(value.year, value.month, value.day, tzinfo=_dt.timezone.utc)
        return iso8601(value).encode()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return iso8601(_dt.datetime.fromtimestamp(value, _dt.timezone.utc)).encode()
    return _text(value, "timestamp")  # the TypeError naming the type


def _milliseconds(timeout: float | None) -> int:
    if timeout is None:
        return _MAX_MS
    return max(0, min(_MAX_MS, int(timeout * 1000)))


def _option_text(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    kind = OPTIONS.get(name)
    if value is None and kind == "rate":
        return "none"
    if isinstance(value, tuple) and len(value) == 2 and kind == "rate":
        count, seconds = value
        return f"{int(count)}/{float(seconds):g}"
    if instance_of(value, "datetime", "timedelta"):
        return repr(value.total_seconds())
    if isinstance(value, os.PathLike):
        return os.fsdecode(value)
    return str(value)


def mask_key(key: str | None) -> str:
    """The key as it may be shown: ``hm_sk_…abcd`` at most, by the core's one rule
    (``hm_secret_key_masked``)."""
    if key is None:
        return "None"
    lib = _native.load()
    raw = lib.hm_secret_key_masked(key.encode("utf-8", "replace"))
    try:
        return string_at(raw).decode("utf-8", "replace")
    finally:
        lib.hm_string_free(raw)


class _Stats(Structure):
    """``hm_stats``: its size, then one counter per name of ``STATS``."""

    _fields_ = [("size", c_size_t)] + [(name, c_uint64) for name in STATS]


# --- the client ---------------------------------------------------------------------------


class Client:
    """A Himetrica client: a bounded queue and a background thread delivering to the API.

    ``track`` and ``identify`` validate, encode and queue (microseconds, never I/O); the
    library's own thread sends, with rate limits, retries and per-identity ordering.

    Args:
        secret_key: ``hm_sk_...``; ``HIMETRICA_SECRET_KEY`` when omitted.
        endpoint: the API base URL (``https://app.himetrica.com/api/v1`` by default;
            ``HIMETRICA_ENDPOINT`` when omitted).
        on_delivery: called on the library's thread with each request's :class:`Delivery`.
            Exceptions it raises are logged to ``logging.getLogger("himetrica")``, never
            propagated. Keep it short.
        flush_on_signals: on SIGTERM and SIGINT, deliver what is queued within
            ``exit_flush_timeout`` before the process ends the way it would have (default
            action: shut down, then the signal is raised again, so the exit status is the
            signal's; a handler the application installed before: flush, then that handler
            runs). Off by default: nothing is installed unless asked. Set it in the main
            thread. For processes without a spool; see the README's "Deploys and shutdown".
        **options: the core's options by name: ``queue_capacity``, ``max_in_flight``,
            ``max_attempts``, ``max_retry_age``, ``retry_base_delay``, ``retry_max_delay``,
            ``connect_timeout``, ``request_timeout``, ``exit_flush_timeout``,
            ``user_id_cache_capacity``, ``not_found_cache_seconds``, ``max_response_bytes``,
            ``ca_file``, ``allow_insecure_http``, ``rate_limit_track``,
            ``rate_limit_identify``, ``rate_limit_user_id`` (a :class:`RateLimit`, a
            ``(count, seconds)`` tuple, ``"COUNT/SECONDS"``, or ``None``/``"none"`` for no
            limit), ``shared_limit`` (``redis://[user:password@]host:port[/db]``; default
            ``HIMETRICA_SHARED_LIMIT``), ``shared_limit_fallback`` (``"share"`` or ``"aimd"``),
            ``shared_limit_timeout`` (seconds). Bad names or values raise
            :class:`ValidationError`.

    Use it as a context manager to shut it down (flushing) at the end of the block. Live
    clients are flushed at interpreter exit, bounded by ``exit_flush_timeout`` (2 s).
    """

    __slots__ = (
        "_handle",
        "_lib",
        "_hm_track",
        "_hm_identify",
        "_key_shown",
        "_endpoint",
        "_exit_timeout",
        "_delivery_trampoline",
        "_lock",
        "_closed",
        "__weakref__",
    )

    def __init__(
        self,
        secret_key: Optional[str] = None,
        *,
        endpoint: Optional[str] = None,
        on_delivery: Optional[Callable[[Delivery], Any]] = None,
        flush_on_signals: bool = False,
        **options: Any,
    ) -> None:
        self._handle: Optional[c_void_p] = None
        self._closed = False
        lib = _native.load()
        self._lib = lib
        if secret_key is None:
            secret_key = os.environ.get("HIMETRICA_SECRET_KEY")
        if endpoint is None:
            endpoint = os.environ.get("HIMETRICA_ENDPOINT")
        self._key_shown = mask_key(secret_key)
        self._endpoint = endpoint
        self._exit_timeout = _DEFAULT_EXIT_FLUSH
        self._delivery_trampoline = None
        self._lock = threading.Lock()
        config = lib.hm_config_new()
        try:
            settings: list[tuple[str, Any]] = []
            if endpoint is not None:
                settings.append(("endpoint", endpoint))
            if "spool" not in options and os.environ.get("HIMETRICA_SPOOL"):
                settings.append(("spool", os.environ["HIMETRICA_SPOOL"]))
            settings.extend(options.items())
            for name, value in settings:
                text = _option_text(name, value)
                if lib.hm_config_set(config, _text(name, "option name"), _text(text, name)):
                    raise ValidationError(_native.last_error(lib) or f"{name}: bad value")
                if name == "exit_flush_timeout":
                    self._exit_timeout = float(text)
            lib.hm_config_set_log_callback(config, _LOG_TRAMPOLINE, _core_min_level(), None)
            if on_delivery is not None:
                if not callable(on_delivery):
                    raise TypeError("on_delivery must be callable")
                self._delivery_trampoline = _make_delivery_trampoline(on_delivery, lib)
                lib.hm_config_set_delivery_callback(config, self._delivery_trampoline, None)
            handle = c_void_p()
            if secret_key is None:
                raise ValidationError("secretKey: is required (pass secret_key or set HIMETRICA_SECRET_KEY)")
            key = _text(secret_key, "secretKey")
            status = lib.hm_client_new(key, config, byref(handle))
            if status:
                raise error_for(status, _native.last_error(lib))
        finally:
            lib.hm_config_free(config)
        self._handle = handle
        # Every argument track() and identify() pass is bytes or None (converted first), so
        # the untyped functions are safe; see _native.untyped.
        self._hm_track = _native.untyped("hm_track")
        self._hm_identify = _native.untyped("hm_identify")
        with _live_lock:
            _install_before_fork()
            _live.add(self)
        if flush_on_signals:
            from . import _signals

            try:
                _signals.install(self)
            except BaseException:
                self.close(0)
                raise

    # -- errors --

    def _fail(self, status: int) -> HimetricaError:
        if self._handle is None:
            return ShutDownError("client: is closed", 3)
        return error_for(status, _native.last_error(self._lib))

    # -- the three operations --

    def track(
        self,
        event_name: Text,
        *,
        user_id: Optional[Text] = None,
        email: Optional[Text] = None,
        visitor_id: Optional[Text] = None,
        properties: Optional[Union[Mapping[str, Any], Text]] = None,
        timestamp: Optional[Union[Text, _dt.datetime, _dt.date]] = None,
        session: Optional[Text] = None,
    ) -> None:
        """Queues a custom event and returns at once.

        Exactly one of ``user_id`` (``hm_usr_...``), ``email`` or ``visitor_id`` identifies
        who did it. ``properties`` is a dict with str keys (or JSON text), at most 10 KB as
        compact JSON. ``timestamp`` is a ``datetime`` (naive = UTC) or ISO 8601 text; the
        call's time is used when omitted. ``session`` is ``"latest"``, ``"new"`` or ``None``.

        Raises:
            ValidationError: an argument broke a rule (the core's message); nothing queued.
            TypeError: a value cannot be represented in JSON (the message names its path).
            QueueFullError: the queue is full; the event was dropped.
            ShutDownError: the client was shut down.
        """
        try:
            event = event_name.encode()  # type: ignore[union-attr]  # bytes: AttributeError below
            if 0 in event:
                event = _no_nul(event)
            if visitor_id is not None:
                visitor_id = visitor_id.encode()  # type: ignore[union-attr]  # as event_name
                if 0 in visitor_id:
                    visitor_id = _no_nul(visitor_id)
            if user_id is not None:
                user_id = _text(user_id, "userId")
            if email is not None:
                email = _text(email, "email")
            if properties is not None:
                # Inline fast paths: a plain dict of str keys and scalar values, and JSON text
                # as bytes (what orjson.dumps returns), passed as given.
                if type(properties) is dict and _str_keys(map(type, properties)) and _scalars(map(type, properties.values())):
                    properties = _join(_fast(properties, 0)).encode()
                elif type(properties) is bytes:
                    if 0 in properties:
                        properties = _no_nul(properties)
                else:
                    properties = _json_arg(properties, "properties")
            if timestamp is not None:
                timestamp = _timestamp(timestamp)
            if session is not None:
                session = _text(session, "session")
        except (AttributeError, UnicodeEncodeError):
            # Not a str (bytes, or a wrong type) or a lone surrogate: the general path.
            # Values already converted are bytes, which these pass through unchanged.
            event = _text(event_name, "eventName")
            visitor_id = _text(visitor_id, "visitorId")
            user_id = _text(user_id, "userId")
            email = _text(email, "email")
            properties = _json_arg(properties, "properties")
            timestamp = _timestamp(timestamp)
            session = _text(session, "session")
        status = self._hm_track(self._handle, event, user_id, email, visitor_id, properties, timestamp, session)
        if status:
            raise self._fail(status)

    def identify(
        self,
        *,
        user_id: Optional[Text] = None,
        email: Optional[Text] = None,
        visitor_id: Optional[Text] = None,
        traits: Optional[Union[Mapping[str, Any], Text]],
    ) -> None:
        """Queues an update of a visitor's traits and returns at once.

        Exactly one of ``user_id``, ``email`` or ``visitor_id``. ``traits`` is a dict with
        str keys (or JSON text); ``name``, ``email`` and ``userId`` (your own id), if
        present, must be strings.

        Raises:
            ValidationError, TypeError, QueueFullError, ShutDownError: as for :meth:`track`.
        """
        status = self._hm_identify(
            self._handle,
            _text(user_id, "userId"),
            _text(email, "email"),
            _text(visitor_id, "visitorId"),
            _json_arg(traits, "traits"),
        )
        if status:
            raise self._fail(status)

    def user_id(self, visitor_id: Text, timeout: Optional[float] = 10.0) -> str:
        """Resolves a browser visitor id (``hm_vid`` cookie) to Himetrica's user id.

        Blocks at most ``timeout`` seconds (the GIL is released meanwhile). Answers are
        cached; concurrent lookups of one visitor share one request.

        Raises:
            NotFoundError: the server does not know the visitor (404).
            TimeoutError: no answer within ``timeout``.
            UnauthorizedError, RejectedError, UnavailableError, ValidationError.
        """
        out = c_void_p()
        status = self._lib.hm_user_id(self._handle, _text(visitor_id, "visitorId"), _milliseconds(timeout), byref(out))
        if status:
            raise self._fail(status)
        try:
            return string_at(out).decode()
        finally:
            self._lib.hm_string_free(out)

    # -- lifecycle --

    def flush(self, timeout: Optional[float] = 5.0) -> FlushResult:
        """Waits (GIL released) until everything queued so far has an outcome, at most
        ``timeout`` seconds. The result is true when nothing is pending any more."""
        pending = c_uint64()
        status = self._lib.hm_flush(self._handle, _milliseconds(timeout), byref(pending))
        if status and status != STATUS["TIMEOUT"]:
            raise self._fail(status)
        return _flush_result(status == 0, pending.value)

    def shutdown(self, timeout: Optional[float] = 5.0) -> FlushResult:
        """Stops taking calls, sends what it can within ``timeout`` seconds, and stops the
        library's thread. What is still pending then is dropped (``result.pending``).
        Safe to repeat; later calls raise :class:`ShutDownError`."""
        _stop_flushing_on_signals(self)
        pending = c_uint64()
        status = self._lib.hm_shutdown(self._handle, _milliseconds(timeout), byref(pending))
        if status and status != STATUS["TIMEOUT"]:
            raise self._fail(status)
        return _flush_result(status == 0, pending.value)

    def close(self, timeout: Optional[float] = 5.0) -> FlushResult:
        """Shuts down and frees the native client. Must not run concurrently with other
        calls on this client; after it every call raises :class:`ShutDownError`."""
        with self._lock:
            if self._handle is None:
                return _flush_result(True, 0)
            result = self.shutdown(timeout)
            handle, self._handle = self._handle, None
            self._lib.hm_client_free(handle)
            return result

    def _exit_flush(self) -> None:
        """The process is ending: shut down within exit_flush_timeout (the core logs one line
        when requests are left undelivered)."""
        if self._handle is not None:
            self._lib.hm_shutdown_at_exit(self._handle, None)

    def stats(self) -> dict[str, int]:
        """The client's counters, read at one instant (so queued == delivered + rejected +
        gave_up + dropped + queue_depth + in_flight): queued, delivered, rejected, retried,
        gave_up, dropped, throttled, in_flight, queue_depth, shared_permits, shared_fallbacks,
        redis_errors, spooled, spool_bytes, resent, sender, spool_errors."""
        snapshot = _Stats(size=sizeof(_Stats))
        status = self._lib.hm_stats_snapshot(self._handle, byref(snapshot))
        if status:
            raise self._fail(status)
        return {name: getattr(snapshot, name) for name in STATS}

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is None or _state.finalizing:
            return  # at interpreter exit the process is going away; _at_exit already flushed
        try:
            self._handle = None
            self._lib.hm_client_free(handle)
        except BaseException:
            pass

    def __repr__(self) -> str:
        state = "closed" if self._handle is None else "open"
        return f"<himetrica.Client key={self._key_shown} endpoint={self._endpoint or 'default'} {state}>"

    def __reduce__(self) -> Any:
        raise TypeError("himetrica.Client cannot be pickled; create one per process")
