"""Request latency by route template: a pure ASGI middleware, cheap on the hot path."""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from donate.metrics import HTTP_REQUEST_DURATION, UNMATCHED_ROUTE

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetricsMiddleware:
    """Observes ``donate_http_request_duration_seconds{method, route, status_class}``.

    The route is the template of the route that answered (Starlette's router leaves it in
    ``scope["route"]``, on this same scope dict), so ``/c/acme/spring`` counts as
    ``/c/{org_slug}/{campaign_slug}``; a path no route matched is ``unmatched``. Put it first
    in the middleware list: the time of the other middlewares is part of the latency.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Histogram.labels() takes a lock and builds a key; the children are few (methods ×
        # routes × 5 classes), so keep them.
        self._children: dict[tuple[str, str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # an exception before the answer started becomes a 500 further out

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            self._observe(scope, status, time.perf_counter() - start)

    def _observe(self, scope: Scope, status: int, elapsed: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or UNMATCHED_ROUTE
        method = scope["method"]
        key = (method if method in _METHODS else "other", template, status // 100)
        child = self._children.get(key)
        if child is None:
            child = HTTP_REQUEST_DURATION.labels(key[0], template, f"{key[2]}xx")
            self._children[key] = child
        child.observe(elapsed)
