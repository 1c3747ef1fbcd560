"""What calls return: :class:`FlushResult` and :class:`Delivery`.

A module of its own, imported on first use rather than with the package: ``dataclasses``
(with ``inspect``, which it imports) was over a quarter of ``import himetrica``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

__all__ = ["Delivery", "FlushResult"]


@dataclass(frozen=True)
class FlushResult:
    """What ``flush()`` / ``shutdown()`` returned. True when nothing is left pending."""

    completed: bool
    #: Requests still waiting or in flight (flush), or dropped (shutdown).
    pending: int

    def __bool__(self) -> bool:
        return self.completed


@dataclass(frozen=True)
class Delivery:
    """One track/identify request's final outcome, given to ``on_delivery``."""

    #: ``"track"`` or ``"identify"``.
    endpoint: str
    #: ``"delivered"``, ``"rejected"``, ``"gave_up"`` or ``"dropped"``.
    outcome: str
    #: The last HTTP status, 0 when no answer came.
    status: int
    #: Attempts made.
    attempts: int
    #: The server's or the transport's error when it was not delivered.
    message: Optional[str]
    #: The request's JSON body.
    body: str

    @property
    def delivered(self) -> bool:
        return self.outcome == "delivered"
