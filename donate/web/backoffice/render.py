"""Rendering back-office pages: language, CSRF token, navigation, security headers.

``render(request, "admin/x.html", {...})`` uses what the guard stored on the request (the
member, or the signed-in user) so every page gets the layout's context without passing it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from donate.security.tokens import csrf_token
from donate.services.accounts_sessions import Current
from donate.web.backoffice import session as cookies
from donate.web.backoffice.static import admin_css_url
from donate.web.state import app_state
from donate.web.templating import LANGUAGES, environment, pick_language

CURRENT_KEY = "donate.backoffice.current"
MEMBER_KEY = "donate.backoffice.member"
NONCE_KEY = "donate.backoffice.nonce"

PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self' "
    "http: https:; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # links carry tokens in their query
    "X-Frame-Options": "DENY",
}


def secret(request: Request) -> str:
    key = app_state(request).runtime.settings.secret_key
    return key.get_secret_value() if key else "donate-dev"


def current_of(request: Request) -> Current | None:
    found: Current | None = request.scope.get(CURRENT_KEY)
    return found


def language(request: Request) -> str:
    asked = request.query_params.get("lang", "")
    if asked in LANGUAGES:
        return asked
    stored = request.cookies.get(cookies.LANG_COOKIE, "")
    if stored in LANGUAGES:
        return stored
    cur = current_of(request)
    if cur is not None and cur.user.locale[:2] in LANGUAGES:
        return cur.user.locale[:2]
    return pick_language(request)[0]


def csrf_binding(request: Request) -> str:
    """The session's id when a user is loaded, else the pre-session nonce (made if needed)."""
    cur = current_of(request)
    if cur is not None:
        return str(cur.session.id)
    nonce: str | None = request.scope.get(NONCE_KEY)
    if nonce is None:
        nonce, _new = cookies.presession_nonce(request)
        request.scope[NONCE_KEY] = nonce
    return nonce


def csrf_for(request: Request) -> str:
    return csrf_token(secret(request), csrf_binding(request))


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    title: str = "",
) -> HTMLResponse:
    lang = language(request)
    env = environment(lang)
    cur = current_of(request)
    ctx: dict[str, Any] = {
        "request_path": request.url.path,
        "csrf": csrf_for(request),
        "css": admin_css_url(),
        "member": request.scope.get(MEMBER_KEY),
        "user": cur.user if cur is not None and not cur.session.mfa_pending else None,
        "memberships": cur.memberships if cur is not None else [],
        "title": title,
        "notice": request.query_params.get("notice", ""),
    }
    ctx.update(context or {})
    body = env.get_template(template).render(ctx)
    response = HTMLResponse(body, status_code=status, headers={**HEADERS, "Content-Language": lang})
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(
            cookies.LANG_COOKIE, lang, max_age=365 * 86400, path=cookies.COOKIE_PATH,
            secure=cookies.secure(request), httponly=True, samesite="lax",
        )  # fmt: skip
    nonce = request.scope.get(NONCE_KEY)
    if nonce is not None and request.cookies.get(cookies.NONCE_COOKIE) != nonce:
        cookies.set_nonce(request, response, nonce)
    return response
