"""Every public call of the himetrica package, typed as a user's code would be.

`make test-python-types` runs `mypy --strict` on this file and on the package, and
tests/test_typed_usage.py runs it against a dev server, so the types and the behaviour they
describe are checked together:

    HIMETRICA_SECRET_KEY=hm_sk_... HIMETRICA_ENDPOINT=http://127.0.0.1:8787/api/v1 python typed_usage.py

The block under ``TYPE_CHECKING`` holds calls the types must refuse: each carries the one
``type: ignore`` code mypy reports for it, and ``--strict`` (``warn_unused_ignores``) fails if
a refusal stops happening.
"""

from __future__ import annotations

import datetime
import os
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional

import himetrica
from himetrica import asgi, wsgi

KEY = os.environ["HIMETRICA_SECRET_KEY"]
ENDPOINT = os.environ["HIMETRICA_ENDPOINT"]


def on_delivery(delivery: himetrica.Delivery) -> None:
    fields: tuple[str, str, int, int, Optional[str], str, bool] = (
        delivery.endpoint, delivery.outcome, delivery.status, delivery.attempts, delivery.message,
        delivery.body, delivery.delivered,
    )
    assert fields[0] in ("track", "identify")


def client_calls() -> None:
    client = himetrica.Client(
        KEY,
        endpoint=ENDPOINT,
        on_delivery=on_delivery,
        max_in_flight=4,
        retry_base_delay=datetime.timedelta(milliseconds=100),
        rate_limit_track=himetrica.RateLimit(1000, 60),
        rate_limit_identify=(500, 60),
        rate_limit_user_id="100/60",
    )
    client.identify(visitor_id="typed-v1", traits={"name": "Typed", "email": "typed@example.com"})
    client.track("typed_signup", visitor_id="typed-v1", properties={"plan": "pro", "amount": Decimal("29.99")},
                 timestamp=datetime.datetime.now(datetime.timezone.utc), session="latest")
    client.track(b"typed_bytes", email=b"typed@example.com", properties=b'{"raw":true}')
    user: str = client.user_id("typed-v1", timeout=5.0)
    assert user.startswith("hm_usr_")
    client.track("typed_by_user", user_id=user, timestamp="2026-01-31T12:00:00Z")
    flushed: himetrica.FlushResult = client.flush(10.0)
    completed: bool = flushed.completed
    pending: int = flushed.pending
    assert completed and pending == 0 and bool(flushed)
    counters: dict[str, int] = client.stats()
    assert counters["queued"] >= 4
    try:
        client.track("bad name", visitor_id="typed-v1")
    except himetrica.ValidationError as error:
        field: str = error.field
        status: int = error.status
        assert field == "eventName" and status == 1
    try:
        client.user_id("typed-unknown-visitor", timeout=5.0)
    except himetrica.NotFoundError as error:
        assert isinstance(error, himetrica.HimetricaError)
    done: himetrica.FlushResult = client.shutdown(5.0)
    try:
        client.track("after_shutdown", visitor_id="typed-v1")
    except himetrica.ShutDownError:
        pass
    assert client.close().completed and done.completed

    with himetrica.Client(KEY, endpoint=ENDPOINT) as scoped:
        scoped.track("typed_scoped", visitor_id="typed-v2")


def module_calls() -> None:
    default: himetrica.Client = himetrica.init(KEY, endpoint=ENDPOINT)
    assert himetrica.get_client() is default
    himetrica.track("typed_module", visitor_id="typed-v3", properties={"n": 1})
    himetrica.identify(visitor_id="typed-v3", traits={"name": "Module"})
    assert himetrica.user_id("typed-v3", timeout=5.0).startswith("hm_usr_")
    assert himetrica.flush(10.0)
    counters: dict[str, int] = himetrica.stats()
    version: str = himetrica.library_version()
    path: str = himetrica.library_path()
    assert counters["delivered"] >= 1 and version and path.endswith("libhimetrica.so")
    assert himetrica.shutdown(5.0).completed
    errors: tuple[type[himetrica.HimetricaError], ...] = (
        himetrica.LibraryNotFoundError, himetrica.NotFoundError, himetrica.QueueFullError,
        himetrica.RejectedError, himetrica.ShutDownError, himetrica.TimeoutError,
        himetrica.UnauthorizedError, himetrica.UnavailableError, himetrica.ValidationError,
    )
    assert all(issubclass(e, himetrica.HimetricaError) for e in errors)


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    handle: wsgi.RequestHandle = environ["himetrica"]
    handle.track("typed_wsgi_view", properties={"path": environ["PATH_INFO"]})
    handle.identify(traits={"name": "WSGI"})
    user: Optional[str] = handle.user_id(timeout=5.0)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [(user or "").encode()]


def middleware_calls() -> None:
    client = himetrica.Client(KEY, endpoint=ENDPOINT)
    app = wsgi.HimetricaMiddleware(wsgi_app, client, header="X-Visitor-Id", track_requests=True,
                                   event_name="typed_request", route=lambda environ: "/typed")
    statuses: list[str] = []
    environ: dict[str, Any] = {"REQUEST_METHOD": "GET", "PATH_INFO": "/typed", "HTTP_X_VISITOR_ID": "typed-v4"}
    body = app(environ, lambda status, headers: statuses.append(status))
    assert b"".join(body).startswith(b"hm_usr_") and statuses == ["200 OK"]
    getattr(body, "close")()  # the WSGI server's close(): the request is tracked now
    assert app.client is client

    async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        pass

    wrapped = asgi.HimetricaMiddleware(asgi_app, client, cookie="hm_vid", track_requests=True)
    assert wrapped.client is client and asgi.RequestHandle is wsgi.RequestHandle
    assert client.shutdown(10.0).completed


if TYPE_CHECKING:
    # Calls the types refuse (never run).
    _c = himetrica.Client(KEY)
    _c.track(42, visitor_id="v")  # type: ignore[arg-type]
    _c.track("e", "v")  # type: ignore[call-arg]
    _c.identify(visitor_id="v")  # type: ignore[call-arg]
    _c.user_id(None)  # type: ignore[arg-type]
    _flushed: int = _c.flush()  # type: ignore[assignment]
    _stat: str = _c.stats()["queued"]  # type: ignore[assignment]
    wsgi.HimetricaMiddleware(wsgi_app, "not a client")  # type: ignore[arg-type]


if __name__ == "__main__":
    client_calls()
    module_calls()
    middleware_calls()
    print("typed usage ok")
