"""WSGI middleware (Flask, Django, any WSGI app).

    himetrica.wsgi.HimetricaMiddleware.install_flask(app, client, track_requests=True)   # Flask
    application = himetrica.wsgi.HimetricaMiddleware(get_wsgi_application(), client)      # Django (wsgi.py)
    application = himetrica.wsgi.HimetricaMiddleware(application, client)                 # any WSGI app

Each request gets ``environ["himetrica"]``, a :class:`~himetrica._middleware.RequestHandle` bound
to the visitor from the ``hm_vid`` cookie (or ``header=`` when given, e.g. ``"X-Visitor-Id"``).
With ``track_requests=True`` each request with a visitor is tracked as every Himetrica
middleware tracks it (``Tests/vectors/request-tracking.json``): ``event_name`` (``http_request``)
with method, route template (``route=callable(environ)`` when given, else Flask's rule, else
the pattern Django's URL resolver matches, ``/items/<int:item_id>``; else None, never the raw
path), status and ``durationMs``; a 5xx response, or an exception in the app
(status 500, re-raised), as ``server_error_event_name`` (``server_error``), never sampled out.
``excluded_paths`` (each with everything below it) are never tracked; ``sample_rate`` keeps that
share of the other requests. Tracking never breaks a request.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Optional

from ._django import django_route
from ._middleware import RequestHandle, RequestTracking, visitor_from

if TYPE_CHECKING:
    from .client import Client

__all__ = ["HimetricaMiddleware", "RequestHandle"]


class HimetricaMiddleware:
    """Wraps a WSGI application; see the module's documentation."""

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        client: Optional[Client] = None,
        *,
        cookie: str = "hm_vid",
        header: Optional[str] = None,
        track_requests: bool = False,
        event_name: str = "http_request",
        route: Optional[Callable[[dict[str, Any]], Optional[str]]] = None,
        environ_key: str = "himetrica",
        server_error_event_name: Optional[str] = "server_error",
        excluded_paths: Iterable[str] = (),
        sample_rate: float = 1.0,
    ) -> None:
        self.app = app
        self._client = client
        self.cookie = cookie
        self.header_key = None if header is None else "HTTP_" + header.upper().replace("-", "_")
        self.track_requests = track_requests
        self.event_name = event_name
        self.tracking = RequestTracking(event_name, server_error_event_name, excluded_paths, sample_rate)
        self.route = route
        self.environ_key = environ_key

    @classmethod
    def install_flask(cls, app: Any, client: Optional[Client] = None, **options: Any) -> HimetricaMiddleware:
        """Wraps ``app.wsgi_app`` and records Flask's route template (``/items/<int:id>``)."""

        def remember_route() -> None:
            from flask import request

            if request.url_rule is not None:
                request.environ["himetrica.route"] = request.url_rule.rule

        app.before_request(remember_route)
        middleware = cls(app.wsgi_app, client, **options)
        app.wsgi_app = middleware
        return middleware

    @property
    def client(self) -> Client:
        """The client given, or the module's default client (:func:`himetrica.get_client`)."""
        if self._client is None:
            import himetrica

            self._client = himetrica.get_client()
        return self._client

    def _route(self, environ: dict[str, Any]) -> Optional[str]:
        try:
            if self.route is not None:
                return self.route(environ)
            route: Optional[str] = environ.get("himetrica.route")  # set by install_flask's before_request hook
            return route if route is not None else django_route(environ)
        except Exception:
            return None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            visitor = visitor_from(
                environ.get("HTTP_COOKIE"), environ.get(self.header_key) if self.header_key else None, self.cookie
            )
            handle = RequestHandle(self.client, visitor)
            environ[self.environ_key] = handle
        except Exception:
            return self.app(environ, start_response)
        if not self.track_requests or self.tracking.is_excluded(environ.get("PATH_INFO") or "/"):
            return self.app(environ, start_response)
        started = time.perf_counter()
        status = [500]

        def recording_start_response(status_line: str, headers: Any, exc_info: Any = None) -> Any:
            try:
                status[0] = int(status_line.split(" ", 1)[0])
            except Exception:
                pass
            return start_response(status_line, headers, exc_info) if exc_info else start_response(status_line, headers)

        def finish(error: Optional[BaseException]) -> None:
            self.tracking.track(handle, environ.get("REQUEST_METHOD", ""), self._route(environ),
                                500 if error is not None else status[0], (time.perf_counter() - started) * 1000)

        try:
            result = self.app(environ, recording_start_response)
        except BaseException as error:
            finish(error)
            raise
        return _ClosingIterable(result, finish)


class _ClosingIterable:
    """Passes the body through and tracks the request when the server closes it."""

    def __init__(self, result: Iterable[bytes], finish: Callable[[Optional[BaseException]], None]) -> None:
        self.result = result
        self.finish = finish
        self.done = False

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.result)

    def close(self) -> None:
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
        finally:
            if not self.done:
                self.done = True
                self.finish(None)
