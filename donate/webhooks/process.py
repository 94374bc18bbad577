"""Processing a stored webhook: find whose payment it is, re-fetch it, apply it.

The event body is only a hint of *which* object changed; its state is always re-fetched
from the provider, so duplicates, replays and any order of arrival converge. Provider
outages raise, and the outbox retries with backoff (same idempotency keys, no duplicates).
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from donate.db import donations as donations_db
from donate.db import events as events_db
from donate.db import orgs as orgs_db
from donate.metrics import WEBHOOK_PROCESSING_DELAY
from donate.providers.base import ConnectedAccount, PaymentSnapshot, ProviderNotFound
from donate.providers.mollie_recurring import UPDATE_PURPOSE
from donate.services import payments, payouts, recurring, recurring_manage
from donate.services.runtime import Runtime
from donate.webhooks import declines

log = logging.getLogger(__name__)


def _uuid(text: str | None) -> UUID | None:
    try:
        return UUID(text) if text else None
    except ValueError:
        return None


async def process_event(rt: Runtime, event_row_id: int) -> str:
    """Handle one stored event; returns what happened (for logs and tests)."""
    async with rt.pool.acquire() as conn:
        event = await events_db.get(conn, event_row_id)
        if event is None or event.processed:
            return "already processed"
        refs = [r for r in (event.payment_ref, event.object_id) if r]
        payment = await donations_db.find_payment(
            conn, event.provider, refs=refs, donation_id=_uuid(event.donation_ref)
        )
        account: ConnectedAccount | None = None
        org_id: UUID | None = None
        if payment is not None:
            org_id = payment.organization_id
            account = await payments.connected_account(conn, rt, org_id, event.provider)
        elif event.account:
            # Stripe Connect events name the account; so do Mollie posts to a plan's URL.
            row = await orgs_db.find_provider_account(conn, event.provider, event.account)
            if row is not None:
                org_id = row.organization_id
                account = await payments.connected_account(conn, rt, org_id, event.provider)

    outcome = "ignored"
    ref = (payment.checkout_id or payment.provider_payment_id) if payment else event.payment_ref
    if event.event_type.startswith("payout.") and payment is None:
        if org_id is not None:
            # The payout's lines are fetched by the sync job (retried on its own).
            await payouts.request_sync(
                rt, org_id, event.provider,
                payout_id=event.object_id, dedup_key=f"{payouts.TASK}:{event.event_id}",
            )  # fmt: skip
            outcome = "payout sync requested"
        else:
            outcome = "not ours"
    elif account is not None and event.object_id.startswith("sub_"):
        # A subscription changed: its plan re-fetches it with all its payments.
        synced = await recurring.sync_subscription(
            rt, event.provider, event.object_id, donation_hint=event.donation_ref,
            source="webhook", provider_event_id=event.event_id,
        )  # fmt: skip
        outcome = synced.describe()
    elif account is not None and ref:
        try:
            snap = await rt.provider(event.provider).fetch_payment(account, ref)
        except ProviderNotFound:
            outcome = "unknown at provider"
        else:
            applied = await payments.apply(
                rt, snap, source="webhook", provider_event_id=event.event_id
            )
            outcome = (
                f"{applied.old_status}->{applied.new_status}" if applied.changed else applied.reason
            )
            if snap.subscription_id or snap.purpose:
                outcome += "; " + await _follow_plan(rt, snap, event.event_id)
            elif declines.is_decline(event):
                # A declined card on a one-off checkout: the donation stays pending (the
                # donor may try another card), yet the decline counts for card testing.
                donation_id = payment.donation_id if payment else _uuid(snap.donation_id)
                outcome += "; " + await declines.count(rt, event, snap, donation_id)
    elif account is None:
        # A Mollie id we never created, or an account that is not connected here: 200, no change.
        outcome = "not ours"
    async with rt.pool.acquire() as conn:
        delay = await events_db.mark_processed(conn, event_row_id, org_id)
    if delay is not None:
        WEBHOOK_PROCESSING_DELAY.labels(event.provider).observe(max(delay, 0.0))
    log.info("event %s %s (%s): %s", event.provider, event.event_id, event.event_type, outcome)
    return outcome


async def _follow_plan(rt: Runtime, snap: PaymentSnapshot, event_id: str) -> str:
    """A payment of a recurring plan (a renewal, or a payment-method change): converge it."""
    if snap.purpose == UPDATE_PURPOSE:
        return (await recurring_manage.complete_method_update(rt, snap)).describe()
    assert snap.subscription_id is not None
    synced = await recurring.sync_subscription(
        rt, snap.provider, snap.subscription_id, donation_hint=snap.donation_id,
        customer_hint=snap.customer_id, source="webhook", provider_event_id=event_id,
    )  # fmt: skip
    return synced.describe()


async def handle(rt: Runtime, payload: dict[str, Any]) -> None:
    await process_event(rt, int(payload["event_row_id"]))
