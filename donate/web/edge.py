"""The one middleware every request goes through: request id, security headers, latency.

Three concerns, one pure ASGI layer: each layer costs a coroutine per request and a wrapper
call per message sent, which on a cached page is a fair share of the whole answer. The
rules themselves live in their modules (``request_id``, ``security_headers``,
``request_metrics``); this only applies them, in one pass over the answer's start.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from donate.observability import request_id_var
from donate.web.request_id import REQUEST_ID_HEADER, request_id_for
from donate.web.request_metrics import RouteLatency
from donate.web.security_headers import FRAMEABLE_PREFIX, secure_headers


class EdgeMiddleware:
    """Put it first in the middleware list: the others' time is part of the latency.

    - ``X-Request-ID``: the proxy's, or a new one; logs (``request_id_var``) and the answer
      carry it.
    - Security headers where the route did not set its own (``security_headers``).
    - ``donate_http_request_duration_seconds`` by route template (``request_metrics``).
    """

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts
        self.latency = RouteLatency()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        rid = request_id_for(scope)
        token = request_id_var.set(rid)
        id_header = (REQUEST_ID_HEADER, rid.encode("latin-1"))
        frameable = scope["path"].startswith(FRAMEABLE_PREFIX)
        hsts = self.hsts
        status = 500  # an exception before the answer started becomes a 500 further out

        async def send_at_edge(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = secure_headers(
                    list(message.get("headers", ())), frameable=frameable, hsts=hsts
                )
                headers.append(id_header)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_at_edge)
        finally:
            request_id_var.reset(token)
            self.latency.observe(scope, status, time.perf_counter() - start)
