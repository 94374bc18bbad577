"""The one convergence point: a donation follows its provider payment's current truth.

``apply`` is called by the webhook job, the donor's return URL and the reconciliation cron,
always with a snapshot freshly re-fetched from the provider. It derives the status from
that state (never from an event's order), under a row lock on the donation, and in the
same transaction records the history, moves the campaign totals by the difference, and
writes the outbox rows that later work reacts to. Applying the same snapshot twice
changes nothing the second time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import UUID

from donate.db import campaigns as campaigns_db
from donate.db import donations as donations_db
from donate.db import orgs as orgs_db
from donate.db import outbox
from donate.db.types import Conn
from donate.domain.donation import (
    DonationStatus,
    PaymentFacts,
    check_transition,
    counted_minor,
    derive_status,
)
from donate.domain.errors import InvalidTransition
from donate.providers.base import ConnectedAccount, DisputeStatus, PaymentSnapshot
from donate.services import integrator_events
from donate.services.runtime import Runtime

log = logging.getLogger(__name__)

# States in which the donation holds a unit of its tier's stock.
_HOLDS_TIER = {
    s for s in DonationStatus if s not in (DonationStatus.FAILED, DonationStatus.CANCELED)
}


@dataclass(frozen=True, slots=True)
class Applied:
    donation_id: UUID | None
    old_status: str | None
    new_status: str | None
    changed: bool
    reason: str = ""


def _snapshot_refs(snap: PaymentSnapshot) -> list[str]:
    return [r for r in (snap.checkout_id, snap.payment_id) if r]


def _donation_ref(snap: PaymentSnapshot) -> UUID | None:
    try:
        return UUID(snap.donation_id) if snap.donation_id else None
    except ValueError:
        return None


async def apply(
    rt: Runtime,
    snap: PaymentSnapshot,
    *,
    source: str,
    provider_event_id: str | None = None,
) -> Applied:
    """Make our records match ``snap``. Never raises for a payment we don't know: returns
    ``Applied(changed=False, reason="unknown payment")`` (a webhook for someone else)."""
    async with rt.pool.acquire() as conn, conn.transaction():
        return await apply_in(conn, snap, source=source, provider_event_id=provider_event_id)


async def apply_in(
    conn: Conn,
    snap: PaymentSnapshot,
    *,
    source: str,
    provider_event_id: str | None = None,
    follow_plan: bool = True,
) -> Applied:
    """``apply`` inside the caller's transaction. A recurring plan's first payment that
    changes wakes the plan (``recurring.activate``) unless ``follow_plan`` is False (the
    plan's own sync is the caller)."""
    # A renewal carries the donation id of the checkout that started its plan: it is only
    # ever matched by its own payment id (``services.recurring`` records new cycles).
    hint = None if snap.sequence_type == "recurring" else _donation_ref(snap)
    payment = await donations_db.find_payment(
        conn, snap.provider, refs=_snapshot_refs(snap), donation_id=hint
    )
    if payment is None:
        return Applied(None, None, None, False, "unknown payment")
    donation = await donations_db.get_donation(conn, payment.donation_id, for_update=True)
    assert donation is not None
    if snap.amount.currency != payment.currency or snap.amount.minor != payment.amount_minor:
        # Never trust a snapshot for another amount: flag it loudly, change nothing.
        log.error(
            "payment %s: provider amount %s differs from ours %s %s",
            payment.id, snap.amount, payment.amount_minor, payment.currency,
        )  # fmt: skip
        return Applied(donation.id, donation.status, donation.status, False, "amount mismatch")
    if _older_than_recorded(snap, *await donations_db.recorded_at_provider(conn, payment.id)):
        # Fetched before a refund or dispute that a fresher snapshot already brought (two
        # workers on two webhooks of one payment): applying it would undo that refund.
        log.info("donation %s: snapshot older than its refunds/disputes ignored", donation.id)
        return Applied(donation.id, donation.status, donation.status, False, "stale snapshot")

    refunded = min(snap.refunded.minor, payment.amount_minor)
    disputed = min(snap.disputed_lost.minor, payment.amount_minor)
    facts = PaymentFacts(
        status=snap.status.value,
        amount_minor=payment.amount_minor,
        refunded_minor=refunded,
        disputed_minor=disputed,
        dispute_open_or_lost=any(d.status is not DisputeStatus.WON for d in snap.disputes),
    )
    old = DonationStatus(donation.status)
    new = derive_status(facts)
    try:
        check_transition(old, new)
    except InvalidTransition:
        log.info("donation %s: stale %s snapshot ignored (%s)", donation.id, new, source)
        return Applied(donation.id, old, old, False, "stale snapshot")

    await donations_db.update_payment_state(
        conn,
        payment.id,
        {
            "status": snap.status.value,
            "provider_payment_id": payment.provider_payment_id or snap.payment_id,
            "refunded_minor": refunded,
            "disputed_minor": disputed,
            "fee_minor": snap.fee.minor if snap.fee is not None else payment.fee_minor,
            "method": snap.method or payment.method,
            "paid_at": snap.paid_at or payment.paid_at,
        },
    )
    for refund in snap.refunds:
        await donations_db.upsert_refund(
            conn, payment, refund.refund_id, refund.amount.minor, refund.status
        )
    for dispute in snap.disputes:
        await donations_db.upsert_dispute(
            conn, payment, dispute.dispute_id, dispute.amount.minor, dispute.status.value
        )

    # The gift counts for what the association keeps of it; refunds and disputes come out
    # of the gift (the tip and covered fees never counted towards the campaign).
    counted = counted_minor(
        PaymentFacts(
            status=snap.status.value,
            amount_minor=donation.amount_minor,
            refunded_minor=min(refunded, donation.amount_minor),
            disputed_minor=min(disputed, donation.amount_minor),
        )
    )
    tier_held = await _follow_tier_stock(conn, donation, new)
    if new == old and counted == donation.counted_minor and tier_held == donation.tier_held:
        return Applied(donation.id, old, new, False, "no change")

    await donations_db.set_donation_state(
        conn, donation.id, status=new.value, counted_minor=counted, tier_held=tier_held
    )
    await campaigns_db.add_to_totals(
        conn,
        donation.campaign_id,
        raised_delta=counted - donation.counted_minor,
        donors_delta=int(counted > 0) - int(donation.counted_minor > 0),
    )
    if new != old or counted != donation.counted_minor:
        # Receipts (issue, cancel, re-issue) and e-mails react to this row: a change of
        # status, or of what the gift keeps (a second partial refund keeps the status). No
        # dedup key: this runs once per change under the donation's row lock, and one
        # transition may legitimately happen twice (disputed, won, disputed again).
        await outbox.add(
            conn,
            "donation.status_changed",
            {"donation_id": str(donation.id), "from": old.value, "to": new.value},
            organization_id=donation.organization_id,
        )
    if new != old:
        await donations_db.add_history(
            conn,
            donation,
            old.value,
            new.value,
            source,
            provider_event_id=provider_event_id,
            detail={
                "payment_status": snap.status.value,
                "refunded_minor": refunded,
                "disputed_minor": disputed,
                "method": snap.method,
            },
        )
        if follow_plan and snap.sequence_type == "first":
            await outbox.add(
                conn,
                "recurring.activate",
                {"donation_id": str(donation.id)},
                organization_id=donation.organization_id,
                dedup_key=f"donation:{donation.id}:plan:{new.value}",
            )
    # Integrators' webhooks (donation.paid, .refunded, …), same transaction.
    await integrator_events.donation_changed(
        conn, donation.organization_id, donation.id, old_status=old.value, new_status=new.value,
        refunded_before=payment.refunded_minor, refunded=refunded,
    )  # fmt: skip
    return Applied(donation.id, old, new, True)


_FINAL_REFUND = {"succeeded", "failed", "canceled"}
_FINAL_DISPUTE = {"won", "lost"}


def _older_than_recorded(
    snap: PaymentSnapshot, refunds: dict[str, str], disputes: dict[str, str]
) -> bool:
    """Whether ``snap`` was fetched before a refund or dispute we recorded: providers never
    delete those, nor take a refund or dispute back out of its final state."""
    seen_refunds = {r.refund_id: r.status for r in snap.refunds}
    for refund_id, status in refunds.items():
        seen = seen_refunds.get(refund_id)
        if seen is None or (status in _FINAL_REFUND and seen not in _FINAL_REFUND):
            return True
    seen_disputes = {d.dispute_id: d.status.value for d in snap.disputes}
    for dispute_id, status in disputes.items():
        seen = seen_disputes.get(dispute_id)
        if seen is None or (status in _FINAL_DISPUTE and seen not in _FINAL_DISPUTE):
            return True
    return False


async def _follow_tier_stock(
    conn: Conn, donation: donations_db.DonationRow, new: DonationStatus
) -> bool:
    """Release the tier's unit when a gift fails; take it back if it is paid after all."""
    if donation.tier_id is None:
        return False
    wants = new in _HOLDS_TIER
    if wants and not donation.tier_held:
        # A late payment after expiry: the stock may have gone meanwhile; the gift stands.
        return await campaigns_db.claim_tier(conn, donation.organization_id, donation.tier_id)
    if not wants and donation.tier_held:
        await campaigns_db.release_tier(conn, donation.organization_id, donation.tier_id)
        return False
    return donation.tier_held


async def connected_account(
    conn: Conn, rt: Runtime, org_id: UUID, provider: str
) -> ConnectedAccount:
    """The association's account at ``provider``, credentials decrypted for this call only."""
    row = await orgs_db.get_provider_account(conn, org_id, provider)
    if row is None:
        raise LookupError(f"association has no connected {provider} account")
    token = rt.secrets.decrypt(row.credentials_encrypted) if row.credentials_encrypted else None
    return ConnectedAccount(provider=provider, account_id=row.account_id, access_token=token)


async def refresh_donation(rt: Runtime, donation_id: UUID, *, source: str) -> Applied:
    """Re-fetch a donation's payment from its provider and apply it (return URL, cron)."""
    async with rt.pool.acquire() as conn:
        donation = await donations_db.get_donation(conn, donation_id)
        if donation is None:
            return Applied(None, None, None, False, "unknown donation")
        payments = await donations_db.payments_of(conn, donation_id)
        account = await connected_account(conn, rt, donation.organization_id, donation.provider)
    changed: Applied = Applied(donation_id, donation.status, donation.status, False, "no payment")
    for payment in payments:
        ref = payment.checkout_id or payment.provider_payment_id
        if not ref:
            continue
        snap = await rt.provider(payment.provider).fetch_payment(account, ref)
        changed = await apply(rt, snap, source=source)
    return changed
