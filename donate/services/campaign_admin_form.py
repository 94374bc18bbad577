"""Reading the campaign editor's forms: text as people type it → checked column values.

Every function returns ``(values, errors)``; errors map a field name to an English message
id the pages translate. Nothing here touches the database: the rules that need it (slug
taken, stock already sold, donations exist) live in ``campaign_admin``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from donate.domain.errors import InvalidAmount
from donate.domain.identity import slugify
from donate.domain.money import Money, exponent
from donate.i18n import parse_money

ORG_TZ = ZoneInfo("Europe/Paris")  # associations are French for now (campaign_view too)
KINDS = ("donation", "crowdfunding")
FREQUENCIES = ("once", "monthly", "yearly")
CURRENCIES = ("EUR", "CHF", "GBP", "USD")
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")
MAX_SUGGESTED = 6
MAX_STORY = 50_000
MAX_THANKS = 2_000
# CGI 200 counterparts: at most a quarter of the gift and at most 73 € a year (DOMAIN.md §1).
COUNTERPART_CAP_MINOR = 7_300

REQUIRED = "This field is required."
BAD_AMOUNT = "Enter an amount such as 25 or 12,50."
BAD_DATE = "Enter a date as YYYY-MM-DD."


def _text(raw: Mapping[str, str], name: str) -> str:
    return str(raw.get(name, "")).strip()


def _checked(raw: Mapping[str, str], name: str) -> bool:
    return str(raw.get(name, "")) in ("on", "1", "true", "yes")


def _money(text: str, currency: str, lang: str) -> int | None:
    """Minor units of a typed amount, None when it is not an amount (or is zero)."""
    try:
        minor = parse_money(text, currency, lang).minor
    except InvalidAmount:
        return None
    return minor if minor > 0 else None


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, ORG_TZ)


def shown_day(at: datetime | None, *, end: bool = False) -> str:
    """The date field's value for a stored instant (an end is stored as the next midnight)."""
    if at is None:
        return ""
    local = at.astimezone(ORG_TZ)
    if end:
        local -= timedelta(microseconds=1)
    return local.date().isoformat()


def major(minor: int | None, currency: str) -> str:
    """Minor units as the form shows them: ``2500`` → ``25``, ``1250`` → ``12.50``."""
    if minor is None:
        return ""
    text = Money(minor, currency).to_decimal_text()
    digits = exponent(currency)
    if digits and text.endswith("." + "0" * digits):
        return text[: -(digits + 1)]
    return text


def parse_campaign(
    raw: Mapping[str, str], lang: str, *, default_currency: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """The campaign form → values for ``campaign_admin.EDITABLE`` columns."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    title = " ".join(_text(raw, "title").split())
    if not title:
        errors["title"] = REQUIRED
    elif len(title) > 200:
        errors["title"] = "200 characters at most."
    values["title"] = title
    slug = _text(raw, "slug").lower() or slugify(title)[:80].rstrip("-")
    if not slug or not SLUG.fullmatch(slug):
        errors["slug"] = "Use lowercase letters, digits and hyphens."
    values["slug"] = slug
    kind = _text(raw, "kind")
    if kind not in KINDS:
        errors["kind"] = REQUIRED
    values["kind"] = kind
    currency = _text(raw, "currency") or default_currency
    if currency not in CURRENCIES:
        errors["currency"] = "Choose a currency from the list."
        currency = default_currency
    values["currency"] = currency

    def amount(name: str, *, required: bool) -> int | None:
        text = _text(raw, name)
        if not text:
            if required:
                errors[name] = REQUIRED
            return None
        minor = _money(text, currency, lang)
        if minor is None:
            errors[name] = BAD_AMOUNT
        return minor

    values["goal_minor"] = amount("goal", required=kind == "crowdfunding")
    low = amount("min_amount", required=True)
    high = amount("max_amount", required=True)
    values["min_amount_minor"], values["max_amount_minor"] = low, high
    if low is not None and high is not None and high < low:
        errors["max_amount"] = "The maximum must not be below the minimum."
    values["suggested_amounts_minor"] = _suggested(raw, currency, lang, low, high, errors)
    freqs = [f for f in FREQUENCIES if _checked(raw, f"frequency_{f}")]
    if not freqs:
        errors["frequencies"] = "Choose at least one frequency."
    values["frequencies"] = freqs or ["once"]
    values["receipt_eligible"] = _checked(raw, "receipt_eligible")
    values["show_donor_wall"] = _checked(raw, "show_donor_wall")
    _dates(raw, kind, values, errors)
    story = str(raw.get("story_md", "")).replace("\r\n", "\n")
    if len(story) > MAX_STORY:
        errors["story_md"] = "The story is too long (50,000 characters at most)."
    values["story_md"] = story
    thanks = str(raw.get("thank_you_message", "")).replace("\r\n", "\n").strip()
    if len(thanks) > MAX_THANKS:
        errors["thank_you_message"] = "2,000 characters at most."
    values["thank_you_message"] = thanks
    return values, errors


def _suggested(
    raw: Mapping[str, str], currency: str, lang: str, low: int | None, high: int | None,
    errors: dict[str, str],
) -> list[int]:  # fmt: skip
    # Separated by semicolons or spaces: a comma is the French decimal mark.
    parts = [p for p in re.split(r"[;\s]+", _text(raw, "suggested_amounts")) if p]
    out: list[int] = []
    for part in parts:
        minor = _money(part, currency, lang)
        if minor is None:
            errors["suggested_amounts"] = "Enter amounts separated by spaces, such as 20 50 100."
            return []
        if (low is not None and minor < low) or (high is not None and minor > high):
            errors["suggested_amounts"] = "Each suggested amount must be between the minimum " \
                "and the maximum."  # fmt: skip
            return []
        if minor not in out:
            out.append(minor)
    if len(out) > MAX_SUGGESTED:
        errors["suggested_amounts"] = "Six suggested amounts at most."
    return sorted(out)


def _dates(
    raw: Mapping[str, str], kind: str, values: dict[str, Any], errors: dict[str, str]
) -> None:
    starts = ends = None
    if text := _text(raw, "starts_on"):
        starts = _day(text)
        if starts is None:
            errors["starts_on"] = BAD_DATE
    if text := _text(raw, "ends_on"):
        ends = _day(text)
        if ends is None:
            errors["ends_on"] = BAD_DATE
    elif kind == "crowdfunding":
        errors["ends_on"] = "A crowdfunding campaign needs an end date."
    if starts and ends and ends < starts:
        errors["ends_on"] = "The end date must not be before the start date."
    values["starts_at"] = day_start(starts) if starts else None
    # The end date is included: the campaign closes at the following midnight.
    values["ends_at"] = day_start(ends + timedelta(days=1)) if ends else None


@dataclass(frozen=True, slots=True)
class TierInput:
    key: str  # the form row ("0", "1", …): where errors are shown
    tier_id: str  # empty for a new tier
    delete: bool
    values: dict[str, Any]


def parse_tiers(
    raw: Mapping[str, str], lang: str, currency: str, *, receipt_eligible: bool
) -> tuple[list[TierInput], dict[str, str]]:
    """Rows ``tier-{n}-{field}`` of the tiers form; blank new rows are ignored."""
    rows = sorted({k.split("-")[1] for k in raw if re.fullmatch(r"tier-[0-9]{1,3}-[a-z_]+", k)},
                  key=int)  # fmt: skip
    out: list[TierInput] = []
    errors: dict[str, str] = {}
    for position, key in enumerate(rows):

        def get(name: str, key: str = key) -> str:
            return _text(raw, f"tier-{key}-{name}")

        tier_id, delete = get("id"), _checked(raw, f"tier-{key}-delete")
        if not tier_id and not any(get(n) for n in ("title", "amount", "description", "stock")):
            continue
        values: dict[str, Any] = {"position": position, "description": get("description")}
        prefix = f"tier-{key}-"
        values["title"] = " ".join(get("title").split())
        if not values["title"] and not delete:
            errors[prefix + "title"] = REQUIRED
        elif len(values["title"]) > 200:
            errors[prefix + "title"] = "200 characters at most."
        if len(values["description"]) > 1000:
            errors[prefix + "description"] = "1,000 characters at most."
        values["amount_minor"] = _money(get("amount"), currency, lang)
        if values["amount_minor"] is None and not delete:
            errors[prefix + "amount"] = BAD_AMOUNT
        counterpart = get("counterpart")
        values["counterpart_value_minor"] = 0
        if counterpart:
            try:
                values["counterpart_value_minor"] = parse_money(counterpart, currency, lang).minor
            except InvalidAmount:
                errors[prefix + "counterpart"] = BAD_AMOUNT
        amount = values["amount_minor"] or 0
        cp = values["counterpart_value_minor"]
        if amount and cp > amount:
            errors[prefix + "counterpart"] = "The counterpart cannot be worth more than the tier."
        elif amount and receipt_eligible and (4 * cp > amount or cp > COUNTERPART_CAP_MINOR):
            errors[prefix + "counterpart"] = (
                "For a tax receipt, a counterpart may be worth at most a quarter of the gift "
                "and at most 73 €."
            )
        stock = get("stock")
        values["quantity_limit"] = None
        if stock:
            if stock.isdigit() and 0 < int(stock) <= 1_000_000:
                values["quantity_limit"] = int(stock)
            else:
                errors[prefix + "stock"] = "Enter a whole number, or leave empty for no limit."
        out.append(TierInput(key, tier_id, delete, values))
    return out, errors


def parse_update(raw: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    title = " ".join(_text(raw, "title").split())
    if not title:
        errors["title"] = REQUIRED
    elif len(title) > 200:
        errors["title"] = "200 characters at most."
    body = str(raw.get("body_md", "")).replace("\r\n", "\n")
    if len(body) > 20_000:
        errors["body_md"] = "20,000 characters at most."
    return {"title": title, "body_md": body, "publish": _checked(raw, "publish")}, errors
