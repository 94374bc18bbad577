"""Sign-up of an association, and the signed-in user's own account: sessions, password, TOTP."""

from __future__ import annotations

from uuid import UUID

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from donate.services import accounts, accounts_sessions
from donate.services.accounts import Upload
from donate.services.accounts_images import MAX_UPLOAD_BYTES
from donate.services.errors import InvalidRequest
from donate.web.backoffice.guard import PageError, field, load_current, read_form, require_user
from donate.web.backoffice.render import language, render
from donate.web.state import app_state

ORG_TEXT_FIELDS = (
    "legal_name", "slug", "address_line1", "address_line2", "postal_code", "city", "country",
    "siren", "rna", "object", "fiscal_qualification", "utilite_publique_decree",
    "receipt_signatory_name", "receipt_signatory_role", "color_primary", "color_accent",
)  # fmt: skip
OWNER_FIELDS = ("full_name", "email")


async def uploads(form: FormData, names: tuple[str, ...]) -> dict[str, Upload]:
    out: dict[str, Upload] = {}
    for name in names:
        value = form.get(name)
        if isinstance(value, UploadFile):
            data = await value.read(MAX_UPLOAD_BYTES + 1)
            out[name] = Upload(data[:MAX_UPLOAD_BYTES], too_large=len(data) > MAX_UPLOAD_BYTES)
    return out


async def signup_page(request: Request) -> Response:
    cur = await load_current(request)
    signed_in = cur is not None and not cur.session.mfa_pending
    if not signed_in:
        request.scope.pop("donate.backoffice.current", None)
    return render(request, "admin/signup.html", {"values": {}, "errors": {},
                                                 "signed_in": signed_in})  # fmt: skip


async def signup_submit(request: Request) -> Response:
    cur = await load_current(request)
    signed_in = cur is not None and not cur.session.mfa_pending
    if not signed_in:
        request.scope.pop("donate.backoffice.current", None)
    form = await read_form(request, max_files=2)
    raw = {name: field(form, name) for name in (*ORG_TEXT_FIELDS, *OWNER_FIELDS)}
    raw.update(password=field(form, "password"), password_confirm=field(form, "password_confirm"),
               accept=field(form, "accept"))  # fmt: skip
    files = await uploads(form, ("logo", "signature"))
    await form.close()
    try:
        done = await accounts.sign_up(
            app_state(request).runtime, raw, files,
            existing_user=cur.user.id if signed_in and cur is not None else None,
            lang=language(request),
        )  # fmt: skip
    except InvalidRequest as exc:
        values = {k: v for k, v in raw.items() if not k.startswith("password")}
        ctx = {"values": values, "errors": exc.errors, "signed_in": signed_in}
        return render(request, "admin/signup.html", ctx, status=400)
    if signed_in:
        return RedirectResponse(f"/admin/{done.org_slug}?notice=created", status_code=303)
    return render(request, "admin/message.html", {"kind": "check_inbox"})


async def account_page(request: Request, *, errors: dict[str, str] | None = None,
                       status: int = 200) -> Response:  # fmt: skip
    cur = await require_user(request)
    rt = app_state(request).runtime
    ctx = {
        "sessions": await accounts_sessions.list_sessions(rt, cur.user.id),
        "this_session": cur.session.id,
        "totp_enabled": cur.user.totp_secret_encrypted is not None,
        "errors": errors or {},
    }
    return render(request, "admin/account.html", ctx, status=status)


async def account(request: Request) -> Response:
    return await account_page(request)


async def revoke_session(request: Request) -> Response:
    cur = await require_user(request)
    await read_form(request)
    try:
        session_id = UUID(request.path_params["session_id"])
    except ValueError:
        raise PageError(404) from None
    if not await accounts_sessions.revoke_session(
        app_state(request).runtime, cur.user.id, session_id
    ):
        raise PageError(404)
    return RedirectResponse("/admin/account?notice=session_revoked", status_code=303)


async def revoke_others(request: Request) -> Response:
    cur = await require_user(request)
    await read_form(request)
    await accounts_sessions.revoke_other_sessions(
        app_state(request).runtime, cur.user.id, cur.session.id
    )
    return RedirectResponse("/admin/account?notice=sessions_revoked", status_code=303)


async def change_password(request: Request) -> Response:
    cur = await require_user(request)
    form = await read_form(request)
    try:
        await accounts_sessions.change_password(
            app_state(request).runtime, cur, field(form, "current_password"),
            field(form, "password"), field(form, "password_confirm"),
        )  # fmt: skip
    except InvalidRequest as exc:
        return await account_page(request, errors=exc.errors, status=400)
    return RedirectResponse("/admin/account?notice=password_changed", status_code=303)


async def totp_setup(request: Request) -> Response:
    cur = await require_user(request)
    if cur.user.totp_secret_encrypted is not None:
        return RedirectResponse("/admin/account", status_code=303)
    secret = await accounts_sessions.start_totp_setup(app_state(request).runtime, cur)
    uri = accounts_sessions.provisioning_uri(secret, cur.user.email)
    return render(request, "admin/totp_setup.html", {"secret": secret, "uri": uri, "error": ""})


async def totp_confirm(request: Request) -> Response:
    cur = await require_user(request)
    form = await read_form(request)
    rt = app_state(request).runtime
    if not await accounts_sessions.confirm_totp_setup(rt, cur, field(form, "code")):
        secret = await accounts_sessions.start_totp_setup(rt, cur)
        uri = accounts_sessions.provisioning_uri(secret, cur.user.email)
        ctx = {"secret": secret, "uri": uri, "error": "This code is not valid."}
        return render(request, "admin/totp_setup.html", ctx, status=400)
    return RedirectResponse("/admin/account?notice=totp_enabled", status_code=303)


async def totp_disable(request: Request) -> Response:
    cur = await require_user(request)
    form = await read_form(request)
    try:
        await accounts_sessions.disable_totp(
            app_state(request).runtime, cur, field(form, "current_password"), field(form, "code")
        )
    except InvalidRequest as exc:
        return await account_page(request, errors=exc.errors, status=400)
    return RedirectResponse("/admin/account?notice=totp_disabled", status_code=303)


routes = [
    Route("/admin/signup", signup_page, methods=["GET"]),
    Route("/admin/signup", signup_submit, methods=["POST"]),
    Route("/admin/account", account, methods=["GET"]),
    Route("/admin/account/sessions/revoke-others", revoke_others, methods=["POST"]),
    Route("/admin/account/sessions/{session_id}/revoke", revoke_session, methods=["POST"]),
    Route("/admin/account/password", change_password, methods=["POST"]),
    Route("/admin/account/totp", totp_setup, methods=["GET"]),
    Route("/admin/account/totp", totp_confirm, methods=["POST"]),
    Route("/admin/account/totp/disable", totp_disable, methods=["POST"]),
]
