"""The campaign editor: list, create, edit, publish, close, preview.

Everyone of the association may read campaigns; only owners, admins and campaigners write
(finance sees the forms disabled and gets 403 on a POST).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote
from uuid import UUID

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from donate.db import campaigns as campaigns_db
from donate.db.campaign_admin import CampaignRecord
from donate.services import campaign_admin
from donate.services.campaign_admin import Who
from donate.services.campaign_admin_form import (
    CURRENCIES,
    FREQUENCIES,
    major,
    shown_day,
)
from donate.services.errors import Conflict, InvalidRequest, NotFound
from donate.web import campaign_view
from donate.web.backoffice import session as cookies
from donate.web.backoffice.guard import (
    ALL,
    CAMPAIGN_EDITORS,
    Member,
    PageError,
    read_form,
    require_member,
)
from donate.web.backoffice.render import language, render
from donate.web.campaign_pages import PAGE_CSP
from donate.web.state import app_state
from donate.web.templating import environment

FORM_FIELDS = (
    "title", "slug", "kind", "currency", "goal", "min_amount", "max_amount",
    "suggested_amounts", "starts_on", "ends_on", "story_md", "thank_you_message",
    "receipt_eligible", "show_donor_wall", *(f"frequency_{f}" for f in FREQUENCIES),
)  # fmt: skip


def who(request: Request, member: Member) -> Who:
    return Who(member.actor, cookies.client_ip(request))


def campaign_id_of(request: Request, name: str = "campaign_id") -> UUID:
    try:
        return UUID(str(request.path_params[name]))
    except ValueError:
        raise PageError(404) from None


def values_of(c: CampaignRecord | None, default_currency: str) -> dict[str, Any]:
    """The editor's field values for a stored campaign (or a new one)."""
    if c is None:
        return {
            "kind": "donation", "currency": default_currency, "min_amount": "1",
            "max_amount": "10000", "suggested_amounts": "20 50 100", "frequency_once": "on",
            "show_donor_wall": "on",
        }  # fmt: skip
    out: dict[str, Any] = {
        "title": c.title, "slug": c.slug, "kind": c.kind, "currency": c.currency,
        "goal": major(c.goal_minor, c.currency),
        "min_amount": major(c.min_amount_minor, c.currency),
        "max_amount": major(c.max_amount_minor, c.currency),
        "suggested_amounts": " ".join(major(a, c.currency) for a in c.suggested_amounts_minor),
        "starts_on": shown_day(c.starts_at), "ends_on": shown_day(c.ends_at, end=True),
        "story_md": c.story_md, "thank_you_message": c.thank_you_message,
    }  # fmt: skip
    for name, on in (("receipt_eligible", c.receipt_eligible),
                     ("show_donor_wall", c.show_donor_wall)):  # fmt: skip
        if on:
            out[name] = "on"
    for f in c.frequencies:
        out[f"frequency_{f}"] = "on"
    return out


async def list_page(request: Request) -> Response:
    member = await require_member(request, ALL)
    rt = app_state(request).runtime
    campaigns = await campaign_admin.list_campaigns(rt, member.organization_id)
    return render(
        request, "admin/campaign_list.html",
        {"campaigns": campaigns, "can_edit": member.can(CAMPAIGN_EDITORS), "area": "campaigns"},
    )  # fmt: skip


async def editor_page(
    request: Request, member: Member, campaign: CampaignRecord | None, *,
    values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
    status: int = 200, tier_values: dict[str, str] | None = None,
    tier_errors: dict[str, str] | None = None, problem: str = "",
) -> Response:  # fmt: skip
    rt = app_state(request).runtime
    org = await campaign_admin.organization(rt, member.organization_id)
    updates = []
    if campaign is not None:
        updates = await campaign_admin.list_updates(rt, member.organization_id, campaign.id)
    ctx = {
        "c": campaign,
        "values": values if values is not None else values_of(campaign, org["currency"].strip()),
        "errors": errors or {},
        "tier_values": tier_values,
        "tier_errors": tier_errors or {},
        "updates": updates,
        "problem": problem,
        "receipt_problem": campaign_admin.receipt_problem(org),
        "currencies": CURRENCIES,
        "can_edit": member.can(CAMPAIGN_EDITORS),
        "done": request.query_params.get("done", ""),
        "area": "campaigns",
        "major": major,
    }
    return render(request, "admin/campaign_edit.html", ctx, status=status)


async def new_page(request: Request) -> Response:
    member = await require_member(request, CAMPAIGN_EDITORS)
    return await editor_page(request, member, None)


async def create(request: Request) -> Response:
    member = await require_member(request, CAMPAIGN_EDITORS)
    form = await read_form(request)
    raw = {k: str(v) for k, v in form.items() if k in FORM_FIELDS and isinstance(v, str)}
    try:
        new_id = await campaign_admin.create_campaign(
            app_state(request).runtime, member.organization_id, raw, language(request),
            who(request, member),
        )  # fmt: skip
    except InvalidRequest as exc:
        return await editor_page(request, member, None, values=raw, errors=exc.errors, status=400)
    return RedirectResponse(f"{member.base}/campaigns/{new_id}?done=created", status_code=303)


async def load(request: Request, member: Member) -> CampaignRecord:
    try:
        return await campaign_admin.get_campaign(
            app_state(request).runtime, member.organization_id, campaign_id_of(request)
        )
    except NotFound:
        raise PageError(404) from None


async def edit_page(request: Request) -> Response:
    member = await require_member(request, ALL)
    return await editor_page(request, member, await load(request, member))


async def save(request: Request) -> Response:
    member = await require_member(request, CAMPAIGN_EDITORS)
    campaign = await load(request, member)
    form = await read_form(request)
    raw = {k: str(v) for k, v in form.items() if k in FORM_FIELDS and isinstance(v, str)}
    try:
        await campaign_admin.update_campaign(
            app_state(request).runtime, member.organization_id, campaign.id, raw,
            language(request), who(request, member),
        )  # fmt: skip
    except InvalidRequest as exc:
        return await editor_page(
            request, member, campaign, values=raw, errors=exc.errors, status=400
        )
    return RedirectResponse(f"{member.base}/campaigns/{campaign.id}?done=saved", status_code=303)


async def _transition(request: Request, action: str) -> Response:
    member = await require_member(request, CAMPAIGN_EDITORS)
    campaign = await load(request, member)
    await read_form(request)
    rt = app_state(request).runtime
    step = campaign_admin.publish if action == "publish" else campaign_admin.close
    try:
        await step(rt, member.organization_id, campaign.id, who(request, member))
    except Conflict as exc:
        return await editor_page(request, member, campaign, problem=str(exc), status=409)
    done = "published" if action == "publish" else "closed"
    return RedirectResponse(f"{member.base}/campaigns/{campaign.id}?done={done}", status_code=303)


async def publish(request: Request) -> Response:
    return await _transition(request, "publish")


async def close(request: Request) -> Response:
    return await _transition(request, "close")


async def preview(request: Request) -> Response:
    """The public page as donors will see it, drafts included (members only)."""
    member = await require_member(request, ALL)
    campaign_id = campaign_id_of(request)
    lang = language(request)
    async with app_state(request).runtime.pool.acquire() as conn:
        found = await campaigns_db.get_campaign(conn, campaign_id)
        if found is None or found.organization_id != member.organization_id:
            raise PageError(404)
        data = await campaign_view.load(conn, found, full=True)
    if data is None:
        raise PageError(404)
    base = app_state(request).runtime.settings.public_url.rstrip("/")
    path = f"/c/{quote(found.org_slug)}/{quote(found.slug)}"
    ctx = campaign_view.context(data, lang)
    ctx.update(
        base=base, path=path, canonical=f"{base}{path}",
        alternates={code: f"{base}{path}?lang={code}" for code in ("fr", "en")},
        share_image=f"{base}{path}/share.png?lang={lang}",
        description=campaign_view.no_markup(ctx["story_html"])[:200],
        form=campaign_view.blank_form(ctx),
    )  # fmt: skip
    body = environment(lang).get_template("campaign.html").render(ctx)
    return Response(
        body, media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-store",
                 "X-Robots-Tag": "noindex", "X-Content-Type-Options": "nosniff",
                 "Content-Language": lang},
    )  # fmt: skip


_C = "/admin/{org}/campaigns"
routes = [
    Route(_C, list_page, methods=["GET"]),
    Route(_C, create, methods=["POST"]),
    Route(f"{_C}/new", new_page, methods=["GET"]),
    Route(f"{_C}/{{campaign_id}}", edit_page, methods=["GET"]),
    Route(f"{_C}/{{campaign_id}}", save, methods=["POST"]),
    Route(f"{_C}/{{campaign_id}}/publish", publish, methods=["POST"]),
    Route(f"{_C}/{{campaign_id}}/close", close, methods=["POST"]),
    Route(f"{_C}/{{campaign_id}}/preview", preview, methods=["GET"]),
]
