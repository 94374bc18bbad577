"""Outbox tasks of the fiscal receipts: e-mails to donors and annual runs."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from donate.db import outbox
from donate.jobs.tasks import task
from donate.services import receipt_mail, receipts_annual
from donate.services.runtime import Runtime

log = logging.getLogger(__name__)

# Donors per annual job: each job stays well inside the worker's job timeout, and queues
# the next slice of donors itself.
ANNUAL_SLICE = 500


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
