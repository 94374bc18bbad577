"""Payout sync: the outbox task (from the payout webhooks and the daily cron) and the cron."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from donate.jobs.tasks import task
from donate.services import payouts
from donate.services.runtime import Runtime


@task(payouts.TASK)
async def sync_payouts(rt: Runtime, payload: dict[str, Any]) -> None:
    """Fetch, store and match the account's payouts (idempotent: stored once, matched once)."""
    await payouts.sync_account(
        rt, UUID(payload["organization_id"]), payload["provider"], payload.get("payout_id")
    )


async def daily_sync(ctx: dict[str, Any]) -> int:
    """arq cron: one ``payouts.sync`` outbox row per connected account and day."""
    rt: Runtime = ctx["runtime"]
    return await payouts.request_daily_syncs(rt, datetime.now(UTC).date())
