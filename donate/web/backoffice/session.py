"""The back-office cookies: the session token, the pre-session CSRF nonce, the language.

The session cookie is HttpOnly, SameSite=Lax, scoped to ``/admin``, and Secure when the
platform's public URL is https. It holds a random token; the database only its SHA-256.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import Response

from donate.services.accounts_sessions import SESSION_ABSOLUTE
from donate.web.state import app_state

SESSION_COOKIE = "donate_session"
NONCE_COOKIE = "donate_presession"  # binds the CSRF token of forms shown before login
LANG_COOKIE = "donate_lang"
COOKIE_PATH = "/admin"


def secure(request: Request) -> bool:
    return app_state(request).runtime.settings.public_url.startswith("https://")


def session_token(request: Request) -> str:
    return request.cookies.get(SESSION_COOKIE, "")


def set_session(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_ABSOLUTE.total_seconds()),
        path=COOKIE_PATH,
        secure=secure(request),
        httponly=True,
        samesite="lax",
    )


def clear_session(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path=COOKIE_PATH, secure=secure(request), httponly=True, samesite="lax"
    )


def presession_nonce(request: Request) -> tuple[str, bool]:
    """(nonce, new): the anonymous visitor's CSRF binding; ``new`` means set the cookie."""
    nonce = request.cookies.get(NONCE_COOKIE, "")
    if len(nonce) >= 32:
        return nonce, False
    return secrets.token_urlsafe(32), True


def set_nonce(request: Request, response: Response, nonce: str) -> None:
    response.set_cookie(
        NONCE_COOKIE,
        nonce,
        max_age=86400,
        path=COOKIE_PATH,
        secure=secure(request),
        httponly=True,
        samesite="lax",
    )


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def user_agent(request: Request) -> str | None:
    ua = request.headers.get("user-agent")
    return ua[:300] if ua else None
