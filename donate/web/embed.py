"""``GET /embed/{campaign_id}``: the document the widget loader puts in its iframe."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from donate.domain.money import Money, exponent
from donate.i18n import format_money
from donate.web import campaign_view
from donate.web.assets import style_hash
from donate.web.donation_form import service_error_map
from donate.web.page_cache import Rendered, page_cache, to_response
from donate.web.state import app_state
from donate.web.templating import environment, gettext_for, pick_language, translations

# Framed by any site (that is the point); talks only to us; nothing inline runs, and the only
# inline style is our own stylesheet, allowed by its hash.
EMBED_CSP = (
    f"default-src 'none'; script-src 'self'; style-src 'self' {style_hash('donate.css')}; "
    "img-src 'self' https: data:; connect-src 'self'; base-uri 'none'; frame-ancestors *"
)
_AMOUNTS = re.compile(r"[0-9]{1,7}(?:,[0-9]{1,7}){0,5}")
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


def _amounts(text: str, currency: str) -> tuple[int, ...]:
    """``data-amounts="10,25,50"`` (whole units) → minor units; anything else is ignored."""
    if not _AMOUNTS.fullmatch(text):
        return ()
    factor = 10 ** exponent(currency)
    return tuple(dict.fromkeys(int(a) * factor for a in text.split(",") if int(a) > 0))


def _config(ctx: dict[str, Any], lang: str) -> dict[str, Any]:
    _ = gettext_for(lang)
    c = ctx["c"]

    def money(minor: int) -> str:
        return format_money(Money(minor, c.currency), lang)

    ngettext = translations(lang).ngettext
    lowest, highest = money(c.min_amount_minor), money(c.max_amount_minor)
    return {
        "campaign": str(c.id),
        "currency": c.currency,
        "lang": lang,
        "min": c.min_amount_minor,
        "max": c.max_amount_minor,
        "bps": ctx["tax_bps"],
        "tiers": {t["id"]: t["amount_minor"] for t in ctx["tiers"]},
        "messages": {
            "donor": ngettext("%(num)d donor", "%(num)d donors", 1) % {"num": 1},
            "donors": ngettext("%(num)d donor", "%(num)d donors", 2) % {"num": 2},
            "tax": _("A gift of %(gift)s only costs you %(cost)s after tax reduction."),
            "amount_format": _("Please enter an amount such as 25 or 12,50."),
            "amount_min": _("The minimum gift is %(amount)s.") % {"amount": lowest},
            "amount_max": _("The maximum gift is %(amount)s.") % {"amount": highest},
            "tip": _("Please enter an amount such as 2 or 2,50 (or 0)."),
            "email": _("Please enter a valid e-mail address."),
            "required_receipt": _("Required for a tax receipt."),
            "sending": _("Please wait…"),
            "redirecting": _("Opening the secure payment page…"),
            "continue": _("Continue to the secure payment page"),
            "give": _("Give"),
            "check": _("Please check this field."),
            "unavailable": _("The payment service is unavailable. Please try again."),
            # A 429 (checkout limits, card-testing defence): the same words as the form's.
            "busy": _("Too many attempts in a short time. Please try again in a minute."),
            "fields": service_error_map(_),
        },
    }  # fmt: skip


async def embed(request: Request) -> Response:
    lang, _explicit = pick_language(request)
    raw_id = request.path_params["campaign_id"]
    amounts_text = request.query_params.get("amounts", "")[:60]
    color = request.query_params.get("color", "")
    color = color if _COLOR.fullmatch(color) else ""

    async def build() -> Rendered:
        env = environment(lang)
        try:
            campaign_id = UUID(raw_id)
        except ValueError:
            campaign_id = None
        data = None
        if campaign_id is not None:
            async with app_state(request).runtime.pool.acquire() as conn:
                data = await campaign_view.load_by_id(conn, campaign_id)
        if data is None:
            return Rendered.of(404, env.get_template("embed.html").render(c=None).encode())
        ctx = campaign_view.context(data, lang)
        c = data.campaign
        custom = _amounts(amounts_text, c.currency)
        if custom:
            ctx["amounts"] = [(a, format_money(Money(a, c.currency), lang)) for a in custom]
        ctx.update(
            embed=True,
            color=color,
            path=f"/c/{c.org_slug}/{c.slug}",
            form=campaign_view.blank_form(ctx),
            config=_config(ctx, lang),
        )
        return Rendered.of(200, env.get_template("embed.html").render(ctx).encode())

    key = ("embed", raw_id[:40], lang, amounts_text, color)
    doc = await page_cache(request, "embed").get(key, build)
    headers = {
        "Content-Language": lang,
        "Cache-Control": "public, max-age=1",
        "Content-Security-Policy": EMBED_CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Vary": "Accept-Language",
    }
    return to_response(request, doc, headers)


routes = [Route("/embed/{campaign_id}", embed, methods=["GET", "HEAD"])]
