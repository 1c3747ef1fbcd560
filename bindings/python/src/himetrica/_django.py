"""The route pattern of a Django request, from Django's own URL resolver, for the WSGI middleware.

Django keeps the match on its request object (``request.resolver_match``), which a WSGI
middleware never sees, so the pattern is asked of the same resolver, with the same path: the
URLconf's ``path()``/``re_path()`` patterns joined through ``include()``, as
``/items/<int:item_id>`` (a ``re_path()`` regex without its ``^``/``$`` anchors). A
per-request ``request.urlconf`` set by a Django middleware is not seen; ``ROOT_URLCONF`` is.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Any, Optional

__all__ = ["django_route"]


def django_route(environ: dict[str, Any]) -> Optional[str]:
    """The pattern of the URL that Django routes this request to, or None when Django is not
    serving this process (not imported or not configured) or no pattern matches."""
    handlers: Any = sys.modules.get("django.core.handlers.wsgi")
    if handlers is None:
        return None  # never imports Django itself
    # Django ships no type information, so it is reached as Any (mypy --strict checks the rest).
    if not import_module("django.conf").settings.configured:
        return None
    urls: Any = import_module("django.urls")
    try:
        match = urls.resolve(handlers.get_path_info(environ))
    except urls.Resolver404:
        return None
    route = str(match.route)  # a re_path() pattern is its regex, anchored: shown without ^ and $
    if route.startswith("^"):
        route = route[1:]
    if route.endswith("$") and not route.endswith("\\$"):
        route = route[:-1]
    return "/" + route
