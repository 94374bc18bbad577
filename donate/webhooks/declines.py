"""Declined cards on an open Stripe Checkout, counted by the card-testing defence.

A declined card leaves a Stripe Checkout Session open (the donor may try another card), so
the donation stays pending and the defence's "payment failed" path never sees it. Each
decline is a ``payment_intent.payment_failed`` event instead, and each counts once towards
``services.checkout_guard``: keyed by the declined charge (the event id when the stored body
names none, as for events caught up by reconciliation, whose body is not kept). So many
cards tried on one session count many times, while a redelivered event (already dropped at
ingest, one row per event id) or a job run twice counts once.

Not counted here:
- a payment that failed for good (the re-fetched payment says failed: a SEPA debit returned
  after the session completed): its donation becomes failed and the status-change job counts
  it once per donation, as for Mollie, so counting the event too would count it twice;
- payments of a recurring plan (the caller leaves them to the plan's own path): renewals are
  charged off-session with no client at a checkout, and their failures have their own
  dunning. A plan's first payment counts like Mollie's, once its donation fails.

This runs inside the ``provider_event.process`` outbox job and changes nothing in the
database, so it needs no outbox row of its own: a job retried after a crash counts again,
idempotently, and a Redis outage loses the count, never the event.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from donate.db import events as events_db
from donate.db.events import StoredEvent
from donate.providers.base import PaymentSnapshot, PaymentStatus
from donate.providers.stripe_mapping import declined_charge
from donate.services import checkout_guard
from donate.services.runtime import Runtime

DECLINE_EVENT = "payment_intent.payment_failed"


def is_decline(event: StoredEvent) -> bool:
    return event.provider == "stripe" and event.event_type == DECLINE_EVENT


def _charge(raw: bytes | None) -> str | None:
    try:
        body: Any = json.loads(raw or b"{}")
    except ValueError:
        return None
    return declined_charge(body)


async def count(
    rt: Runtime, event: StoredEvent, snap: PaymentSnapshot, donation_id: UUID | None
) -> str:
    """Count the decline ``event`` reports on ``snap``'s checkout; says what happened."""
    if snap.status == PaymentStatus.FAILED:
        return "decline: final, counted with the failed donation"
    if donation_id is None or not rt.settings.checkout_rate_limits:
        return "decline: not counted"
    async with rt.pool.acquire() as conn:
        attempt = _charge(await events_db.payload(conn, event.id)) or event.event_id
    if await checkout_guard.record_failed_payment(rt.settings, donation_id, attempt):
        return f"decline {attempt} counted"
    return "decline: not a small checkout"
