"""Django and FastAPI, the two most used Python web frameworks, with the middleware: a real Django
project under gunicorn (WSGI middleware, Django's request cycle, the route pattern from Django's
URL resolver) and a real FastAPI app under uvicorn (ASGI middleware, FastAPI's route templates),
over loopback against the dev server."""

from __future__ import annotations

import sys

import pytest

from test_middleware import check, free_port, get, serve, stop

COUNT = 20


def routes_by_visitor(server, expected: int) -> dict:
    """The route of each tracked request of the visitors named vid-route-*."""
    events = server.wait_events(expected, timeout=20)
    return {e["body"]["visitorId"]: e["body"]["properties"]["route"] for e in events
            if e["body"]["eventName"] == "request" and e["body"]["visitorId"].startswith("vid-route-")}


def test_django_project_under_gunicorn(server):
    pytest.importorskip("django")
    port = free_port()
    proc = serve([sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "djangoproj.wsgi:application"],
                 port, server)
    base = f"http://127.0.0.1:{port}"
    try:
        check(server, base, COUNT, {"/items/<int:item_id>"})  # view events, request events, a 500
        assert get(f"{base}/shop/orders/big-order/", "vid-route-include") == 200
        assert get(f"{base}/legacy/2024/", "vid-route-regex") == 200
        assert get(f"{base}/no/such/page", "vid-route-none") == 404
        routes = routes_by_visitor(server, 2 * COUNT + 1 + 3)
    finally:
        stop(proc)
    assert routes == {
        "vid-route-include": "/shop/orders/<slug:order>/",  # include() prefix joined by the resolver
        "vid-route-regex": "/legacy/(?P<year>[0-9]{4})/",
        "vid-route-none": None,  # no pattern matched
    }


def test_fastapi_app_under_uvicorn(server):
    pytest.importorskip("fastapi")
    port = free_port()
    proc = serve([sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                  "fastapi_app:app"], port, server)
    base = f"http://127.0.0.1:{port}"
    try:
        check(server, base, COUNT, {"/items/{item_id}"})
        assert get(f"{base}/shop/orders/o-17", "vid-route-router") == 200
        assert get(f"{base}/no/such/page", "vid-route-none") == 404
        routes = routes_by_visitor(server, 2 * COUNT + 1 + 2)
    finally:
        stop(proc)
    assert routes == {
        "vid-route-router": "/shop/orders/{order}",  # an APIRouter's prefix included
        "vid-route-none": None,
    }
