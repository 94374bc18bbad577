"""The outbox tasks of the payment flow, registered in ``TASKS``."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from donate.db import audit_log
from donate.jobs.tasks import task
from donate.services import checkout_guard, receipts, refunds
from donate.services.runtime import Runtime
from donate.webhooks import process, reconcile


@task("provider_event.process")
async def process_provider_event(rt: Runtime, payload: dict[str, Any]) -> None:
    """Re-fetch and apply the payment a stored webhook is about."""
    await process.handle(rt, payload)


@task("donation.refresh")
async def refresh_donation(rt: Runtime, payload: dict[str, Any]) -> None:
    """The checkout's expiry check: re-fetch, and cancel if the donor never paid."""
    await reconcile.refresh_or_expire(rt, UUID(payload["donation_id"]))


@task("refund.execute")
async def execute_refund(rt: Runtime, payload: dict[str, Any]) -> None:
    """Make a requested refund at the provider (idempotency key ``refund:{id}``)."""
    await refunds.execute_refund(rt, UUID(payload["refund_id"]))


@task("donation.status_changed")
async def donation_status_changed(rt: Runtime, payload: dict[str, Any]) -> None:
    """Record the change in the association's audit trail, then bring the gift's fiscal
    receipt in line with it (issue on a final success, cancel and re-issue when the amount
    changes: ``services.receipts.sync_donation``, idempotent). A failed payment also counts
    towards the card-testing defence (``services.checkout_guard``, idempotent too)."""
    if payload.get("to") == "failed":
        await checkout_guard.record_failed_payment(rt.settings, UUID(payload["donation_id"]))
    async with rt.pool.acquire() as conn:
        await audit_log.record_for_donation(
            conn, UUID(payload["donation_id"]), "donation.status_changed", payload
        )
    await receipts.sync_donation(rt, UUID(payload["donation_id"]))
