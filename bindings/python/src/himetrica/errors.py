"""Exceptions raised by the Himetrica binding.

Every exception derives from :class:`HimetricaError`. Messages come from the core library
(the same text in every language) and never contain the secret key.
"""

from __future__ import annotations

import builtins

from ._constants import STATUS

__all__ = [
    "HimetricaError",
    "LibraryNotFoundError",
    "ValidationError",
    "QueueFullError",
    "ShutDownError",
    "TimeoutError",
    "NotFoundError",
    "UnauthorizedError",
    "RejectedError",
    "UnavailableError",
]


class HimetricaError(Exception):
    """Base class of every error raised by this package."""

    #: The core's status code (``hm_status``), or 0 when the error was raised in Python.
    status: int = 0

    def __init__(self, message: str = "", status: int | None = None) -> None:
        Exception.__init__(self, message)
        self.message = message
        if status is not None:
            self.status = status


class LibraryNotFoundError(ImportError, HimetricaError):
    """``libhimetrica.so`` could not be found or loaded."""

    __init__ = HimetricaError.__init__


class ValidationError(ValueError, HimetricaError):
    """An argument broke one of the API's rules; nothing was queued.

    ``str(error)`` is exactly the core's message, ``"<field>: <rule>"``, e.g.
    ``"eventName: may contain only letters, digits, '_' and '-'"``.
    """

    __init__ = HimetricaError.__init__

    status = STATUS["INVALID_ARGUMENT"]

    @property
    def field(self) -> str:
        """The argument or option the message names (the text before the first ``": "``)."""
        return self.message.split(": ", 1)[0]


class QueueFullError(HimetricaError):
    """The queue is full; the call was dropped (and counted in ``stats()['dropped']``)."""

    status = STATUS["QUEUE_FULL"]


class ShutDownError(HimetricaError):
    """The client was shut down; it takes no more calls."""

    status = STATUS["SHUT_DOWN"]


class TimeoutError(builtins.TimeoutError, HimetricaError):  # noqa: A001 - mirrors the builtin
    """The deadline passed before the answer came (``user_id``)."""

    __init__ = HimetricaError.__init__

    status = STATUS["TIMEOUT"]


class NotFoundError(LookupError, HimetricaError):
    """The server does not know the visitor (HTTP 404)."""

    __init__ = HimetricaError.__init__

    status = STATUS["NOT_FOUND"]


class UnauthorizedError(HimetricaError):
    """The server refused the secret key (HTTP 401)."""

    status = STATUS["UNAUTHORIZED"]


class RejectedError(HimetricaError):
    """The server refused the request (another 4xx)."""

    status = STATUS["REJECTED"]


class UnavailableError(HimetricaError):
    """The server could not be reached within the retry budget."""

    status = STATUS["UNAVAILABLE"]


_BY_STATUS: dict[int, type[HimetricaError]] = {
    cls.status: cls
    for cls in (
        ValidationError,
        QueueFullError,
        ShutDownError,
        TimeoutError,
        NotFoundError,
        UnauthorizedError,
        RejectedError,
        UnavailableError,
    )
}


def error_for(status: int, message: str | None) -> HimetricaError:
    """The exception for a core status and its ``hm_last_error()`` message."""
    cls = _BY_STATUS.get(status, HimetricaError)
    return cls(message or f"himetrica status {status}", status)
