"""ASGI middleware (Starlette, FastAPI, any ASGI app).

    app.add_middleware(himetrica.asgi.HimetricaMiddleware, client=client, track_requests=True)

Each HTTP request gets ``scope["himetrica"]`` (and ``request.state.himetrica``), a
:class:`~himetrica._middleware.RequestHandle` bound to the visitor from the ``hm_vid`` cookie
(or ``header=``). With ``track_requests=True`` each request with a visitor is tracked as every
Himetrica middleware tracks it (``Tests/vectors/request-tracking.json``): ``event_name``
(``http_request``) with method, route template (``scope["route"].path`` where the framework
sets it, FastAPI does; else None, never the raw path), status and ``durationMs``; a 5xx
response, or an exception (status 500, re-raised), as ``server_error_event_name``
(``server_error``), never sampled out. ``excluded_paths`` (each with everything below it) are
never tracked; ``sample_rate`` keeps that share of the other requests. Tracking never breaks a
request.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Iterable, Optional

from ._middleware import RequestHandle, RequestTracking, visitor_from

if TYPE_CHECKING:
    from .client import Client

__all__ = ["HimetricaMiddleware", "RequestHandle"]


class HimetricaMiddleware:
    """Wraps an ASGI application; see the module's documentation."""

    def __init__(
        self,
        app: Any,
        client: Optional[Client] = None,
        *,
        cookie: str = "hm_vid",
        header: Optional[str] = None,
        track_requests: bool = False,
        event_name: str = "http_request",
        server_error_event_name: Optional[str] = "server_error",
        excluded_paths: Iterable[str] = (),
        sample_rate: float = 1.0,
    ) -> None:
        self.app = app
        self._client = client
        self.cookie = cookie
        self.header = None if header is None else header.lower().encode("latin-1")
        self.track_requests = track_requests
        self.event_name = event_name
        self.tracking = RequestTracking(event_name, server_error_event_name, excluded_paths, sample_rate)

    @property
    def client(self) -> Client:
        """The client given, or the module's default client (:func:`himetrica.get_client`)."""
        if self._client is None:
            import himetrica

            self._client = himetrica.get_client()
        return self._client

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        try:
            cookie_header = header_value = None
            for name, value in scope.get("headers") or ():
                if name == b"cookie":
                    cookie_header = value.decode("latin-1")
                elif self.header is not None and name == self.header:
                    header_value = value.decode("latin-1")
            handle = RequestHandle(self.client, visitor_from(cookie_header, header_value, self.cookie))
            scope["himetrica"] = handle
            scope.setdefault("state", {})["himetrica"] = handle
        except Exception:
            await self.app(scope, receive, send)
            return
        if not self.track_requests or self.tracking.is_excluded(scope.get("path") or "/"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def recording_send(message: dict[str, Any]) -> None:
            if message.get("type") == "http.response.start":
                status[0] = int(message.get("status", 500))
            await send(message)

        error: Optional[BaseException] = None
        try:
            await self.app(scope, receive, recording_send)
        except BaseException as exc:
            error = exc
            raise
        finally:
            route = getattr(scope.get("route"), "path", None) or getattr(scope.get("route"), "path_format", None)
            self.tracking.track(handle, scope.get("method", ""), route,
                                500 if error is not None else status[0], (time.perf_counter() - started) * 1000)
