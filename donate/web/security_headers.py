"""Security headers every answer carries, added where the route did not set its own.

Routes that know better (the campaign page's CSP, the back-office's ``no-referrer``) keep
their values; this fills the gaps, so a new route is safe by default. Framing: only the
widget's document (``/embed/…``) may be framed, by any site; everything else says
``X-Frame-Options: DENY`` and ``frame-ancestors 'none'``. HSTS only when the public URL is
https (never on an http demo, where it would pin the browser to a port that does not
speak TLS).

Applied to every answer by ``web.edge``, so it scans the answer's header list once and
appends prebuilt pairs (one set per class of path: framed or not, HSTS or not).
"""

from __future__ import annotations

FRAMEABLE_PREFIX = "/embed/"
HSTS = b"max-age=31536000; includeSubDomains"
DEFAULT_CSP = b"default-src 'none'; frame-ancestors 'none'"
# A framed document's own errors (404, 405) may be framed too; they need nothing else.
FRAMEABLE_DEFAULT_CSP = b"default-src 'none'; frame-ancestors *"

_CSP = b"content-security-policy"
_XFO = b"x-frame-options"
_HSTS = b"strict-transport-security"
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


def _defaults(*, frameable: bool, hsts: bool) -> tuple[tuple[bytes, bytes], ...]:
    """Everything this middleware may add, for one class of path (built once)."""
    pairs = [*_COMMON, (_CSP, FRAMEABLE_DEFAULT_CSP if frameable else DEFAULT_CSP)]
    if not frameable:
        pairs += _NOT_FRAMEABLE
    if hsts:
        pairs.append((_HSTS, HSTS))
    return tuple(pairs)


_DEFAULTS = {
    (frameable, hsts): _defaults(frameable=frameable, hsts=hsts)
    for frameable in (False, True)
    for hsts in (False, True)
}
_OURS = frozenset(name for pairs in _DEFAULTS.values() for name, _value in pairs)


def secure_headers(
    headers: list[tuple[bytes, bytes]], *, frameable: bool, hsts: bool
) -> list[tuple[bytes, bytes]]:
    """``headers`` (raw ASGI pairs) with the missing security headers added."""
    defaults = _DEFAULTS[frameable, hsts]
    present: set[bytes] = set()
    csp_at = -1
    for i, (name, _value) in enumerate(headers):
        lowered = name.lower()
        if lowered in _OURS:
            present.add(lowered)
            if lowered == _CSP:
                csp_at = i
    if not present:  # most answers: every default, prebuilt
        headers.extend(defaults)
        return headers
    headers.extend(pair for pair in defaults if pair[0] not in present)
    if csp_at >= 0 and not frameable and b"frame-ancestors" not in headers[csp_at][1]:
        name, value = headers[csp_at]
        headers[csp_at] = (name, value + b"; frame-ancestors 'none'")
    return headers
