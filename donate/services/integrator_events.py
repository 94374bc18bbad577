"""Events for integrators' webhooks, emitted inside the transaction that changes the state.

Contract:
- ``emit`` writes, in the caller's transaction, one ``webhook_deliveries`` row per enabled
  endpoint of the association subscribed to the type, and one outbox row per delivery
  (task ``integrator.deliver``). The recipients are fixed when the event happens: an
  endpoint added later does not receive older events, and each endpoint has its own retry
  schedule, so a slow or dead endpoint never delays another.
- Event ids derive from the association and a key naming the change: emitting one key twice
  delivers it once per endpoint (receipts, payouts). A donation's change gets a key of its
  own each time (``donation_changed``). Retries and replays of a delivery keep its event id,
  which is what receivers deduplicate on.
- With no subscribed endpoint, nothing is written and the payload is never built: the
  payment path pays one indexed lookup.
- The payload is the envelope ``{id, type, api_version, created_at, organization, data}``
  (docs/webhooks.md); ``data`` uses the field names of the association API.

To add an event type: add it to ``EVENT_TYPES`` and call ``emit`` where the change happens.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from donate.db import outbox, webhook_payloads
from donate.db import payout_reports as reports_db
from donate.db import webhook_deliveries as deliveries_db
from donate.db import webhook_endpoints as endpoints_db
from donate.db.types import Conn

# type → what it means (shown to integrators in the back-office and in the docs).
EVENT_TYPES: dict[str, str] = {
    "donation.paid": "A gift was paid (or paid again after a dispute was won).",
    "donation.failed": "A payment failed.",
    "donation.canceled": "A checkout was abandoned, expired or canceled.",
    "donation.refunded": "All or part of a gift was refunded (data.status tells which).",
    "donation.disputed": "The payer's bank opened a dispute (chargeback).",
    "receipt.issued": "A fiscal receipt was issued (new, or replacing a canceled one).",
    "receipt.canceled": "A fiscal receipt was canceled (refund, dispute, amount changed).",
    "payout.reconciled": "A payout was synced and its movements matched to the gifts.",
}
# Sent only by "send a test event"; endpoints cannot subscribe to it.
TEST_EVENT = "webhook.test"
TASK = "integrator.deliver"
API_VERSION = "1"

# Donation status reached → event type.
_DONATION_EVENTS = {
    "paid": "donation.paid",
    "failed": "donation.failed",
    "canceled": "donation.canceled",
    "refunded": "donation.refunded",
    "partially_refunded": "donation.refunded",
    "disputed": "donation.disputed",
}

DataSource = Callable[[], Awaitable[dict[str, Any] | None]]


def event_id(org_id: UUID, event_type: str, key: str) -> str:
    """``evt_`` + 32 hex digits, the same for the same association, type and key."""
    return "evt_" + uuid.uuid5(org_id, f"{event_type}:{key}").hex


def envelope(
    evt_id: str, event_type: str, organization: dict[str, Any], data: dict[str, Any]
) -> dict[str, Any]:
    created = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {
        "id": evt_id,
        "object": "event",
        "type": event_type,
        "api_version": API_VERSION,
        "created_at": created,
        "organization": organization,
        "data": data,
    }


async def emit(
    conn: Conn,
    org_id: UUID,
    event_type: str,
    data: dict[str, Any] | DataSource,
    *,
    key: str,
    endpoint_ids: list[UUID] | None = None,
) -> list[UUID]:
    """Queue ``event_type`` for the association's subscribed endpoints (or exactly
    ``endpoint_ids``), in the caller's transaction. ``data`` may be a coroutine function,
    called only when someone listens. Returns the delivery ids written."""
    if event_type not in EVENT_TYPES and event_type != TEST_EVENT:
        raise ValueError(f"unknown integrator event type {event_type!r}")
    targets = (
        endpoint_ids
        if endpoint_ids is not None
        else await endpoints_db.subscribed(conn, org_id, event_type)
    )
    if not targets:
        return []
    body = data if isinstance(data, dict) else await data()
    if body is None:
        return []
    evt = event_id(org_id, event_type, key)
    payload = envelope(evt, event_type, await webhook_payloads.organization(conn, org_id), body)
    ids = await deliveries_db.insert_for_endpoints(conn, org_id, targets, evt, event_type, payload)
    for delivery_id in ids:
        await queue_attempt(conn, org_id, delivery_id, attempt=1, delay_s=0)
    return ids


async def queue_attempt(
    conn: Conn, org_id: UUID, delivery_id: UUID, *, attempt: int, delay_s: float
) -> None:
    """The outbox row of one attempt (once per attempt number)."""
    await outbox.add(
        conn,
        TASK,
        {"delivery_id": str(delivery_id), "attempt": attempt},
        organization_id=org_id,
        dedup_key=f"{TASK}:{delivery_id}:{attempt}",
        delay_s=delay_s,
    )


# The hooks the state-changing services call --------------------------------------------


async def donation_changed(
    conn: Conn,
    org_id: UUID,
    donation_id: UUID,
    *,
    old_status: str,
    new_status: str,
    refunded_before: int,
    refunded: int,
) -> None:
    """From ``services.payments.apply``: a status change, or a further partial refund."""
    if new_status != old_status:
        event_type = _DONATION_EVENTS.get(new_status)
    elif refunded != refunded_before and new_status in ("refunded", "partially_refunded"):
        event_type = "donation.refunded"
    else:
        event_type = None
    if event_type is None:
        return

    async def data() -> dict[str, Any] | None:
        found = await webhook_payloads.donation(conn, org_id, donation_id)
        if found is not None:
            found["previous_status"] = old_status
        return found

    # A new event per change, never a key naming the transition: one transition may
    # legitimately happen twice (disputed, won, disputed again). ``payments.apply_in`` calls
    # this once per change, under the donation's row lock, and returns before it when a
    # snapshot changes nothing (a duplicated provider webhook): no change, no event.
    await emit(conn, org_id, event_type, data, key=f"{donation_id}:{uuid.uuid4()}")


async def receipt_issued(conn: Conn, org_id: UUID, receipt_id: UUID) -> None:
    """From ``services.receipts.issue``, once the receipt row exists."""
    await emit(
        conn, org_id, "receipt.issued",
        lambda: webhook_payloads.receipt(conn, org_id, receipt_id), key=str(receipt_id),
    )  # fmt: skip


async def receipt_canceled(conn: Conn, org_id: UUID, receipt_id: UUID) -> None:
    """From ``services.receipts.cancel_and_replace``, once the receipt is canceled."""
    await emit(
        conn, org_id, "receipt.canceled",
        lambda: webhook_payloads.receipt(conn, org_id, receipt_id), key=str(receipt_id),
    )  # fmt: skip


async def payout_reconciled(conn: Conn, org_id: UUID, payout_id: UUID) -> None:
    """From ``services.payouts.sync_payout``, after its lines are matched. Sent again only
    when the payout's reconciliation changes (status, lines, unmatched lines, net sum)."""
    if not await endpoints_db.subscribed(conn, org_id, "payout.reconciled"):
        return
    headers = await reports_db.payout_headers(conn, org_id, payout_id=payout_id)
    if not headers:
        return
    h = headers[0]
    data: dict[str, Any] = {
        "id": h.id,
        "provider": h.provider,
        "provider_payout_id": h.provider_payout_id,
        "amount_minor": h.amount_minor,
        "currency": h.currency,
        "arrival_date": h.arrival_date.isoformat() if h.arrival_date else None,
        "status": h.status,
        "lines_count": h.lines_count,
        "unmatched_count": h.unmatched_count,
        "net_sum_minor": h.net_sum_minor,
        "difference_minor": h.difference_minor,
        "balanced": h.balanced,
    }
    key = f"{payout_id}:{h.status}:{h.lines_count}:{h.unmatched_count}:{h.net_sum_minor}"
    await emit(conn, org_id, "payout.reconciled", data, key=key)
