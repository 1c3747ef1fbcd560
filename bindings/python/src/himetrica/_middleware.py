"""What the WSGI and ASGI middleware share: the per-request handle and request tracking."""

from __future__ import annotations

import logging
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any, Optional

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


def track_request(handle: RequestHandle, event_name: str, method: str, route: Optional[str], status: int,
                  duration_ms: float, error: Optional[BaseException]) -> None:
    """Tracks one request; never raises (a failing analytics call must not break a request)."""
    if not handle.visitor_id:
        return
    try:
        properties = {"method": method, "route": route, "status": status, "durationMs": round(duration_ms, 3)}
        if error is not None:
            properties["error"] = type(error).__name__
        handle.client.track(event_name, visitor_id=handle.visitor_id, properties=properties)
    except Exception:
        logger.warning("himetrica: request tracking failed", exc_info=True)
