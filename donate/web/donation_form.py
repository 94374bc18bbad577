"""The campaign page's plain HTML donation form: read it, check it, explain what is wrong.

The same rules as the JSON API (the service checks them again), but the messages are for
people, in their language, next to the field they concern.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from uuid import UUID

from donate.db.campaigns import Campaign
from donate.domain.errors import InvalidAmount
from donate.domain.money import Money
from donate.i18n import format_money, parse_money
from donate.services.checkout import CheckoutInput, DonorInput

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_MAX_TIP_MINOR = 100_000_00
FIELDS = (
    "amount", "amount_other", "frequency", "tier", "email", "first_name", "last_name",
    "address_line1", "postal_code", "city", "country", "tip", "message",
)  # fmt: skip
CHECKBOXES = ("wants_receipt", "anonymous", "hide_amount", "cover_fees")
_LIMITS = {"email": 254, "first_name": 100, "last_name": 100, "address_line1": 200,
           "postal_code": 20, "city": 100, "country": 2, "message": 1000}  # fmt: skip


@dataclass
class FormResult:
    values: dict[str, str]
    checked: set[str]
    errors: dict[str, str] = field(default_factory=dict)
    checkout: CheckoutInput | None = None


def _amount(text: str, currency: str, lang: str) -> int | None:
    try:
        return parse_money(text, currency, lang).minor
    except InvalidAmount:
        return None


def read_form(
    form: Mapping[str, str], c: Campaign, lang: str, _: Callable[[str], str]
) -> FormResult:
    values = {name: str(form.get(name, "")).strip() for name in FIELDS}
    checked = {name for name in CHECKBOXES if form.get(name)}
    errors: dict[str, str] = {}
    for name, limit in _LIMITS.items():
        if len(values[name]) > limit:
            errors[name] = _("This field is too long.")

    def money(minor: int) -> str:
        return format_money(Money(minor, c.currency), lang)

    tier = None
    if values["tier"]:
        tier = next((t for t in c.tiers if str(t.id) == values["tier"]), None)
        if tier is None:
            errors["tier"] = _("Please choose one of the rewards listed.")
        elif tier.remaining == 0:
            errors["tier"] = _("This reward is sold out.")

    amount: int | None = None
    choice = values["amount"]
    if values["amount_other"]:
        # Typed text wins over the pre-selected suggestion: without JavaScript, typing in
        # the field does not switch the radio button.
        amount = _amount(values["amount_other"], c.currency, lang)
    elif choice and choice != "other":
        amount = int(choice) if choice.isdigit() and len(choice) <= 12 else None
    elif tier is not None:
        amount = tier.amount_minor
    if amount is None:
        errors["amount"] = (
            _("Please enter an amount such as 25 or 12,50.")
            if values["amount_other"] or choice == "other"
            else _("Please choose or enter an amount.")
        )
    elif amount < c.min_amount_minor:
        errors["amount"] = _("The minimum gift is %(amount)s.") % {
            "amount": money(c.min_amount_minor)
        }
    elif amount > c.max_amount_minor:
        errors["amount"] = _("The maximum gift is %(amount)s.") % {
            "amount": money(c.max_amount_minor)
        }
    elif tier is not None and amount < tier.amount_minor:
        errors["amount"] = _("This reward starts at %(amount)s.") % {
            "amount": money(tier.amount_minor)
        }

    frequency = values["frequency"] or "once"
    if frequency not in c.frequencies:
        errors["frequency"] = _("Please choose how often you give.")

    tip = 0
    if values["tip"]:
        parsed = _amount(values["tip"], c.currency, lang)
        if parsed is None or parsed > _MAX_TIP_MINOR:
            errors["tip"] = _("Please enter an amount such as 2 or 2,50 (or 0).")
        else:
            tip = parsed

    if not _EMAIL.match(values["email"]):
        errors["email"] = _("Please enter a valid e-mail address.")
    country = (values["country"] or "FR").upper()
    if not _COUNTRY.match(country):
        errors["country"] = _("Please enter a two-letter country code such as FR.")
    wants_receipt = "wants_receipt" in checked
    if wants_receipt:
        if not c.receipt_eligible:
            errors["wants_receipt"] = _("This campaign does not issue tax receipts.")
        for name in ("first_name", "last_name", "address_line1", "postal_code", "city"):
            if not values[name]:
                errors[name] = _("Required for a tax receipt.")

    result = FormResult(values, checked, errors)
    if errors or amount is None:
        return result
    result.checkout = CheckoutInput(
        campaign_id=c.id,
        amount_minor=amount,
        currency=c.currency,
        donor=DonorInput(
            email=values["email"],
            first_name=values["first_name"],
            last_name=values["last_name"],
            address_line1=values["address_line1"],
            postal_code=values["postal_code"],
            city=values["city"],
            country=country,
        ),
        frequency=frequency,
        wants_receipt=wants_receipt,
        anonymous="anonymous" in checked,
        hide_amount="hide_amount" in checked,
        tip_minor=tip,
        cover_fees="cover_fees" in checked,
        tier_id=UUID(values["tier"]) if tier is not None else None,
        message=values["message"] or None,
        locale=lang,
    )
    return result


def service_error_map(_: Callable[[str], str]) -> dict[str, tuple[str, str]]:
    """Service error key → (form field, message for people); shared with the widget's script."""
    return {
        "amount_minor": ("amount", _("This amount is not accepted by this campaign.")),
        "tier_id": ("tier", _("This reward is not available any more.")),
        "frequency": ("frequency", _("This frequency is not available yet.")),
        "wants_receipt": ("wants_receipt", _("This campaign does not issue tax receipts.")),
        "campaign_id": ("form", _("This campaign is not taking gifts.")),
        "provider": ("form", _("Online payment is not available for this campaign.")),
        "currency": ("form", _("This campaign is not taking gifts.")),
    }


def service_errors(errors: Mapping[str, str], _: Callable[[str], str]) -> dict[str, str]:
    """The service's field errors (English, for integrators) as form messages for people."""
    known = service_error_map(_)
    out: dict[str, str] = {}
    for key in errors:
        if key in known:
            name, message = known[key]
        elif key.startswith("donor."):
            name, message = key.removeprefix("donor."), _("Please check this field.")
        else:
            name, message = "form", _("Please check the form.")
        out.setdefault(name, message)
    return out
