"""Payout sync: fetch a connected account's payouts and their lines, store them once, and
match every line to our records.

Contract: idempotent (a payout synced twice is stored once, lines are unique per provider
line id, a match once made is kept); a line that cannot be matched is stored unmatched,
never dropped. A line whose payment we do not know yet (the payout came before the
payment's webhooks) is re-fetched from the provider and applied through the one
convergence point, then matched again. Provider errors raise: the outbox retries.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from donate.db import orgs as orgs_db
from donate.db import outbox
from donate.db import payouts as payouts_db
from donate.domain.payouts import classify
from donate.providers.base import (
    ConnectedAccount,
    Payout,
    PayoutLine,
    ProviderNotFound,
    ProviderRejected,
)
from donate.services import integrator_events, payments
from donate.services.runtime import Runtime

log = logging.getLogger(__name__)

TASK = "payouts.sync"
REFETCH_LIMIT = 200  # payments re-fetched per payout and sync, at most
LINES_BATCH = 1000  # payout lines stored per transaction


@dataclass(frozen=True, slots=True)
class SyncResult:
    payouts: int = 0
    lines: int = 0
    matched: int = 0
    unmatched: int = 0


async def request_sync(
    rt: Runtime,
    org_id: UUID,
    provider: str,
    *,
    dedup_key: str | None,
    payout_id: str | None = None,
) -> bool:
    """Write a ``payouts.sync`` outbox row for the association's account (once per key,
    when there is one; a sync is idempotent, so an extra one only costs provider calls)."""
    payload = {"organization_id": str(org_id), "provider": provider, "payout_id": payout_id}
    async with rt.pool.acquire() as conn, conn.transaction():
        row = await outbox.add(conn, TASK, payload, organization_id=org_id, dedup_key=dedup_key)
    return row is not None


async def request_daily_syncs(rt: Runtime, day: date) -> int:
    """The daily cron: one sync per connected account and day (a second run adds nothing)."""
    async with rt.pool.acquire() as conn:
        accounts = await orgs_db.all_active_provider_accounts(conn)
    added = 0
    for acct in accounts:
        if acct.provider not in rt.providers:
            continue
        key = f"{TASK}:{acct.provider}:{acct.account_id}:{day.isoformat()}"
        added += await request_sync(rt, acct.organization_id, acct.provider, dedup_key=key)
    return added


async def request_sync_now(rt: Runtime, org_id: UUID) -> int:
    """Sync every connected account of the association now (the back-office button)."""
    async with rt.pool.acquire() as conn:
        accounts = await orgs_db.list_provider_accounts(conn, org_id)
    added = 0
    for acct in accounts:
        if acct.provider in rt.providers:
            added += await request_sync(rt, org_id, acct.provider, dedup_key=None)
    return added


async def sync_account(
    rt: Runtime, org_id: UUID, provider: str, payout_id: str | None = None
) -> SyncResult:
    """Sync the recent payouts of the association's account at ``provider`` (with
    ``payout_id``: that one first, even when the listing no longer shows it)."""
    async with rt.pool.acquire() as conn:
        account = await payments.connected_account(conn, rt, org_id, provider)
    adapter = rt.provider(provider)
    listed = await adapter.list_payouts(account)
    if payout_id is not None and all(p.payout_id != payout_id for p in listed):
        log.warning("payout %s not in the recent payouts of %s", payout_id, account.account_id)
    total = SyncResult()
    for payout in listed:
        if payout.status in ("failed", "canceled") and payout_id != payout.payout_id:
            continue
        done = await sync_payout(rt, org_id, account, payout)
        total = SyncResult(
            total.payouts + 1,
            total.lines + done.lines,
            total.matched + done.matched,
            total.unmatched + done.unmatched,
        )
    return total


async def sync_payout(
    rt: Runtime, org_id: UUID, account: ConnectedAccount, payout: Payout
) -> SyncResult:
    """Store one payout and its lines, then match them (see the module docstring).

    Lines are fetched page by page and stored a batch per transaction, so a payout of
    100,000 lines syncs with flat memory and no long transaction; until the last batch is in,
    the payout shows ``synced_at`` empty (and its report's check, a difference)."""
    adapter = rt.provider(account.provider)
    async with rt.pool.acquire() as conn, conn.transaction():
        row = await payouts_db.upsert_payout(
            conn, org_id, account.provider, payout.payout_id, payout.amount.minor,
            payout.amount.currency, payout.status, payout.arrival_date,
        )  # fmt: skip
    if row.organization_id != org_id:
        log.error("payout %s belongs to another association", payout.payout_id)
        return SyncResult()
    stored = 0
    async for batch in adapter.iter_payout_lines(account, payout.payout_id, LINES_BATCH):
        values = [_values(account.provider, ln) for ln in batch]
        async with rt.pool.acquire() as conn, conn.transaction():
            await payouts_db.upsert_lines(conn, org_id, row.id, values)
        stored += len(values)
    async with rt.pool.acquire() as conn, conn.transaction():
        matched = await payouts_db.match_lines(conn, row.id)
        refs = await payouts_db.unmatched_payment_refs(conn, row.id, REFETCH_LIMIT)
    if refs:
        matched += await _refetch_and_match(rt, account, row.id, refs)
    async with rt.pool.acquire() as conn, conn.transaction():
        await payouts_db.mark_synced(conn, row.id)
        await integrator_events.payout_reconciled(conn, org_id, row.id)
        left = await payouts_db.unmatched_payment_refs(conn, row.id, REFETCH_LIMIT)
    if left:
        log.info("payout %s: %d payment(s) not ours", payout.payout_id, len(left))
    return SyncResult(1, stored, matched, len(left))


def _values(provider: str, ln: PayoutLine) -> payouts_db.LineValues:
    return payouts_db.LineValues(
        provider_line_id=ln.line_id,
        kind=classify(provider, ln.kind, ln.description),
        source_id=ln.source_id,
        payment_ref=ln.payment_ref,
        gross_minor=ln.gross.minor,
        fee_minor=ln.fee.minor,
        net_minor=ln.net.minor,
        currency=ln.net.currency,
        occurred_at=ln.created_at,
        description=ln.description[:500],
    )


async def _refetch_and_match(
    rt: Runtime, account: ConnectedAccount, payout_row: UUID, refs: list[str]
) -> int:
    adapter = rt.provider(account.provider)
    for ref in refs:
        try:
            snap = await adapter.fetch_payment(account, ref)
        except (ProviderNotFound, ProviderRejected):
            continue  # a charge made outside the platform, or gone: stays unmatched
        await payments.apply(rt, snap, source="reconcile")
    async with rt.pool.acquire() as conn, conn.transaction():
        return await payouts_db.match_lines(conn, payout_row)
