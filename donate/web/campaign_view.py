"""What a public campaign document shows, loaded once and shared by the page and the widget."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from babel.units import format_unit
from markupsafe import Markup

from donate.db import campaign_pages as pages_db
from donate.db import campaigns as campaigns_db
from donate.db.types import Conn
from donate.domain.money import Money
from donate.domain.tax import cost_after_reduction
from donate.i18n import format_date, format_money
from donate.web.donation_form import FormResult
from donate.web.markdown import render_markdown

# Associations have no time zone of their own yet; every one so far is in France.
ORG_TZ = ZoneInfo("Europe/Paris")
TAX_EXAMPLE_MINOR = 10_000  # "un don de 100 € …"


@dataclass(frozen=True, slots=True)
class CampaignData:
    campaign: campaigns_db.Campaign
    extras: pages_db.PageExtras
    wall: list[pages_db.WallEntry]
    updates: list[pages_db.CampaignUpdate]


async def load(conn: Conn, campaign: campaigns_db.Campaign, *, full: bool) -> CampaignData | None:
    """Everything public about ``campaign``; ``full`` adds the donor wall and the updates."""
    extras = await pages_db.page_extras(conn, campaign.id)
    if extras is None:
        return None
    wall = await pages_db.donor_wall(conn, campaign.id) if full and extras.show_donor_wall else []
    updates = await pages_db.published_updates(conn, campaign.id) if full else []
    return CampaignData(campaign, extras, wall, updates)


async def load_by_slug(conn: Conn, org_slug: str, slug: str) -> CampaignData | None:
    campaign = await campaigns_db.get_campaign_by_slug(conn, org_slug, slug)
    if campaign is None or campaign.status == "draft":
        return None
    return await load(conn, campaign, full=True)


async def load_by_id(conn: Conn, campaign_id: UUID) -> CampaignData | None:
    campaign = await campaigns_db.get_campaign(conn, campaign_id)
    if campaign is None or campaign.status == "draft":
        return None
    return await load(conn, campaign, full=False)


def state(c: campaigns_db.Campaign, now: datetime) -> str:
    """``open``, ``upcoming`` (not started), ``ended`` (deadline passed) or ``closed``."""
    if c.accepting_gifts_at(now):
        return "open"
    if c.status == "live" and c.starts_at is not None and now < c.starts_at:
        return "upcoming"
    if c.ends_at is not None and c.ends_at <= now:
        return "ended"
    return "closed"


def progress_percent(raised_minor: int, goal_minor: int | None) -> int | None:
    """Whole percent of the goal, for the bar (capped at 100) — None without a goal."""
    if not goal_minor:
        return None
    return min(100, raised_minor * 100 // goal_minor)


def tax_example(c: campaigns_db.Campaign, bps: int) -> tuple[Money, Money] | None:
    """(gift, cost after reduction) for the explanation line, or None when it does not apply."""
    if not c.receipt_eligible or bps == 0 or c.currency != "EUR":
        return None
    gift = Money(TAX_EXAMPLE_MINOR, c.currency)
    return gift, cost_after_reduction(gift, bps)


def time_left(ends_at: datetime | None, now: datetime, lang: str) -> str | None:
    """``45 jours`` / ``45 days`` (never weeks: donors count days), then hours, then minutes."""
    if ends_at is None or ends_at <= now:
        return None
    seconds = (ends_at - now).total_seconds()
    if seconds >= 2 * 86_400:
        value, unit = int(seconds // 86_400), "duration-day"
    elif seconds >= 3_600:
        value, unit = int(seconds // 3_600), "duration-hour"
    else:
        value, unit = max(1, int(seconds // 60)), "duration-minute"
    text: str = format_unit(value, unit, length="long", locale=lang)
    return text


def context(data: CampaignData, lang: str, now: datetime | None = None) -> dict[str, Any]:
    """Template values common to the campaign page and the widget document."""
    now = now or datetime.now(UTC)
    c = data.campaign
    example = tax_example(c, data.extras.tax_reduction_bps)

    def money(minor: int) -> str:
        return format_money(Money(minor, c.currency), lang)

    return {
        "c": c,
        "state": state(c, now),
        "percent": progress_percent(c.raised_minor, c.goal_minor),
        "raised": money(c.raised_minor),
        "goal": money(c.goal_minor) if c.goal_minor else None,
        "time_left": time_left(c.ends_at, now, lang),
        "ends_on": format_date(c.ends_at, lang, tz=ORG_TZ) if c.ends_at else None,
        "starts_on": format_date(c.starts_at, lang, tz=ORG_TZ) if c.starts_at else None,
        "tax_gift": money(example[0].minor) if example else None,
        "tax_cost": money(example[1].minor) if example else None,
        "tax_bps": data.extras.tax_reduction_bps if example else 0,
        "amounts": [(a, money(a)) for a in c.suggested_amounts_minor],
        "tiers": [
            {
                "id": str(t.id),
                "title": t.title,
                "description": t.description,
                "amount": money(t.amount_minor),
                "amount_minor": t.amount_minor,
                "remaining": t.remaining,
                "sold_out": t.remaining == 0,
            }
            for t in c.tiers
        ],
        "story_html": render_markdown(c.story_md),
        "wall": [
            {
                "name": w.name,
                "amount": format_money(Money(w.amount_minor, w.currency), lang)
                if w.amount_minor is not None
                else None,
                "message": w.message,
                "on": format_date(w.at, lang, tz=ORG_TZ),
            }
            for w in data.wall
        ],
        "updates": [
            {
                "title": u.title,
                "html": render_markdown(u.body_md),
                "on": format_date(u.published_at, lang, tz=ORG_TZ),
                "iso": u.published_at.isoformat(),
            }
            for u in data.updates
        ],
        "cover_url": data.extras.cover_url,
        "min_amount": money(c.min_amount_minor),
        "max_amount": money(c.max_amount_minor),
    }


def no_markup(value: Markup) -> str:
    """Plain text of a rendered fragment, for meta descriptions."""
    return value.striptags()


def blank_form(ctx: dict[str, Any]) -> FormResult:
    """A new form: the middle suggestion pre-selected (seen, and changed in one click)."""
    amounts = ctx["amounts"]
    amount = str(amounts[len(amounts) // 2][0]) if amounts else "other"
    return FormResult({"amount": amount, "frequency": "once", "tip": "0"}, set())
