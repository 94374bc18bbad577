"""Catching up on what webhooks missed: the reconciliation cron and the expiry check."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from uuid import UUID

from donate.db import campaigns as campaigns_db
from donate.db import donations as donations_db
from donate.db import orgs as orgs_db
from donate.db import recurring as recurring_db
from donate.providers.base import ConnectedAccount, ProviderError
from donate.services import payments
from donate.services.runtime import Runtime
from donate.webhooks.ingest import store_notice

log = logging.getLogger(__name__)

STALE_PENDING_S = 600


async def refresh_or_expire(rt: Runtime, donation_id: UUID, *, now: datetime | None = None) -> str:
    """Re-fetch the donation's payment; if the checkout is still open past its expiry, the
    donor walked away: cancel it (a later payment would still converge it to paid)."""
    now = now or datetime.now(UTC)
    applied = await payments.refresh_donation(rt, donation_id, source="reconcile")
    async with rt.pool.acquire() as conn, conn.transaction():
        donation = await donations_db.get_donation(conn, donation_id, for_update=True)
        if donation is None or donation.status != "pending" or donation.expires_at > now:
            return applied.new_status or "unknown"
        payments_rows = await donations_db.payments_of(conn, donation_id)
        if any(p.status == "pending" for p in payments_rows):
            return "pending"  # SEPA and the like: the result is on its way, keep waiting
        if donation.tier_held and donation.tier_id is not None:
            await campaigns_db.release_tier(conn, donation.organization_id, donation.tier_id)
        await donations_db.set_donation_state(
            conn, donation.id, status="canceled", counted_minor=0, tier_held=False
        )
        await donations_db.add_history(conn, donation, "pending", "canceled", "expiry")
        await recurring_db.abandon_unstarted(conn, donation.id)
    return "canceled"


async def reconcile(rt: Runtime) -> dict[str, int]:
    """Re-fetch pending donations not heard of for a while, and re-ingest the Stripe
    events whose delivery failed. Provider errors are logged; the next run tries again."""
    counts = {"refreshed": 0, "events": 0, "errors": 0}
    async with rt.pool.acquire() as conn:
        stale = await donations_db.stale_pending(conn, STALE_PENDING_S)
        accounts = await orgs_db.all_active_provider_accounts(conn)
    for donation in stale:
        try:
            await refresh_or_expire(rt, donation.id)
            counts["refreshed"] += 1
        except (ProviderError, LookupError) as exc:
            counts["errors"] += 1
            log.warning("reconcile: donation %s: %s", donation.id, exc)
    if "stripe" in rt.providers:
        for acct in accounts:
            if acct.provider != "stripe":
                continue
            try:
                notices = await rt.provider("stripe").list_pending_event_refs(
                    ConnectedAccount("stripe", acct.account_id)
                )
            except ProviderError as exc:
                counts["errors"] += 1
                log.warning("reconcile: events of %s: %s", acct.account_id, exc)
                continue
            for notice in notices:
                ingested = await store_notice(rt, notice, b"{}")
                counts["events"] += int(not ingested.duplicate)
    return counts
