"""What a donor (from the donor space) or an association (from its API) does to a plan:
change its amount or frequency, pause or resume it, replace its payment method, cancel it.

Contract: the caller finds the plan through ``plan_for_donor`` / ``plan_for_org`` (another
person's or association's plan is ``NotFound``, never "forbidden"); each action calls the
provider with a deterministic idempotency key, then converges the plan with
``recurring.sync_plan`` (the provider's answer, not our request, is the truth). Canceling
never refunds anything. Raises ``InvalidRequest`` (field errors), ``Conflict`` (the plan is
over, or the provider cannot do it), ``ProviderDown``.
"""

from __future__ import annotations

import time
from uuid import UUID

from donate.db import campaigns as campaigns_db
from donate.db import recurring as recurring_db
from donate.db.recurring import PlanRow
from donate.domain.fees import gross_up_for_fees
from donate.domain.money import Money
from donate.providers.base import (
    ConnectedAccount,
    PaymentSnapshot,
    PaymentStatus,
    ProviderError,
    ProviderRejected,
)
from donate.services import payments, recurring
from donate.services.errors import Conflict, InvalidRequest, NotFound, ProviderDown
from donate.services.recurring import Synced
from donate.services.runtime import Runtime

# Who acts → the plan history's source.
DONOR, ASSOCIATION = "donor", "api"


async def plan_for_donor(rt: Runtime, plan_id: UUID, email: str) -> PlanRow:
    """The plan, if it belongs to a donor with this e-mail (any association)."""
    async with rt.pool.acquire() as conn:
        row = await conn.fetchrow(
            """SELECT p.id, p.organization_id FROM recurring_plans p
               JOIN donors d ON d.id = p.donor_id
               WHERE p.id = $1 AND lower(d.email) = lower($2) AND d.erased_at IS NULL""",
            plan_id,
            email,
        )
        plan = await recurring_db.get_plan(conn, plan_id) if row else None
    if plan is None:
        raise NotFound("No such recurring gift.")
    return plan


async def plan_for_org(rt: Runtime, plan_id: UUID, org_id: UUID) -> PlanRow:
    async with rt.pool.acquire() as conn:
        plan = await recurring_db.get_plan(conn, plan_id, org_id=org_id)
    if plan is None:
        raise NotFound("No such recurring plan.")
    return plan


async def _account(rt: Runtime, plan: PlanRow) -> ConnectedAccount:
    async with rt.pool.acquire() as conn:
        return await payments.connected_account(conn, rt, plan.organization_id, plan.provider)


def _live(plan: PlanRow) -> str:
    if plan.ended:
        raise Conflict(f"This recurring gift is {plan.status}.")
    if plan.provider_subscription_id is None:
        raise Conflict("This recurring gift has not started yet.")
    return plan.provider_subscription_id


def _provider_down(exc: ProviderError) -> ProviderDown:
    return ProviderDown(
        "the payment provider could not do it; please try again",
        rejected=isinstance(exc, ProviderRejected),
    )


async def change(
    rt: Runtime,
    plan: PlanRow,
    *,
    amount_minor: int | None = None,
    frequency: str | None = None,
    source: str = DONOR,
) -> Synced:
    """A new amount and/or frequency, from the next cycle (never prorated)."""
    sid = _live(plan)
    async with rt.pool.acquire() as conn:
        campaign = await campaigns_db.get_campaign(conn, plan.campaign_id)
    assert campaign is not None
    errors: dict[str, str] = {}
    if amount_minor is not None and not (
        campaign.min_amount_minor <= amount_minor <= campaign.max_amount_minor
    ):
        errors["amount_minor"] = (
            f"between {campaign.min_amount_minor} and {campaign.max_amount_minor} minor units"
        )
    allowed = [f for f in campaign.frequencies if f != "once"]
    if frequency is not None and frequency not in allowed:
        errors["frequency"] = f"one of {', '.join(allowed) or 'none'}"
    if errors:
        raise InvalidRequest(errors)
    gift = amount_minor if amount_minor is not None else plan.amount_minor
    fee_cover = plan.fee_cover_minor
    if fee_cover and gift != plan.amount_minor:
        # The donor chose to cover the fees: keep covering them for the new amount.
        fee_cover = gross_up_for_fees(
            plan.provider, plan.method_kind, Money(gift + plan.tip_minor, plan.currency)
        ).minor
    charged = Money(gift + plan.tip_minor + fee_cover, plan.currency)
    new_amount = charged if charged.minor != plan.charged_minor else None
    new_frequency = frequency if frequency not in (None, plan.frequency) else None
    if new_amount is None and new_frequency is None:
        return Synced(plan.id, plan.status, plan.status, reason="no change")
    # Same request on the same plan state → same key: a retried click changes nothing twice.
    key = (
        f"plan:{plan.id}:change:{plan.updated_at.timestamp():.6f}:"
        f"{new_amount.minor if new_amount else '-'}:{new_frequency or '-'}"
    )
    account = await _account(rt, plan)
    try:
        await rt.provider(plan.provider).update_subscription(
            account, sid, amount=new_amount, interval=new_frequency,
            customer_id=plan.provider_customer_id, idempotency_key=key,
        )  # fmt: skip
    except ProviderError as exc:
        raise _provider_down(exc) from exc
    async with rt.pool.acquire() as conn:
        # The split of what is charged from now on; the sync reads the provider's amount.
        await recurring_db.update_plan(conn, plan.id, {"fee_cover_minor": fee_cover})
    return await recurring.sync_plan(rt, plan.id, source=source)


async def set_paused(rt: Runtime, plan: PlanRow, paused: bool, *, source: str = DONOR) -> Synced:
    """Pause (no payment is taken, cycles are skipped) or resume. Stripe only: Mollie
    subscriptions cannot be paused (the donor can cancel and give again)."""
    sid = _live(plan)
    if plan.provider != "stripe":
        raise Conflict("This payment provider cannot pause a recurring gift; cancel it instead.")
    if (plan.status == "paused") == paused:
        return Synced(plan.id, plan.status, plan.status, reason="no change")
    account = await _account(rt, plan)
    key = f"plan:{plan.id}:pause:{paused}:{plan.updated_at.timestamp():.6f}"
    try:
        await rt.provider(plan.provider).update_subscription(
            account, sid, pause=paused, idempotency_key=key
        )
    except ProviderError as exc:
        raise _provider_down(exc) from exc
    return await recurring.sync_plan(rt, plan.id, source=source)


async def cancel(rt: Runtime, plan: PlanRow, *, source: str = DONOR) -> Synced:
    """Stop future payments now. Past payments and their receipts stay as they are."""
    if plan.status == "canceled":
        return Synced(plan.id, plan.status, plan.status, reason="already canceled")
    sid = _live(plan)
    who = "donor" if source == DONOR else "association"
    async with rt.pool.acquire() as conn:
        # Who asked, recorded first: the provider's own "deleted" webhook may be processed
        # before this request's sync, and must not look like a cancellation by the provider.
        await recurring_db.update_plan(conn, plan.id, {"ended_by": who})
    account = await _account(rt, plan)
    try:
        await rt.provider(plan.provider).cancel_subscription(
            account, sid, customer_id=plan.provider_customer_id
        )
    except ProviderError as exc:
        async with rt.pool.acquire() as conn:
            await conn.execute(
                "UPDATE recurring_plans SET ended_by = NULL WHERE id = $1 AND ended_at IS NULL",
                plan.id,
            )
        raise _provider_down(exc) from exc
    return await recurring.sync_plan(rt, plan.id, source=source)


async def payment_method_url(rt: Runtime, plan: PlanRow, return_url: str) -> str:
    """The provider's hosted page where the donor replaces the plan's card or account."""
    sid = _live(plan)
    account = await _account(rt, plan)
    # Clicks within ten minutes reuse one hosted page (Mollie: one update payment).
    key = f"plan:{plan.id}:payment-method:{int(time.time() // 600)}"
    try:
        return await rt.provider(plan.provider).payment_method_update_url(
            account, sid, return_url, customer_id=plan.provider_customer_id,
            webhook_url=recurring.mollie_webhook_url(rt, plan.id), idempotency_key=key,
        )  # fmt: skip
    except ProviderError as exc:
        raise _provider_down(exc) from exc


async def complete_method_update(rt: Runtime, snap: PaymentSnapshot) -> Synced:
    """Mollie: the donor paid the small payment that gives a new mandate; move the plan on it."""
    async with rt.pool.acquire() as conn:
        plan = await recurring_db.find_plan(conn, snap.provider, customer_id=snap.customer_id)
    if plan is None or plan.provider_subscription_id is None or snap.payment_id is None:
        return Synced(None, None, None, reason="unknown plan")
    if snap.status is not PaymentStatus.PAID or plan.ended:
        return Synced(plan.id, plan.status, plan.status, reason="payment method unchanged")
    account = await _account(rt, plan)
    await rt.provider(plan.provider).complete_payment_method_update(
        account, plan.provider_subscription_id, snap.payment_id,
        customer_id=plan.provider_customer_id,
    )  # fmt: skip
    return await recurring.sync_plan(rt, plan.id, source="webhook")
