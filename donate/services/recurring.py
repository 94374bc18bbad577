"""Recurring plans: created with their first checkout, started when it is paid, and kept in
line with the provider's subscription by one convergence function.

Contract:
- ``sync_plan`` re-fetches the subscription and every one of its payments, under a row lock
  on the plan, and in one transaction: records each cycle as a donation of its own (created
  once: payments are unique per provider payment and Stripe invoice), applies each payment
  through ``payments.apply_in`` (totals, history, receipts as for any gift), and derives the
  plan's status from the subscription. Events only say *which* plan to look at, so
  duplicates, shuffles and late events converge on the same state.
- A canceled plan stays canceled; a lapsed one only comes back if the provider collects
  again (Stripe ``unpaid`` recovered). Canceling never refunds.
- Mollie never retries a failed debit: after ``MOLLIE_MAX_FAILURES`` consecutive failed
  cycles the plan is lapsed and its subscription canceled (no further debits).
- Dunning and lapse e-mails are outbox rows, claimed once per failed attempt.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from donate.db import donations as donations_db
from donate.db import outbox
from donate.db import recurring as recurring_db
from donate.db.recurring import PlanRow
from donate.db.types import Conn
from donate.domain.money import Money
from donate.providers.base import (
    PaymentSnapshot,
    PaymentStatus,
    SubscriptionSnapshot,
    SubscriptionStatus,
)
from donate.providers.mollie_recurring import first_renewal
from donate.services import payments
from donate.services.runtime import Runtime

log = logging.getLogger(__name__)

MOLLIE_MAX_FAILURES = 3
NOTICE_TASK = "recurring.notice"
# A renewal is never "abandoned" like a checkout: its result comes from the provider.
_CYCLE_EXPIRY = timedelta(days=60)
_STATUS = {
    SubscriptionStatus.ACTIVE: "active",
    SubscriptionStatus.PAST_DUE: "failing",
    SubscriptionStatus.PAUSED: "paused",
    SubscriptionStatus.CANCELED: "canceled",
    SubscriptionStatus.LAPSED: "lapsed",
}
# Plan history source → donation history source (its CHECK list is older).
_DONATION_SOURCE = {"checkout": "checkout", "webhook": "webhook", "reconcile": "reconcile"}
_ENDED_BY = {"donor": "donor", "api": "association", "dunning": "dunning"}


@dataclass(frozen=True, slots=True)
class Synced:
    plan_id: UUID | None
    old_status: str | None
    new_status: str | None
    new_cycles: int = 0
    reason: str = ""

    def describe(self) -> str:
        if self.plan_id is None:
            return self.reason or "no plan"
        return f"plan {self.old_status}->{self.new_status} (+{self.new_cycles} cycles)"


async def create_plan(conn: Conn, donation: donations_db.DonationRow, account_id: str) -> PlanRow:
    """The plan of a recurring checkout, inside the checkout's transaction (pending until
    its first payment is paid)."""
    plan = await recurring_db.insert_plan(
        conn,
        {
            "organization_id": donation.organization_id, "campaign_id": donation.campaign_id,
            "donor_id": donation.donor_id, "first_donation_id": donation.id,
            "provider": donation.provider, "provider_account_id": account_id,
            "amount_minor": donation.amount_minor, "tip_minor": donation.tip_minor,
            "fee_cover_minor": donation.fee_cover_minor, "currency": donation.currency,
            "frequency": donation.frequency, "wants_receipt": donation.wants_receipt,
            "locale": donation.locale,
        },
    )  # fmt: skip
    await recurring_db.link_donation(conn, donation.id, plan.id)
    await recurring_db.add_history(conn, plan, None, "pending", "checkout")
    return plan


async def set_customer(rt: Runtime, donation_id: UUID, customer_id: str | None) -> None:
    """Mollie: the customer the first payment was made for (known once the checkout exists)."""
    if not customer_id:
        return
    async with rt.pool.acquire() as conn:
        await conn.execute(
            """UPDATE recurring_plans SET provider_customer_id = $2, updated_at = now()
               WHERE first_donation_id = $1 AND provider_customer_id IS NULL""",
            donation_id,
            customer_id,
        )


def mollie_webhook_url(rt: Runtime, plan_id: UUID) -> str:
    """Where Mollie posts the plan's payments: the plan tells us whose account to ask."""
    return f"{rt.settings.public_url.rstrip('/')}/webhooks/mollie/plans/{plan_id}"


async def activate(rt: Runtime, donation_id: UUID) -> Synced:
    """The first payment of a plan changed: find its subscription (Stripe made it at
    checkout; Mollie's is started here, on the mandate of the paid first payment), then sync.
    Idempotent: the Mollie subscription is created with a key derived from the plan."""
    async with rt.pool.acquire() as conn:
        plan = await recurring_db.find_plan(conn, None, first_donation_id=donation_id)
        if plan is None:
            return Synced(None, None, None, reason="no plan")
        if plan.provider_subscription_id:
            return await sync_plan(rt, plan.id, source="checkout")
        first = (await donations_db.payments_of(conn, donation_id))[0]
        account = await payments.connected_account(conn, rt, plan.organization_id, plan.provider)
    provider = rt.provider(plan.provider)
    ref = first.checkout_id or first.provider_payment_id
    if not ref:
        return Synced(plan.id, plan.status, plan.status, reason="checkout not opened")
    snap = await provider.fetch_payment(account, ref)
    sub_id = snap.subscription_id
    if plan.provider == "mollie" and sub_id is None:
        if snap.status is not PaymentStatus.PAID or not snap.mandate_id or not snap.paid_at:
            return Synced(plan.id, plan.status, plan.status, reason="first payment not paid")
        platform_fee = plan.amount_minor * rt.settings.platform_fee_bps // 10_000
        fee = plan.tip_minor + platform_fee
        started = await provider.start_subscription(
            account,
            snap.customer_id or plan.provider_customer_id or "",
            snap.mandate_id,
            Money(plan.charged_minor, plan.currency),
            plan.frequency,
            mollie_webhook_url(rt, plan.id),
            {"donation_id": str(donation_id), "plan_id": str(plan.id),
             "first_payment_id": snap.payment_id or ref},
            f"plan:{plan.id}:subscription",
            start_date=first_renewal(snap.paid_at.date(), plan.frequency),
            description=f"Don régulier {plan.id}",
            application_fee=Money(fee, plan.currency) if fee else None,
        )  # fmt: skip
        sub_id = started.subscription_id
    if sub_id is None:
        return Synced(plan.id, plan.status, plan.status, reason="no subscription yet")
    async with rt.pool.acquire() as conn:
        await conn.execute(
            """UPDATE recurring_plans SET provider_subscription_id = $2,
                   provider_customer_id = coalesce(provider_customer_id, $3), updated_at = now()
               WHERE id = $1 AND provider_subscription_id IS NULL""",
            plan.id,
            sub_id,
            snap.customer_id,
        )
    return await sync_plan(rt, plan.id, source="checkout")


async def sync_subscription(
    rt: Runtime,
    provider: str,
    subscription_id: str,
    *,
    donation_hint: str | None = None,
    customer_hint: str | None = None,
    source: str = "webhook",
    provider_event_id: str | None = None,
) -> Synced:
    """An event about a subscription (or one of its payments): converge its plan."""
    async with rt.pool.acquire() as conn:
        plan = await recurring_db.find_plan(
            conn, provider, subscription_id=subscription_id,
            first_donation_id=_uuid(donation_hint), customer_id=customer_hint,
        )  # fmt: skip
        if plan is None:
            return Synced(None, None, None, reason="unknown subscription")
        if plan.provider_subscription_id is None:
            await conn.execute(
                """UPDATE recurring_plans SET provider_subscription_id = $2, updated_at = now()
                   WHERE id = $1 AND provider_subscription_id IS NULL""",
                plan.id,
                subscription_id,
            )
        elif plan.provider_subscription_id != subscription_id:
            return Synced(None, None, None, reason="subscription of another plan")
    return await sync_plan(rt, plan.id, source=source, provider_event_id=provider_event_id)


def _uuid(text: str | None) -> UUID | None:
    try:
        return UUID(text) if text else None
    except ValueError:
        return None


async def sync_plan(
    rt: Runtime, plan_id: UUID, *, source: str, provider_event_id: str | None = None
) -> Synced:
    """Make the plan and its cycles match the provider (see the module docstring). Raises
    ``ProviderError`` when the provider fails (the outbox retries; nothing half-done)."""
    async with rt.pool.acquire() as conn, conn.transaction():
        # The lock is held across the provider calls: two syncs of one plan never interleave,
        # so a slower, older snapshot can never overwrite a newer one.
        plan = await recurring_db.get_plan(conn, plan_id, for_update=True)
        if plan is None or plan.provider_subscription_id is None:
            return Synced(plan_id, None, None, reason="not started")
        account = await payments.connected_account(conn, rt, plan.organization_id, plan.provider)
        provider = rt.provider(plan.provider)
        sid, cst = plan.provider_subscription_id, plan.provider_customer_id
        sub = await provider.fetch_subscription(account, sid, customer_id=cst)
        snaps = await provider.list_subscription_payments(account, sid, customer_id=cst)
        new_cycles = 0
        for snap in snaps:
            new_cycles += await _record_cycle(conn, plan, snap, source, provider_event_id)
        if (
            plan.provider == "mollie"
            and sub.status is SubscriptionStatus.PAST_DUE
            and sub.failed_attempts >= MOLLIE_MAX_FAILURES
        ):
            # Mollie will not retry: stop debiting a payment method that keeps failing.
            sub = await provider.cancel_subscription(account, sid, customer_id=cst)
            new = "lapsed"
            if plan.ended_by is None:
                plan = await _with_ended_by(conn, plan, "dunning")
        else:
            new = _status(plan, sub, await _first_settled(conn, plan))
        await _converge(conn, plan, sub, new, snaps, source, provider_event_id)
    return Synced(plan.id, plan.status, new, new_cycles)


async def _with_ended_by(conn: Conn, plan: PlanRow, who: str) -> PlanRow:
    await recurring_db.update_plan(conn, plan.id, {"ended_by": who})
    found = await recurring_db.get_plan(conn, plan.id)
    assert found is not None
    return found


async def _first_settled(conn: Conn, plan: PlanRow) -> bool:
    status = await conn.fetchval(
        "SELECT status FROM donations WHERE id = $1", plan.first_donation_id
    )
    return status in ("paid", "partially_refunded", "refunded", "disputed")


def _status(plan: PlanRow, sub: SubscriptionSnapshot, first_settled: bool) -> str:
    new = _STATUS[sub.status]
    if plan.status == "canceled":
        return "canceled"  # final: a provider cannot revive a canceled subscription
    if plan.status == "lapsed" and new == "canceled":
        return "lapsed"  # we ended it for failed payments; the provider only says canceled
    if new == "active" and not first_settled:
        return "pending"  # a SEPA first debit still processing
    return new


def _split(plan: PlanRow, charged: int) -> tuple[int, int, int]:
    """(gift, tip, covered fees) of a cycle charged ``charged``: the plan's tip and covered
    fees come first out of it, the rest is the gift."""
    extra = plan.tip_minor + plan.fee_cover_minor
    if charged > extra:
        return charged - extra, plan.tip_minor, plan.fee_cover_minor
    return charged, 0, 0


async def _record_cycle(
    conn: Conn, plan: PlanRow, snap: PaymentSnapshot, source: str, event_id: str | None
) -> int:
    """Record one payment of the subscription; returns 1 when a new cycle was created."""
    if snap.purpose is not None or snap.payment_id is None:
        return 0  # a payment-method change is no gift; an invoice not yet attempted is nothing
    dsource = _DONATION_SOURCE.get(source, "api")
    created = 0
    if snap.sequence_type != "first":
        found = await recurring_db.find_cycle(conn, plan.provider, snap.payment_id, snap.invoice_id)
        if found is None:
            gift, tip, cover = _split(plan, snap.amount.minor)
            donation = await donations_db.insert_donation(
                conn,
                {
                    "organization_id": plan.organization_id, "campaign_id": plan.campaign_id,
                    "donor_id": plan.donor_id, "amount_minor": gift, "currency": plan.currency,
                    "frequency": plan.frequency, "tip_minor": tip, "fee_cover_minor": cover,
                    "provider": plan.provider, "wants_receipt": plan.wants_receipt,
                    "locale": plan.locale, "recurring_plan_id": plan.id,
                    "expires_at": datetime.now(UTC) + _CYCLE_EXPIRY,
                },
            )  # fmt: skip
            await recurring_db.insert_cycle_payment(
                conn, donation.id, plan.organization_id, plan.provider,
                plan.provider_account_id, snap.amount.minor, snap.amount.currency,
                snap.payment_id, snap.invoice_id,
            )  # fmt: skip
            await donations_db.add_history(conn, donation, None, "pending", dsource)
            created = 1
    await payments.apply_in(
        conn, snap, source=dsource, provider_event_id=event_id, follow_plan=False
    )
    return created


def _failure_key(sub: SubscriptionSnapshot, snaps: list[PaymentSnapshot]) -> str | None:
    """One key per failed attempt: the failed cycle (Stripe invoice) and the attempt number."""
    failed = [s for s in snaps if s.status is PaymentStatus.FAILED and s.purpose is None]
    if not failed or sub.failed_attempts == 0:
        return None
    last = failed[-1]
    return f"{last.invoice_id or last.payment_id}:{sub.failed_attempts}"


async def _converge(
    conn: Conn,
    plan: PlanRow,
    sub: SubscriptionSnapshot,
    new: str,
    snaps: list[PaymentSnapshot],
    source: str,
    event_id: str | None,
) -> None:
    gift, tip, cover = _split(plan, sub.amount.minor)
    pm = sub.payment_method
    values: dict[str, object] = {
        "amount_minor": gift, "tip_minor": tip, "fee_cover_minor": cover,
        "frequency": sub.interval if sub.interval in ("monthly", "yearly") else plan.frequency,
        "status": new, "failure_count": sub.failed_attempts if new == "failing" else 0,
        "next_charge_date": None if new in ("canceled", "lapsed") else sub.next_payment_date,
        "next_retry_at": sub.next_retry_at if new == "failing" else None,
        "provider_customer_id": plan.provider_customer_id or sub.customer_id,
        "synced_at": datetime.now(UTC),
    }  # fmt: skip
    if pm is not None:
        values.update(
            method_kind=pm.kind, card_brand=pm.brand,
            card_last4=pm.last4 if pm.last4 and pm.last4.isdigit() else None,
            card_exp_month=pm.exp_month, card_exp_year=pm.exp_year,
            mandate_id=pm.mandate_id, mandate_reference=pm.mandate_reference,
        )  # fmt: skip
    if new in ("canceled", "lapsed"):
        values["ended_at"] = plan.ended_at or sub.canceled_at or datetime.now(UTC)
        values["ended_by"] = plan.ended_by or (
            "dunning" if new == "lapsed" else _ENDED_BY.get(source, "provider")
        )
    elif plan.ended:
        # Collected again after a lapse (Stripe ``unpaid`` recovered): live once more.
        values["ended_at"] = None
        values["ended_by"] = None
    await recurring_db.update_plan(conn, plan.id, values)
    if new != plan.status:
        await recurring_db.add_history(
            conn, plan, plan.status, new, source, provider_event_id=event_id,
            detail={"provider_status": sub.provider_status, "failed_attempts": sub.failed_attempts},
        )  # fmt: skip
        if new == "lapsed":
            await _notice(conn, plan, "lapsed", "final")
    key = _failure_key(sub, snaps)
    if new == "failing" and key is not None:
        await _notice(conn, plan, "payment_failed", key)


async def _notice(conn: Conn, plan: PlanRow, kind: str, cycle_key: str) -> None:
    """Queue an e-mail to the donor, once per (plan, kind, cycle)."""
    if await recurring_db.claim_notice(conn, plan, kind, cycle_key):
        await outbox.add(
            conn,
            NOTICE_TASK,
            {"plan_id": str(plan.id), "kind": kind, "cycle_key": cycle_key},
            organization_id=plan.organization_id,
            dedup_key=f"plan:{plan.id}:notice:{kind}:{cycle_key}",
        )
