"""The association's home, its settings (identity, signature, logo, colours) and its
payment accounts (Stripe Connect onboarding, Mollie API key)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from donate.db import org_profile
from donate.services import accounts, accounts_connect
from donate.services.errors import InvalidRequest, ProviderDown
from donate.web.backoffice.account_routes import ORG_TEXT_FIELDS, uploads
from donate.web.backoffice.guard import ALL, MANAGERS, Member, field, read_form, require_member
from donate.web.backoffice.render import render
from donate.web.state import app_state

# --- settings ------------------------------------------------------------------------------------


async def _settings(
    request: Request, member: Member, *, values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None, status: int = 200,
) -> Response:  # fmt: skip
    async with app_state(request).runtime.pool.acquire() as conn:
        stored = await org_profile.get(conn, member.organization_id)
    ctx = {
        "values": values if values is not None else stored,
        "has_logo": stored["logo_png"] is not None,
        "has_signature": stored["receipt_signature_png"] is not None,
        "errors": errors or {},
        "area": "settings",
    }
    return render(request, "admin/settings.html", ctx, status=status)


async def settings_page(request: Request) -> Response:
    return await _settings(request, await require_member(request, MANAGERS))


async def settings_submit(request: Request) -> Response:
    member = await require_member(request, MANAGERS)
    form = await read_form(request, max_files=2)
    raw = {name: field(form, name) for name in ORG_TEXT_FIELDS if name != "slug"}
    files = await uploads(form, ("logo", "signature"))
    await form.close()
    try:
        await accounts.update_profile(
            app_state(request).runtime, member.organization_id, member.actor, raw, files
        )
    except InvalidRequest as exc:
        return await _settings(request, member, values=raw, errors=exc.errors, status=400)
    return RedirectResponse(f"{member.base}/settings?notice=saved", status_code=303)


async def image(request: Request) -> Response:
    """The stored logo or signature (members only: the signature is sensitive)."""
    member = await require_member(request, ALL)
    column = {"logo.png": "logo_png", "signature.png": "receipt_signature_png"}.get(
        request.path_params["name"]
    )
    if column is None:
        return Response(status_code=404)
    async with app_state(request).runtime.pool.acquire() as conn:
        data = await org_profile.image(conn, member.organization_id, column)
    if data is None:
        return Response(status_code=404)
    return Response(
        data, media_type="image/png",
        headers={"Cache-Control": "private, no-cache", "X-Content-Type-Options": "nosniff"},
    )  # fmt: skip


# --- payment accounts ----------------------------------------------------------------------------


async def _payments(
    request: Request, member: Member, *, errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:  # fmt: skip
    found = await accounts_connect.connections(app_state(request).runtime, member.organization_id)
    ctx = {"c": found, "errors": errors or {}, "area": "payments"}
    return render(request, "admin/payments.html", ctx, status=status)


async def payments_page(request: Request) -> Response:
    return await _payments(request, await require_member(request, MANAGERS))


async def stripe_start(request: Request) -> Response:
    member = await require_member(request, MANAGERS)
    await read_form(request)
    base = app_state(request).runtime.settings.public_url.rstrip("/") + member.base
    try:
        url = await accounts_connect.start_stripe(
            app_state(request).runtime, member.organization_id, member.actor,
            email=member.email, return_url=f"{base}/payments/stripe/return",
            refresh_url=f"{base}/payments?notice=stripe_retry",
        )  # fmt: skip
    except InvalidRequest as exc:
        return await _payments(request, member, errors=exc.errors, status=400)
    except ProviderDown:
        errors = {"stripe": "Stripe cannot be reached. Please try again."}
        return await _payments(request, member, errors=errors, status=503)
    return RedirectResponse(url, status_code=303)


async def stripe_return(request: Request) -> Response:
    member = await require_member(request, MANAGERS)
    try:
        active = await accounts_connect.finish_stripe(
            app_state(request).runtime, member.organization_id, member.actor
        )
    except (InvalidRequest, ProviderDown):
        errors = {"stripe": "Stripe cannot be reached. Please try again."}
        return await _payments(request, member, errors=errors, status=503)
    notice = "stripe_connected" if active else "stripe_pending"
    return RedirectResponse(f"{member.base}/payments?notice={notice}", status_code=303)


async def mollie_key(request: Request) -> Response:
    member = await require_member(request, MANAGERS)
    form = await read_form(request)
    try:
        await accounts_connect.connect_mollie(
            app_state(request).runtime, member.organization_id, member.actor,
            field(form, "api_key"),
        )  # fmt: skip
    except InvalidRequest as exc:
        return await _payments(request, member, errors=exc.errors, status=400)
    except ProviderDown:
        errors = {"api_key": "Mollie cannot be reached. Please try again."}
        return await _payments(request, member, errors=errors, status=503)
    return RedirectResponse(f"{member.base}/payments?notice=mollie_connected", status_code=303)


routes = [
    Route("/admin/{org}/settings", settings_page, methods=["GET"]),
    Route("/admin/{org}/settings", settings_submit, methods=["POST"]),
    Route("/admin/{org}/settings/{name}", image, methods=["GET"]),
    Route("/admin/{org}/payments", payments_page, methods=["GET"]),
    Route("/admin/{org}/payments/stripe", stripe_start, methods=["POST"]),
    Route("/admin/{org}/payments/stripe/return", stripe_return, methods=["GET"]),
    Route("/admin/{org}/payments/mollie", mollie_key, methods=["POST"]),
]
