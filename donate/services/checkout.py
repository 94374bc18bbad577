"""Starting a gift: validate, record the donation, open the provider's hosted checkout.

The donation and its payment row are committed *before* the provider is called, so a
webhook that arrives early always finds them (by the donation id in the metadata). A
provider failure cancels the donation at once (it never stays pending); an answer lost
in a timeout is harmless: the same deterministic idempotency key is used for the call, and
the reconciliation cron converges whatever the provider did.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from donate.db import campaigns as campaigns_db
from donate.db import donations as donations_db
from donate.db import orgs as orgs_db
from donate.db import outbox
from donate.domain.fees import gross_up_for_fees
from donate.domain.money import Money
from donate.providers.base import CheckoutRequest, ProviderError, ProviderRejected
from donate.services import recurring
from donate.services.errors import InvalidRequest, ProviderDown
from donate.services.payments import connected_account
from donate.services.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DonorInput:
    email: str
    first_name: str
    last_name: str
    address_line1: str = ""
    postal_code: str = ""
    city: str = ""
    country: str = "FR"
    company_name: str | None = None
    siren: str | None = None
    legal_form: str | None = None
    address_line2: str | None = None


@dataclass(frozen=True, slots=True)
class CheckoutInput:
    campaign_id: UUID
    amount_minor: int
    currency: str
    donor: DonorInput
    frequency: str = "once"
    provider: str | None = None
    wants_receipt: bool = False
    anonymous: bool = False
    hide_amount: bool = False
    tip_minor: int = 0
    cover_fees: bool = False
    tier_id: UUID | None = None
    message: str | None = None
    locale: str = "fr"
    method_hint: str | None = None  # lets "cover the fees" estimate for SEPA/iDEAL


@dataclass(frozen=True, slots=True)
class CheckoutResult:
    donation_id: UUID
    checkout_url: str
    status: str
    amount_minor: int
    tip_minor: int
    fee_cover_minor: int
    provider: str


def _validate(inp: CheckoutInput, campaign: campaigns_db.Campaign, now: datetime) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not campaign.accepting_gifts_at(now):
        errors["campaign_id"] = (
            "this campaign has ended" if campaign.ends_at and campaign.ends_at <= now
            else "this campaign is not open for gifts"
        )  # fmt: skip
    if inp.currency != campaign.currency:
        errors["currency"] = f"this campaign takes {campaign.currency}"
    if inp.amount_minor < campaign.min_amount_minor:
        errors["amount_minor"] = f"the minimum gift is {campaign.min_amount_minor} minor units"
    elif inp.amount_minor > campaign.max_amount_minor:
        errors["amount_minor"] = f"the maximum gift is {campaign.max_amount_minor} minor units"
    if inp.frequency not in campaign.frequencies:
        errors["frequency"] = f"this campaign accepts {', '.join(campaign.frequencies)}"
    elif inp.frequency != "once" and inp.tier_id is not None:
        errors["tier_id"] = "a reward tier goes with a one-off gift"
    if inp.tier_id is not None:
        tier = next((t for t in campaign.tiers if t.id == inp.tier_id), None)
        if tier is None:
            errors["tier_id"] = "unknown tier for this campaign"
        elif inp.amount_minor < tier.amount_minor:
            errors["amount_minor"] = f"this tier starts at {tier.amount_minor} minor units"
        elif tier.remaining == 0:
            errors["tier_id"] = "this tier is sold out"
    if inp.wants_receipt:
        if not campaign.receipt_eligible:
            errors["wants_receipt"] = "this campaign does not issue tax receipts"
        d = inp.donor
        for name in ("first_name", "last_name", "address_line1", "postal_code", "city"):
            if not getattr(d, name).strip():
                errors[f"donor.{name}"] = "required for a tax receipt"
        # A company's receipt (cerfa 16216) prints its name, legal form and SIREN
        # (DOMAIN.md §1, mention 5): refuse now what the renderer would refuse later.
        if d.company_name and not d.siren:
            errors["donor.siren"] = "a company receipt needs the SIREN"
        if d.company_name and not (d.legal_form or "").strip():
            errors["donor.legal_form"] = "a company receipt needs the legal form (SAS, SARL…)"
    return errors


async def start_checkout(
    rt: Runtime, inp: CheckoutInput, *, now: datetime | None = None
) -> CheckoutResult:
    """Create the donation and its hosted checkout. Raises ``InvalidRequest`` (field errors,
    unknown campaign included), ``ProviderDown`` (the provider failed: the donation is
    canceled, never left pending)."""
    now = now or datetime.now(UTC)
    async with rt.pool.acquire() as conn:
        campaign = await campaigns_db.get_campaign(conn, inp.campaign_id)
        if campaign is None:
            raise InvalidRequest({"campaign_id": "unknown campaign"}, "Unknown campaign.")
        errors = _validate(inp, campaign, now)
        accounts = {
            a.provider for a in await orgs_db.list_provider_accounts(conn, campaign.organization_id)
        }
        available = [p for p in ("stripe", "mollie") if p in accounts and p in rt.providers]
        provider = inp.provider or (available[0] if available else None)
        if provider is None or provider not in available:
            errors["provider"] = "this association does not take payments through this provider"
        if errors:
            raise InvalidRequest(errors)
        assert provider is not None
        fee_cover = (
            gross_up_for_fees(
                provider, inp.method_hint, Money(inp.amount_minor + inp.tip_minor, inp.currency)
            ).minor
            if inp.cover_fees
            else 0
        )
        platform_fee = inp.amount_minor * rt.settings.platform_fee_bps // 10_000
        async with conn.transaction():
            tier_held = False
            if inp.tier_id is not None:
                tier_held = await campaigns_db.claim_tier(
                    conn, campaign.organization_id, inp.tier_id
                )
                if not tier_held:
                    raise InvalidRequest({"tier_id": "this tier is sold out"})
            d = inp.donor
            donor_id = await donations_db.upsert_donor(
                conn,
                campaign.organization_id,
                d.email,
                {
                    "first_name": d.first_name, "last_name": d.last_name,
                    "company_name": d.company_name, "legal_form": d.legal_form, "siren": d.siren,
                    "address_line1": d.address_line1, "address_line2": d.address_line2,
                    "postal_code": d.postal_code, "city": d.city, "country": d.country,
                    "locale": inp.locale,
                },
            )  # fmt: skip
            expires_at = now + timedelta(minutes=rt.settings.checkout_expiry_minutes)
            donation = await donations_db.insert_donation(
                conn,
                {
                    "organization_id": campaign.organization_id, "campaign_id": campaign.id,
                    "donor_id": donor_id, "tier_id": inp.tier_id, "tier_held": tier_held,
                    "amount_minor": inp.amount_minor, "currency": inp.currency,
                    "frequency": inp.frequency, "tip_minor": inp.tip_minor,
                    "fee_cover_minor": fee_cover, "platform_fee_minor": platform_fee,
                    "provider": provider, "wants_receipt": inp.wants_receipt,
                    "anonymous": inp.anonymous, "hide_amount": inp.hide_amount,
                    "message": inp.message, "locale": inp.locale, "expires_at": expires_at,
                },
            )  # fmt: skip
            account = await connected_account(conn, rt, campaign.organization_id, provider)
            payment = await donations_db.insert_payment(conn, donation, account.account_id)
            await donations_db.add_history(conn, donation, None, "pending", "checkout")
            if donation.frequency != "once":
                await recurring.create_plan(conn, donation, account.account_id)
            # If nothing else settles it, look again once the checkout has expired.
            await outbox.add(
                conn,
                "donation.refresh",
                {"donation_id": str(donation.id)},
                organization_id=donation.organization_id,
                dedup_key=f"donation:{donation.id}:expiry-check",
                delay_s=(expires_at - now).total_seconds() + 60,
            )

    base = rt.settings.public_url.rstrip("/")
    request = CheckoutRequest(
        donation_id=str(donation.id),
        amount=Money(donation.charged_minor, donation.currency),
        application_fee=(
            Money(donation.tip_minor + platform_fee, donation.currency)
            if donation.tip_minor + platform_fee > 0
            else None
        ),
        description=f"{campaign.title} — {campaign.org_name}"[:250],
        donor_email=inp.donor.email,
        success_url=f"{base}/donations/{donation.id}/return",
        cancel_url=f"{base}/donations/{donation.id}/return?canceled=1",
        webhook_url=f"{base}/webhooks/mollie",
        locale=inp.locale,
        frequency=inp.frequency,
        metadata={"donation_id": str(donation.id), "campaign_id": str(campaign.id)},
        idempotency_key=f"donation:{donation.id}:checkout",
        expires_at=donation.expires_at,
    )
    try:
        checkout = await rt.provider(provider).create_checkout(account, request)
    except ProviderError as exc:
        await _abandon(rt, donation.id, exc)
        raise ProviderDown(
            f"{provider} could not open the checkout; please try again",
            rejected=isinstance(exc, ProviderRejected),
        ) from exc
    async with rt.pool.acquire() as conn:
        await donations_db.set_payment_checkout(
            conn, payment.id, checkout.checkout_id, checkout.payment_id
        )
    if donation.frequency != "once":
        await recurring.set_customer(rt, donation.id, checkout.customer_id)
    return CheckoutResult(
        donation_id=donation.id,
        checkout_url=checkout.checkout_url,
        status="pending",
        amount_minor=donation.amount_minor,
        tip_minor=donation.tip_minor,
        fee_cover_minor=fee_cover,
        provider=provider,
    )


async def _abandon(rt: Runtime, donation_id: UUID, exc: Exception) -> None:
    """The checkout could not be opened: cancel the donation and give back the tier stock."""
    log.warning("checkout for donation %s failed: %s", donation_id, exc)
    async with rt.pool.acquire() as conn, conn.transaction():
        donation = await donations_db.get_donation(conn, donation_id, for_update=True)
        if donation is None or donation.status != "pending":
            return
        if donation.tier_held and donation.tier_id is not None:
            await campaigns_db.release_tier(conn, donation.organization_id, donation.tier_id)
        await donations_db.set_donation_state(
            conn, donation.id, status="canceled", counted_minor=0, tier_held=False
        )
        await donations_db.add_history(
            conn, donation, "pending", "canceled", "checkout", detail={"error": type(exc).__name__}
        )
