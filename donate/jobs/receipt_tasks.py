"""Outbox tasks of the fiscal receipts: e-mails to donors and annual runs."""

from __future__ import annotations

import logging
import time
from typing import Any
from uuid import UUID

from donate.db import outbox
from donate.jobs.tasks import task
from donate.services import receipt_mail, receipts_annual, receipts_batch
from donate.services.runtime import Runtime

log = logging.getLogger(__name__)

# Donors per annual job: each job stays well inside the worker's job timeout, and queues
# the next slice of donors itself.
ANNUAL_SLICE = 500
# Seconds of batch issuing per job, well inside the worker's job timeout (120 s); the job
# then queues its own continuation from where it stopped.
ISSUE_BUDGET_S = 30.0


@task("receipt.email")
async def email_receipt(rt: Runtime, payload: dict[str, Any]) -> None:
    """Send the receipt (or cancellation notice) to the donor; raises to be retried."""
    await receipt_mail.send(rt, UUID(payload["receipt_id"]), payload["kind"])


@task("receipts.annual")
async def annual_receipts(rt: Runtime, payload: dict[str, Any]) -> None:
    """Issue one slice of an association's annual receipts, then queue the next slice."""
    org_id = UUID(payload["organization_id"])
    year = int(payload["year"])
    after = UUID(payload["after"]) if payload.get("after") else None
    run = await receipts_annual.issue_annual(rt, org_id, year, after=after, max_donors=ANNUAL_SLICE)
    log.info("annual receipts %s for %s: %s issued", year, org_id, run.issued)
    if run.more and run.last_donor is not None:
        async with rt.pool.acquire() as conn:
            await outbox.add(
                conn,
                "receipts.annual",
                {**payload, "after": str(run.last_donor)},
                organization_id=org_id,
                dedup_key=f"receipts:annual:{org_id}:{year}:after:{run.last_donor}",
            )


@task("receipt.email_batch")
async def email_receipts(rt: Runtime, payload: dict[str, Any]) -> None:
    """Send a batch's receipts over one SMTP session; raises to be retried (sent ones stay sent)."""
    ids = [UUID(x) for x in payload["receipt_ids"]]
    await receipt_mail.send_many(rt, ids, payload["kind"])


@task("receipts.issue_pending")
async def issue_pending_receipts(rt: Runtime, payload: dict[str, Any]) -> None:
    """Issue the association's pending per-gift receipts batch after batch (each batch one
    transaction); after ISSUE_BUDGET_S, queue the rest as a new row and return."""
    org_id = UUID(payload["organization_id"])
    after = UUID(payload["after"]) if payload.get("after") else None
    deadline = time.monotonic() + ISSUE_BUDGET_S
    issued = 0
    while True:
        run = await receipts_batch.issue_pending(rt, org_id, after=after)
        issued += run.issued
        if not run.more or run.last is None:
            log.info("pending receipts of %s: %s issued, none left", org_id, issued)
            return
        after = run.last
        if time.monotonic() > deadline:
            break
    log.info("pending receipts of %s: %s issued, more after %s", org_id, issued, after)
    await receipts_batch.queue(rt, org_id, after=after)
