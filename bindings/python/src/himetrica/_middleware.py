"""What the WSGI and ASGI middleware share: the per-request handle and request tracking.

Request tracking keeps the contract of every Himetrica middleware (Swift, Node, Python), written
down as data in ``Tests/vectors/request-tracking.json``: a request is tracked as
``http_request`` with ``method``, ``route`` (the framework's route pattern, or None, never the
raw path), ``status`` and ``durationMs``; a 5xx response as ``server_error``, never sampled out;
``excluded_paths`` (each with everything below it) are never tracked; ``sample_rate`` keeps that
share of the other requests.
"""

from __future__ import annotations

import logging
import random
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any, Iterable, Optional

if TYPE_CHECKING:
    from .client import Client

logger = logging.getLogger("himetrica")


class RequestHandle:
    """The client bound to one request's visitor (from the ``hm_vid`` cookie or a header).

    ``track``/``identify``/``user_id`` default to that visitor; pass ``user_id=`` or ``email=``
    to track someone else.
    """

    __slots__ = ("client", "visitor_id")

    def __init__(self, client: Client, visitor_id: Optional[str]) -> None:
        self.client = client
        self.visitor_id = visitor_id

    def track(self, event_name: Any, **kwargs: Any) -> None:
        if "user_id" not in kwargs and "email" not in kwargs and "visitor_id" not in kwargs:
            kwargs["visitor_id"] = self.visitor_id
        self.client.track(event_name, **kwargs)

    def identify(self, *, traits: Any, **kwargs: Any) -> None:
        if "user_id" not in kwargs and "email" not in kwargs and "visitor_id" not in kwargs:
            kwargs["visitor_id"] = self.visitor_id
        self.client.identify(traits=traits, **kwargs)

    def user_id(self, timeout: Optional[float] = 10.0) -> Optional[str]:
        """The visitor's Himetrica user id, or None when there is no visitor."""
        if not self.visitor_id:
            return None
        return self.client.user_id(self.visitor_id, timeout)

    def __repr__(self) -> str:
        return f"<himetrica.RequestHandle visitor_id={self.visitor_id!r}>"


def visitor_from(cookie_header: Optional[str], header_value: Optional[str], cookie_name: str) -> Optional[str]:
    if header_value:
        return header_value
    if not cookie_header:
        return None
    try:
        jar = SimpleCookie()
        jar.load(cookie_header)
        morsel = jar.get(cookie_name)
        return morsel.value if morsel is not None and morsel.value else None
    except Exception:
        return None


class RequestTracking:
    """What a middleware tracks about a request: the event names, excluded paths and sampling."""

    __slots__ = ("event_name", "server_error_event_name", "excluded_paths", "sample_rate")

    def __init__(self, event_name: str = "http_request", server_error_event_name: Optional[str] = "server_error",
                 excluded_paths: Iterable[str] = (), sample_rate: float = 1.0) -> None:
        if isinstance(excluded_paths, str):
            raise TypeError("excluded_paths: must be a list of paths, not one string")
        sample_rate = float(sample_rate)
        if not 0.0 <= sample_rate <= 1.0:
            raise ValueError("sample_rate: must be between 0 and 1")
        self.event_name = event_name
        self.server_error_event_name = server_error_event_name
        self.excluded_paths = tuple(str(p) for p in excluded_paths)
        self.sample_rate = sample_rate

    def is_excluded(self, path: str) -> bool:
        """Whether ``path`` is an excluded path or below one (``/health`` covers ``/health/db``, not ``/healthz``)."""
        return any(path == e or path.startswith(e if e.endswith("/") else e + "/") for e in self.excluded_paths)

    def event_for(self, status: int, draw: float) -> Optional[str]:
        """The event a finished request is tracked as, or None when sampling leaves it out.
        ``draw`` is a uniform random number in [0, 1), handed in so the rule is exact to test."""
        if status >= 500 and self.server_error_event_name is not None:
            return self.server_error_event_name
        return self.event_name if draw < self.sample_rate else None

    @staticmethod
    def properties(method: str, route: Optional[str], status: int, duration_ms: float) -> dict[str, Any]:
        """The event's properties, as the contract names them."""
        return {"method": method, "route": route, "status": status, "durationMs": round(duration_ms, 3)}

    def track(self, handle: RequestHandle, method: str, route: Optional[str], status: int, duration_ms: float) -> None:
        """Tracks one finished request; never raises (a failing analytics call must not break a request)."""
        if not handle.visitor_id:
            return
        try:
            name = self.event_for(status, random.random())
            if name is None:
                return
            handle.client.track(name, visitor_id=handle.visitor_id,
                                properties=self.properties(method, route, status, duration_ms))
        except Exception:
            logger.warning("himetrica: request tracking failed", exc_info=True)
