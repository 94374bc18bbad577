"""Request latency by route template, for ``web.edge``: cheap on the hot path."""

from __future__ import annotations

from typing import Any

from starlette.types import Scope

from donate.metrics import HTTP_REQUEST_DURATION, UNMATCHED_ROUTE

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RouteLatency:
    """Observes ``donate_http_request_duration_seconds{method, route, status_class}``.

    The route is the template of the route that answered (Starlette's router leaves it in
    ``scope["route"]``, on the scope dict the middleware was given), so ``/c/acme/spring``
    counts as ``/c/{org_slug}/{campaign_slug}``; a path no route matched is ``unmatched``.
    """

    def __init__(self) -> None:
        # Histogram.labels() takes a lock and builds a key; the children are few (methods ×
        # routes × 5 classes), so keep them.
        self._children: dict[tuple[str, str, int], Any] = {}

    def observe(self, scope: Scope, status: int, elapsed: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or UNMATCHED_ROUTE
        method = scope["method"]
        key = (method if method in _METHODS else "other", template, status // 100)
        child = self._children.get(key)
        if child is None:
            child = HTTP_REQUEST_DURATION.labels(key[0], template, f"{key[2]}xx")
            self._children[key] = child
        child.observe(elapsed)
