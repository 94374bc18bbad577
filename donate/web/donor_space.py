"""The donor space (``/donor``): sign in by e-mailed link, see one's gifts, recurring gifts
and receipts across associations, and change, pause, cancel a recurring gift or replace its
payment method on the provider's hosted page. Server-rendered, French by default.

Every plan is looked up through the signed-in e-mail: another donor's plan answers 404.
Forms carry a token tied to the session (CSRF); the cookie is HttpOnly and SameSite=Lax.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote
from uuid import UUID

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from donate.db import campaigns as campaigns_db
from donate.db import recurring as recurring_db
from donate.db.recurring import PlanRow
from donate.domain.errors import InvalidAmount
from donate.domain.money import Money
from donate.i18n import format_money, parse_money
from donate.services import recurring, recurring_donor, recurring_mail, recurring_manage
from donate.services.errors import Conflict, InvalidRequest, NotFound, ProviderDown
from donate.services.recurring_donor import Session
from donate.web.api_public import read_limited
from donate.web.state import app_state
from donate.web.templating import environment, gettext_for, pick_language

COOKIE = "donor_session"
MAX_FORM = 4096
CSP = (
    "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'self' https:; "
    "frame-ancestors 'none'"
)


def _labels(lang: str) -> dict[str, dict[str, str]]:
    _ = gettext_for(lang)
    return {
        "frequencies": {"monthly": _("monthly"), "yearly": _("yearly")},
        "statuses": {
            "pending": _("starting"),
            "active": _("active"),
            "failing": _("payment failed, being retried"),
            "lapsed": _("stopped after failed payments"),
            "paused": _("paused"),
            "canceled": _("canceled"),
        },
        "gift_statuses": {
            "paid": _("paid"),
            "failed": _("failed"),
            "refunded": _("refunded"),
            "partially_refunded": _("partially refunded"),
            "disputed": _("disputed"),
        },
    }


def _page(
    request: Request, lang: str, template: str, status: int = 200, **ctx: Any
) -> HTMLResponse:
    body = (
        environment(lang)
        .get_template(template)
        .render(path=request.url.path, **_labels(lang), **ctx)
    )
    headers = {
        "Cache-Control": "no-store",
        "Content-Language": lang,
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",  # the sign-in token is in the URL
    }
    return HTMLResponse(body, status, headers=headers)


def _message(request: Request, lang: str, key: str, status: int = 200) -> HTMLResponse:
    _ = gettext_for(lang)
    texts = {
        "sent": (
            _("Check your mailbox"),
            _("If this address is known, a sign-in link is on its way (valid 30 minutes)."),
        ),
        "bad-link": (
            _("This link cannot be used"),
            _("The link is invalid or has expired. Ask for a new one."),
        ),
        "not-found": (_("Not found"), _("This recurring gift does not exist or is not yours.")),
        "bad-form": (
            _("This form has expired"),
            _("Please go back, reload the page and try again."),
        ),
        "provider-down": (
            _("Please try again"),
            _("The payment service is unavailable right now."),
        ),
    }
    heading, message = texts[key]
    return _page(
        request, lang, "donor_message.html", status, heading=heading, message=message, key=key
    )


def _session(request: Request) -> Session | None:
    rt = app_state(request).runtime
    return recurring_donor.read_session(rt.settings, request.cookies.get(COOKIE), datetime.now(UTC))


async def _form(request: Request) -> dict[str, str]:
    raw = await read_limited(request, MAX_FORM)
    try:
        return dict(parse_qsl(raw.decode("utf-8"), max_num_fields=20))
    except (UnicodeDecodeError, ValueError):
        return {}


def _to_sign_in(lang: str) -> RedirectResponse:
    return RedirectResponse(f"/donor?lang={lang}", status_code=303)


async def sign_in(request: Request) -> Response:
    lang, _explicit = pick_language(request)
    if request.method == "GET":
        if _session(request) is not None:
            return RedirectResponse(f"/donor/space?lang={lang}", status_code=303)
        return _page(request, lang, "donor_login.html")
    fields = await _form(request)
    email = fields.get("email", "").strip()
    if "@" not in email or len(email) > 254:
        _ = gettext_for(lang)
        return _page(request, lang, "donor_login.html", 422, email=email,
                     error=_("Enter a valid e-mail address."))  # fmt: skip
    await recurring_donor.request_login(app_state(request).runtime, email, lang)
    return _message(request, lang, "sent")


async def auth(request: Request) -> Response:
    """The link from the e-mail: a valid, unexpired token opens a session."""
    lang, _explicit = pick_language(request)
    rt = app_state(request).runtime
    email = request.query_params.get("email", "")
    token = request.query_params.get("token", "")
    now = datetime.now(UTC)
    if not email or not recurring_mail.check_login(rt.settings, email, token, now):
        return _message(request, lang, "bad-link", 403)
    session = recurring_donor.open_session(rt.settings, email, now)
    response = RedirectResponse(f"/donor/space?lang={lang}", status_code=303)
    response.set_cookie(
        COOKIE, session.cookie, max_age=int(recurring_donor.SESSION_VALIDITY.total_seconds()),
        path="/donor", httponly=True, samesite="lax",
        secure=rt.settings.public_url.startswith("https://"),
    )  # fmt: skip
    return response


async def space(request: Request) -> Response:
    lang, _explicit = pick_language(request)
    session = _session(request)
    if session is None:
        return _to_sign_in(lang)
    rt = app_state(request).runtime
    data = await recurring_donor.overview(rt, session.email)
    csrf = recurring_donor.csrf_token(rt.settings, session)
    return _page(request, lang, "donor_space.html", email=session.email, csrf=csrf, **data)


def _plan_id(request: Request) -> UUID | None:
    try:
        return UUID(request.path_params["plan_id"])
    except ValueError:
        return None


async def _own_plan(request: Request, session: Session) -> PlanRow | None:
    plan_id = _plan_id(request)
    if plan_id is None:
        return None
    try:
        return await recurring_manage.plan_for_donor(
            app_state(request).runtime, plan_id, session.email
        )
    except NotFound:
        return None


async def plan_page(request: Request) -> Response:
    lang, _explicit = pick_language(request)
    session = _session(request)
    if session is None:
        return _to_sign_in(lang)
    plan = await _own_plan(request, session)
    if plan is None:
        return _message(request, lang, "not-found", 404)
    rt = app_state(request).runtime
    if request.query_params.get("updated") and not plan.ended:
        # Back from the provider's payment-method page: look at the plan again.
        await recurring.sync_plan(rt, plan.id, source="donor")
        plan = await _own_plan(request, session) or plan
    return await _render_plan(request, lang, session, plan)


async def _render_plan(
    request: Request, lang: str, session: Session, plan: PlanRow, *, status: int = 200,
    error: str | None = None, notice_key: str | None = None,
) -> Response:  # fmt: skip
    rt = app_state(request).runtime
    async with rt.pool.acquire() as conn:
        campaign = await campaigns_db.get_campaign(conn, plan.campaign_id)
    assert campaign is not None
    _ = gettext_for(lang)
    notices = {
        "changed": _("Your recurring gift is updated."),
        "paused": _("Your recurring gift is paused."),
        "resumed": _("Your recurring gift is resumed."),
        "canceled": _("Your recurring gift is canceled."),
    }
    p = {**asdict(plan), "charged_minor": plan.charged_minor, "org": campaign.org_name,
         "campaign": campaign.title}  # fmt: skip
    amount_text = format_money(Money(plan.amount_minor, plan.currency), lang)
    return _page(
        request, lang, "donor_plan.html", status, p=p, csrf=recurring_donor.csrf_token(
            rt.settings, session), ended=plan.ended, can_pause=plan.provider == "stripe",
        allowed=[f for f in campaign.frequencies if f != "once"], error=error,
        amount_text=amount_text.replace("\u202f", " ").replace("\xa0", " "),
        notice=notices.get(notice_key or ""), notice_key=notice_key,
    )  # fmt: skip


async def plan_action(request: Request) -> Response:
    lang, _explicit = pick_language(request)
    session = _session(request)
    if session is None:
        return _to_sign_in(lang)
    rt = app_state(request).runtime
    fields = await _form(request)
    if not recurring_donor.check_csrf(
        rt.settings, session, fields.get("csrf", ""), datetime.now(UTC)
    ):
        return _message(request, lang, "bad-form", 403)
    plan = await _own_plan(request, session)
    if plan is None:
        return _message(request, lang, "not-found", 404)
    action = request.path_params["action"]
    _ = gettext_for(lang)
    done = {"change": "changed", "pause": "paused", "resume": "resumed", "cancel": "canceled"}
    try:
        if action == "change":
            try:
                amount = parse_money(fields.get("amount", ""), plan.currency, lang).minor
            except InvalidAmount:
                return await _render_plan(request, lang, session, plan, status=422,
                                          error=_("Enter an amount like 15 or 15,50."))  # fmt: skip
            await recurring_manage.change(rt, plan, amount_minor=amount,
                                          frequency=fields.get("frequency") or None)  # fmt: skip
        elif action in ("pause", "resume"):
            await recurring_manage.set_paused(rt, plan, action == "pause")
        elif action == "cancel":
            await recurring_manage.cancel(rt, plan)
        elif action == "payment-method":
            back = (
                f"{rt.settings.public_url.rstrip('/')}/donor/plans/{plan.id}?lang={lang}&updated=1"
            )
            url = await recurring_manage.payment_method_url(rt, plan, back)
            return RedirectResponse(url, status_code=303)
        else:
            return _message(request, lang, "not-found", 404)
    except InvalidRequest as exc:
        error = _("This amount or frequency is not possible for this campaign.")
        fresh = await _own_plan(request, session) or plan
        detail = "; ".join(exc.errors.values())
        return await _render_plan(
            request, lang, session, fresh, status=422, error=f"{error} ({detail})"
        )
    except Conflict as exc:
        fresh = await _own_plan(request, session) or plan
        return await _render_plan(request, lang, session, fresh, status=409, error=str(exc))
    except ProviderDown:
        return _message(request, lang, "provider-down", 503)
    fresh = await _own_plan(request, session) or plan
    return await _render_plan(request, lang, session, fresh, notice_key=done[action])


async def fix_payment_method(request: Request) -> Response:
    """The link in a failed-payment or card-expiry e-mail: straight to the provider's page."""
    lang, _explicit = pick_language(request)
    rt = app_state(request).runtime
    plan_id = _plan_id(request)
    token = request.query_params.get("token", "")
    if plan_id is None or not recurring_mail.check_fix_token(
        rt.settings, plan_id, token, datetime.now(UTC)
    ):
        return _message(request, lang, "bad-link", 403)
    try:
        async with rt.pool.acquire() as conn:
            plan = await recurring_db.get_plan(conn, plan_id)
        if plan is None:
            return _message(request, lang, "not-found", 404)
        back = f"{rt.settings.public_url.rstrip('/')}/donor?lang={quote(lang)}"
        url = await recurring_manage.payment_method_url(rt, plan, back)
    except Conflict:
        return _message(request, lang, "bad-link", 409)
    except ProviderDown:
        return _message(request, lang, "provider-down", 503)
    return RedirectResponse(url, status_code=303, headers={"Referrer-Policy": "no-referrer"})


async def sign_out(request: Request) -> Response:
    lang, _explicit = pick_language(request)
    response = _to_sign_in(lang)
    response.delete_cookie(COOKIE, path="/donor")
    return response


routes = [
    Route("/donor", sign_in, methods=["GET", "POST"]),
    Route("/donor/auth", auth, methods=["GET"]),
    Route("/donor/space", space, methods=["GET"]),
    Route("/donor/logout", sign_out, methods=["POST"]),
    Route("/donor/plans/{plan_id}", plan_page, methods=["GET"]),
    Route("/donor/plans/{plan_id}/payment-method", fix_payment_method, methods=["GET"]),
    Route("/donor/plans/{plan_id}/{action}", plan_action, methods=["POST"]),
]
