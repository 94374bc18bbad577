"""Signing in and out, the second factor, e-mail verification and password reset pages."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from donate.services import accounts, accounts_sessions
from donate.services.accounts_sessions import LoginOutcome
from donate.services.errors import InvalidRequest
from donate.web.backoffice import session as cookies
from donate.web.backoffice import throttle
from donate.web.backoffice.guard import field, load_current, read_form, require_user
from donate.web.backoffice.render import render
from donate.web.state import app_state

LOGIN_FAILED = "Wrong e-mail address or password."
THROTTLED = "Too many attempts. Wait a few minutes, or reset your password."


def safe_next(value: str) -> str:
    """Only our own back-office paths: never an open redirect."""
    if value.startswith("/admin") and not value.startswith("//") and "\\" not in value:
        return value
    return "/admin"


def _redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


async def home(request: Request) -> Response:
    """``/admin``: the association worked on last, else the first one, else the account."""
    cur = await require_user(request)
    if not cur.memberships:
        return _redirect("/admin/account")
    last = next(
        (m for m in cur.memberships if m.organization_id == cur.session.organization_id),
        cur.memberships[0],
    )
    return _redirect(f"/admin/{quote(last.org_slug)}")


async def login_page(request: Request) -> Response:
    cur = await load_current(request)
    if cur is not None and not cur.session.mfa_pending:
        return _redirect(safe_next(request.query_params.get("next", "")))
    request.scope.pop("donate.backoffice.current", None)  # the form is bound to the nonce
    return render(request, "admin/login.html", {"next": request.query_params.get("next", "")})


async def login_submit(request: Request) -> Response:
    form = await read_form(request)
    email, password = field(form, "email").strip(), field(form, "password")
    next_path = safe_next(field(form, "next"))
    redis, ip = app_state(request).redis, cookies.client_ip(request)
    ctx = {"email": email, "next": field(form, "next")}
    if await throttle.blocked(redis, email, ip):
        return render(request, "admin/login.html", {**ctx, "error": THROTTLED}, status=429)
    rt = app_state(request).runtime
    result = await accounts_sessions.login(
        rt, email, password, ip=ip, ua=cookies.user_agent(request)
    )
    if result.outcome == LoginOutcome.FAILED:
        await throttle.failed(redis, email, ip)
        return render(request, "admin/login.html", {**ctx, "error": LOGIN_FAILED}, status=400)
    await throttle.succeeded(redis, email)
    if result.outcome == LoginOutcome.UNVERIFIED:
        await accounts.resend_verification(rt, email)
        return render(request, "admin/message.html", {"kind": "unverified"}, status=403)
    assert result.token is not None
    if result.outcome == LoginOutcome.TOTP_NEEDED:
        response = _redirect(f"/admin/login/totp?next={quote(next_path, safe='')}")
    else:
        response = _redirect(next_path)
    cookies.set_session(request, response, result.token)
    return response


async def totp_page(request: Request) -> Response:
    cur = await load_current(request)
    if cur is None or not cur.session.mfa_pending:
        return _redirect("/admin/login")
    return render(request, "admin/totp.html", {"next": request.query_params.get("next", "")})


async def totp_submit(request: Request) -> Response:
    cur = await load_current(request)
    if cur is None or not cur.session.mfa_pending:
        return _redirect("/admin/login")
    form = await read_form(request)
    redis, ip = app_state(request).redis, cookies.client_ip(request)
    ctx = {"next": field(form, "next")}
    if await throttle.blocked(redis, cur.user.email, ip, scope="totp"):
        return render(request, "admin/totp.html", {**ctx, "error": THROTTLED}, status=429)
    token = await accounts_sessions.complete_totp(
        app_state(request).runtime, cur, field(form, "code"),
        ip=ip, ua=cookies.user_agent(request),
    )  # fmt: skip
    if token is None:
        await throttle.failed(redis, cur.user.email, ip, scope="totp")
        error = "This code is not valid."
        return render(request, "admin/totp.html", {**ctx, "error": error}, status=400)
    await throttle.succeeded(redis, cur.user.email, scope="totp")
    response = _redirect(safe_next(field(form, "next")))
    cookies.set_session(request, response, token)
    return response


async def logout(request: Request) -> Response:
    cur = await load_current(request)
    if cur is not None:
        await read_form(request)
        await accounts_sessions.logout(app_state(request).runtime, cur.user.id, cur.session.id)
    response = _redirect("/admin/login?notice=logged_out")
    cookies.clear_session(request, response)
    return response


async def verify(request: Request) -> Response:
    ok = await accounts.verify_email(
        app_state(request).runtime, request.query_params.get("token", "")
    )
    kind = "verified" if ok else "bad_link"
    return render(request, "admin/message.html", {"kind": kind}, status=200 if ok else 400)


async def forgot_page(request: Request) -> Response:
    return render(request, "admin/forgot.html")


async def forgot_submit(request: Request) -> Response:
    form = await read_form(request)
    email = field(form, "email").strip()
    redis, ip = app_state(request).redis, cookies.client_ip(request)
    # Counted like login failures: the form must not become a mail cannon.
    if await throttle.blocked(redis, email, ip, scope="reset"):
        return render(request, "admin/forgot.html", {"error": THROTTLED}, status=429)
    await throttle.failed(redis, email, ip, scope="reset")
    if "@" in email:
        await accounts.request_password_reset(app_state(request).runtime, email)
    return render(request, "admin/message.html", {"kind": "reset_sent"})


async def reset_page(request: Request) -> Response:
    token = request.query_params.get("token", "")
    if not await accounts.reset_token_valid(app_state(request).runtime, token):
        return render(request, "admin/message.html", {"kind": "bad_link"}, status=400)
    return render(request, "admin/reset.html", {"token": token, "errors": {}})


async def reset_submit(request: Request) -> Response:
    form = await read_form(request)
    token = field(form, "token")
    try:
        await accounts.reset_password(
            app_state(request).runtime, token, field(form, "password"),
            field(form, "password_confirm"),
        )  # fmt: skip
    except InvalidRequest as exc:
        if "token" in exc.errors:
            return render(request, "admin/message.html", {"kind": "bad_link"}, status=400)
        ctx = {"token": token, "errors": exc.errors}
        return render(request, "admin/reset.html", ctx, status=400)
    response = _redirect("/admin/login?notice=password_changed")
    cookies.clear_session(request, response)
    return response


routes = [
    Route("/admin", home, methods=["GET"]),
    Route("/admin/login", login_page, methods=["GET"]),
    Route("/admin/login", login_submit, methods=["POST"]),
    Route("/admin/login/totp", totp_page, methods=["GET"]),
    Route("/admin/login/totp", totp_submit, methods=["POST"]),
    Route("/admin/logout", logout, methods=["POST"]),
    Route("/admin/verify", verify, methods=["GET"]),
    Route("/admin/password/forgot", forgot_page, methods=["GET"]),
    Route("/admin/password/forgot", forgot_submit, methods=["POST"]),
    Route("/admin/password/reset", reset_page, methods=["GET"]),
    Route("/admin/password/reset", reset_submit, methods=["POST"]),
]
