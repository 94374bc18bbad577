"""Security headers every answer carries, added where the route did not set its own.

Routes that know better (the campaign page's CSP, the back-office's ``no-referrer``) keep
their values; this fills the gaps, so a new route is safe by default. Framing: only the
widget's document (``/embed/…``) may be framed, by any site; everything else says
``X-Frame-Options: DENY`` and ``frame-ancestors 'none'``. HSTS only when the public URL is
https (never on an http demo, where it would pin the browser to a port that does not
speak TLS).

A pure ASGI middleware: on every request, so it only scans the response's header list once.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

FRAMEABLE_PREFIX = "/embed/"
HSTS = b"max-age=31536000; includeSubDomains"
DEFAULT_CSP = b"default-src 'none'; frame-ancestors 'none'"
# A framed document's own errors (404, 405) may be framed too; they need nothing else.
FRAMEABLE_DEFAULT_CSP = b"default-src 'none'; frame-ancestors *"

_CSP = b"content-security-policy"
_XFO = b"x-frame-options"
_COMMON: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
)
# Our top-level pages never need a cross-origin opener (the checkout is a full navigation);
# a framed document ignores COOP anyway, so the embed is left alone.
_NOT_FRAMEABLE: tuple[tuple[bytes, bytes], ...] = (
    (_XFO, b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        frameable = scope["path"].startswith(FRAMEABLE_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = secure_headers(
                    list(message.get("headers", [])), frameable=frameable, hsts=self.hsts
                )
            await send(message)

        await self.app(scope, receive, send_with_headers)


def secure_headers(
    headers: list[tuple[bytes, bytes]], *, frameable: bool, hsts: bool
) -> list[tuple[bytes, bytes]]:
    """``headers`` (raw ASGI pairs) with the missing security headers added."""
    present: set[bytes] = set()
    csp_at = -1
    for i, (name, _value) in enumerate(headers):
        lowered = name.lower()
        present.add(lowered)
        if lowered == _CSP:
            csp_at = i
    for name, value in _COMMON:
        if name not in present:
            headers.append((name, value))
    if csp_at < 0:
        headers.append((_CSP, FRAMEABLE_DEFAULT_CSP if frameable else DEFAULT_CSP))
    elif not frameable and b"frame-ancestors" not in headers[csp_at][1]:
        name, value = headers[csp_at]
        headers[csp_at] = (name, value + b"; frame-ancestors 'none'")
    if not frameable:
        headers.extend(pair for pair in _NOT_FRAMEABLE if pair[0] not in present)
    if hsts and b"strict-transport-security" not in present:
        headers.append((b"strict-transport-security", HSTS))
    return headers
