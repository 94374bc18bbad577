"""Public campaign pages: ``GET /c/{org}/{campaign}``, its no-JavaScript donation form and
its share image. Server-rendered, French by default, English on ``?lang=en`` or
``Accept-Language``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from donate.services.checkout import start_checkout
from donate.services.checkout_guard import Refusal
from donate.services.errors import InvalidRequest, ProviderDown
from donate.web import campaign_view, checkout_limits
from donate.web.api_public import read_limited
from donate.web.donation_form import FormResult, read_form, service_errors
from donate.web.page_cache import Rendered, page_cache, to_response
from donate.web.problems import Problem
from donate.web.share_image import share_png
from donate.web.state import app_state
from donate.web.templating import environment, gettext_for, pick_language, translations

MAX_FORM_BODY = 16 * 1024
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' https:; "
    "base-uri 'none'; frame-ancestors 'none'"
)


def _base(request: Request) -> str:
    return app_state(request).runtime.settings.public_url.rstrip("/")


def _page_path(org_slug: str, slug: str) -> str:
    return f"/c/{quote(org_slug)}/{quote(slug)}"


def _render(
    request: Request,
    data: campaign_view.CampaignData | None,
    lang: str,
    *,
    status: int = 200,
    form: FormResult | None = None,
) -> Rendered:
    env = environment(lang)
    if data is None:
        body = env.get_template("not_found.html").render(base=_base(request))
        return Rendered.of(404, body.encode())
    c = data.campaign
    path = _page_path(c.org_slug, c.slug)
    base = _base(request)
    ctx: dict[str, Any] = campaign_view.context(data, lang)
    ctx.update(
        base=base,
        path=path,
        canonical=f"{base}{path}" + ("?lang=en" if lang == "en" else ""),
        alternates={code: f"{base}{path}?lang={code}" for code in ("fr", "en")},
        share_image=f"{base}{path}/share.png?lang={lang}",
        description=campaign_view.no_markup(ctx["story_html"])[:200],
        form=form or campaign_view.blank_form(ctx),
    )
    body = env.get_template("campaign.html").render(ctx)
    return Rendered.of(status, body.encode())


def _headers(lang: str, explicit: bool, cache: str = "public, max-age=1") -> dict[str, str]:
    headers = {
        "Content-Language": lang,
        "Cache-Control": cache,
        "Content-Security-Policy": PAGE_CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }
    if not explicit:
        headers["Vary"] = "Accept-Language"
    return headers


async def campaign_page(request: Request) -> Response:
    org_slug, slug = request.path_params["org_slug"], request.path_params["campaign_slug"]
    lang, explicit = pick_language(request)

    async def build() -> Rendered:
        async with app_state(request).runtime.pool.acquire() as conn:
            data = await campaign_view.load_by_slug(conn, org_slug, slug)
        return _render(request, data, lang)

    doc = await page_cache(request, "campaign").get(("page", org_slug, slug, lang), build)
    return to_response(request, doc, _headers(lang, explicit))


async def donate_form(request: Request) -> Response:
    """The form without JavaScript: start the checkout and send the donor to it (303)."""
    org_slug, slug = request.path_params["org_slug"], request.path_params["campaign_slug"]
    lang, explicit = pick_language(request)
    if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        raise Problem(415, "unsupported-media-type", "Unsupported media type", "Send a form.")
    raw = await read_limited(request, MAX_FORM_BODY)
    try:
        fields = dict(parse_qsl(raw.decode("utf-8"), max_num_fields=40))
    except (UnicodeDecodeError, ValueError):
        raise Problem(400, "malformed-form", "Bad request", "The form is malformed.") from None
    form_lang = fields.get("lang", "")
    if form_lang in ("fr", "en"):
        lang, explicit = form_lang, True
    _ = gettext_for(lang)
    rt = app_state(request).runtime
    async with rt.pool.acquire() as conn:
        data = await campaign_view.load_by_slug(conn, org_slug, slug)
    headers = _headers(lang, explicit, cache="no-store")
    if data is None:
        return to_response(request, _render(request, None, lang), headers)
    form = read_form(fields, data.campaign, lang, _)
    if campaign_view.state(data.campaign, datetime.now(UTC)) != "open":
        form.errors = {"form": _("This campaign is not taking gifts.")}
        return to_response(request, _render(request, data, lang, status=409, form=form), headers)
    if form.checkout is None:
        return to_response(request, _render(request, data, lang, status=422, form=form), headers)
    checkout = form.checkout
    refusal = await checkout_limits.admit(request, checkout.campaign_id, checkout.amount_minor)
    if refusal is not None:
        form.errors = {"form": _refusal_message(refusal, _)}
        headers["Retry-After"] = str(refusal.retry_after_s)
        return to_response(request, _render(request, data, lang, status=429, form=form), headers)
    try:
        result = await start_checkout(rt, checkout)
    except InvalidRequest as exc:
        form.errors = service_errors(exc.errors, _)
        return to_response(request, _render(request, data, lang, status=422, form=form), headers)
    except ProviderDown:
        form.errors = {"form": _("The payment service is unavailable. Please try again.")}
        status = 503
        return to_response(request, _render(request, data, lang, status=status, form=form), headers)
    await checkout_limits.note(
        request, checkout.campaign_id, result.donation_id, checkout.amount_minor
    )
    return RedirectResponse(
        result.checkout_url, status_code=303, headers={"Cache-Control": "no-store"}
    )


def _refusal_message(refusal: Refusal, _: Callable[[str], str]) -> str:
    if refusal.card_testing:
        return _("Too many small payments failed recently. Please try again later.")
    return _("Too many attempts in a short time. Please try again in a minute.")


async def share_image(request: Request) -> Response:
    org_slug, slug = request.path_params["org_slug"], request.path_params["campaign_slug"]
    lang, _explicit = pick_language(request)

    async def build() -> Rendered:
        async with app_state(request).runtime.pool.acquire() as conn:
            data = await campaign_view.load_by_slug(conn, org_slug, slug)
        if data is None:
            return Rendered(404, b"", "image/png")
        ctx = campaign_view.context(data, lang)
        c = data.campaign
        tr = translations(lang)
        n = c.donors_count
        caption = tr.ngettext("%(num)d donor", "%(num)d donors", n) % {"num": n}
        if ctx["time_left"]:
            caption += " · " + tr.gettext("%(time)s left") % {"time": ctx["time_left"]}
        png = await asyncio.to_thread(
            share_png, c.title, c.org_name, ctx["raised"], ctx["goal"], ctx["percent"], caption
        )
        return Rendered(200, png, "image/png")

    # Crawlers fetch it rarely and Pillow is slow-ish: a minute of staleness is fine.
    doc = await page_cache(request, "share", ttl=60).get(("share", org_slug, slug, lang), build)
    return Response(doc.body, doc.status, media_type="image/png",
                    headers={"Cache-Control": "public, max-age=60"})  # fmt: skip


routes = [
    Route("/c/{org_slug}/{campaign_slug}", campaign_page, methods=["GET", "HEAD"]),
    Route("/c/{org_slug}/{campaign_slug}/donate", donate_form, methods=["POST"]),
    Route("/c/{org_slug}/{campaign_slug}/share.png", share_image, methods=["GET", "HEAD"]),
]
