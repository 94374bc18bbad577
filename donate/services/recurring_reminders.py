"""The crons of recurring gifts: catching up on plans, SEPA pre-notifications, card expiry.

Each reminder is claimed once in ``recurring_notices`` (plan, kind, cycle) in the same
transaction as its outbox row, so running a cron twice, or on two workers, mails once:
a SEPA pre-notification once per debit date, a card reminder once per card expiry.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from donate.db import outbox
from donate.db import recurring as recurring_db
from donate.receipts.numbering import local_date_of
from donate.services.recurring import NOTICE_TASK
from donate.services.runtime import Runtime

SYNC_AFTER_S = 24 * 3600
SEPA_NOTICE_DAYS = 5  # pre-notification at least this many days ahead of the debit
SYNC_BATCH = 200


async def queue_stale_syncs(rt: Runtime, *, older_than_s: float = SYNC_AFTER_S) -> int:
    """Queue a sync of the live plans not looked at for a while (missed webhooks, Mollie
    dashboard cancellations which send none)."""
    queued = 0
    async with rt.pool.acquire() as conn:
        plans = await recurring_db.due_for_sync(conn, older_than_s=older_than_s, limit=SYNC_BATCH)
        hour = datetime.now(UTC).strftime("%Y%m%d%H")
        for plan in plans:
            queued += (
                await outbox.add(
                    conn,
                    "recurring.sync",
                    {"plan_id": str(plan.id)},
                    organization_id=plan.organization_id,
                    dedup_key=f"plan:{plan.id}:sync:{hour}",
                )
                is not None
            )
    return queued


def _next_month(today: date) -> tuple[int, int]:
    return (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)


async def queue_reminders(rt: Runtime, *, now: datetime | None = None) -> dict[str, int]:
    """SEPA debits due within ``SEPA_NOTICE_DAYS``, and cards that expire at the end of next
    month (a month's notice before the last payment they can make)."""
    today = local_date_of(now or datetime.now(UTC))
    counts = {"sepa_prenotice": 0, "card_expiry": 0}
    async with rt.pool.acquire() as conn:
        debits = await recurring_db.sepa_debits_between(
            conn, today, today + timedelta(days=SEPA_NOTICE_DAYS)
        )
        year, month = _next_month(today)
        cards = await recurring_db.cards_expiring(conn, year, month)
        due = [(p, "sepa_prenotice", str(p.next_charge_date)) for p in debits]
        due += [(p, "card_expiry", f"{p.card_last4}:{year}-{month:02d}") for p in cards]
        for plan, kind, key in due:
            async with conn.transaction():
                if await recurring_db.claim_notice(conn, plan, kind, key):
                    await outbox.add(
                        conn,
                        NOTICE_TASK,
                        {"plan_id": str(plan.id), "kind": kind, "cycle_key": key},
                        organization_id=plan.organization_id,
                        dedup_key=f"plan:{plan.id}:notice:{kind}:{key}",
                    )
                    counts[kind] += 1
    return counts
