"""Django and FastAPI, the two most used Python web frameworks, with the middleware: a real Django
project under gunicorn (WSGI middleware, Django's request cycle, the route pattern from Django's
URL resolver) and a real FastAPI app under uvicorn (ASGI middleware, FastAPI's route templates),
over loopback against the dev server."""

from __future__ import annotations

import sys

import pytest

from test_middleware import CONTRACT, check, free_port, get, serve, stop

COUNT = 20

# framework: (module to import, server command, the item view's route, {path: route reported})
# A path whose route is None matches nothing and answers 404.
APPS = {
    "django": ("django", ["gunicorn", "-w", "2", "-b", "127.0.0.1:{port}", "djangoproj.wsgi:application"],
               "/items/<int:item_id>", {
                   "/shop/orders/big-order/": "/shop/orders/<slug:order>/",  # include() prefix joined
                   "/legacy/2024/": "/legacy/(?P<year>[0-9]{4})/",  # re_path, anchors dropped
                   "/no/such/page": None,
               }),
    "fastapi": ("fastapi", ["uvicorn", "--host", "127.0.0.1", "--port", "{port}", "--log-level", "warning",
                            "fastapi_app:app"],
                "/items/{item_id}", {
                    "/shop/orders/o-17": "/shop/orders/{order}",  # an APIRouter's prefix included
                    "/no/such/page": None,
                }),
}


@pytest.mark.parametrize("framework", sorted(APPS))
def test_framework_app_with_middleware(server, framework: str) -> None:
    module, command, item_route, routes = APPS[framework]
    pytest.importorskip(module)
    port = free_port()
    proc = serve([sys.executable, "-m", *(arg.format(port=port) for arg in command)], port, server)
    base = f"http://127.0.0.1:{port}"
    visitors = {f"vid-route-{i}": path for i, path in enumerate(routes)}
    try:
        check(server, base, COUNT, {item_route}, {"/boom"})  # view events, request events, a 500
        for visitor, path in visitors.items():
            assert get(base + path, visitor) == (404 if routes[path] is None else 200), path
        events = server.wait_events(2 * COUNT + 1 + len(routes), timeout=20)
    finally:
        stop(proc)
    reported = {e["body"]["visitorId"]: e["body"]["properties"]["route"] for e in events
                if e["body"]["eventName"] == CONTRACT["eventName"] and e["body"]["visitorId"] in visitors}
    assert reported == {visitor: routes[path] for visitor, path in visitors.items()}
