"""Recurring plans, their status history, and the renewal donations attached to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from donate.db.types import Conn

PLAN_STATUSES = ("pending", "active", "failing", "lapsed", "paused", "canceled")
ENDED = frozenset({"canceled", "lapsed"})


@dataclass(frozen=True, slots=True)
class PlanRow:
    id: UUID
    organization_id: UUID
    campaign_id: UUID
    donor_id: UUID
    first_donation_id: UUID
    provider: str
    provider_account_id: str
    provider_subscription_id: str | None
    provider_customer_id: str | None
    amount_minor: int
    tip_minor: int
    fee_cover_minor: int
    currency: str
    frequency: str
    status: str
    failure_count: int
    next_charge_date: date | None
    next_retry_at: datetime | None
    method_kind: str | None
    card_brand: str | None
    card_last4: str | None
    card_exp_month: int | None
    card_exp_year: int | None
    mandate_id: str | None
    mandate_reference: str | None
    wants_receipt: bool
    locale: str
    ended_at: datetime | None
    ended_by: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def charged_minor(self) -> int:
        """What the payer is charged each cycle."""
        return self.amount_minor + self.tip_minor + self.fee_cover_minor

    @property
    def ended(self) -> bool:
        return self.status in ENDED


def _plan(r: asyncpg.Record) -> PlanRow:
    return PlanRow(**{f: r[f] for f in PlanRow.__dataclass_fields__})


async def insert_plan(conn: Conn, values: dict[str, Any]) -> PlanRow:
    cols = list(values)
    row = await conn.fetchrow(
        f"""INSERT INTO recurring_plans ({", ".join(cols)})
            VALUES ({", ".join(f"${i}" for i in range(1, len(cols) + 1))}) RETURNING *""",
        *values.values(),
    )
    assert row is not None
    return _plan(row)


async def get_plan(
    conn: Conn, plan_id: UUID, *, org_id: UUID | None = None, for_update: bool = False
) -> PlanRow | None:
    row = await conn.fetchrow(
        "SELECT * FROM recurring_plans WHERE id = $1 AND ($2::uuid IS NULL OR organization_id = $2)"
        + (" FOR UPDATE" if for_update else ""),
        plan_id,
        org_id,
    )
    return _plan(row) if row else None


async def find_plan(
    conn: Conn,
    provider: str | None,
    *,
    subscription_id: str | None = None,
    first_donation_id: UUID | None = None,
    customer_id: str | None = None,
) -> PlanRow | None:
    """The plan a provider object is about: by subscription, else by the donation that
    started it (the subscription's metadata), else by customer (Mollie: one per plan)."""
    row = None
    if subscription_id:
        row = await conn.fetchrow(
            "SELECT * FROM recurring_plans WHERE provider = $1 AND provider_subscription_id = $2",
            provider,
            subscription_id,
        )
    if row is None and first_donation_id is not None:
        row = await conn.fetchrow(
            "SELECT * FROM recurring_plans WHERE ($1::text IS NULL OR provider = $1) "
            "AND first_donation_id = $2",
            provider,
            first_donation_id,
        )
    if row is None and customer_id:
        row = await conn.fetchrow(
            "SELECT * FROM recurring_plans WHERE provider = $1 AND provider_customer_id = $2 "
            "ORDER BY created_at DESC LIMIT 1",
            provider,
            customer_id,
        )
    return _plan(row) if row else None


async def update_plan(conn: Conn, plan_id: UUID, values: dict[str, Any]) -> None:
    if not values:
        return
    cols = list(values)
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(cols, start=2))
    await conn.execute(
        f"UPDATE recurring_plans SET {sets}, updated_at = now() WHERE id = $1",
        plan_id,
        *values.values(),
    )


async def add_history(
    conn: Conn,
    plan: PlanRow,
    from_status: str | None,
    to_status: str,
    source: str,
    *,
    provider_event_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO recurring_plan_history (organization_id, plan_id, from_status, to_status,
               source, provider_event_id, detail)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        plan.organization_id,
        plan.id,
        from_status,
        to_status,
        source,
        provider_event_id,
        detail or {},
    )


async def history(conn: Conn, plan_id: UUID) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            """SELECT at, from_status, to_status, source, detail
               FROM recurring_plan_history WHERE plan_id = $1 ORDER BY id""",
            plan_id,
        )
    )


async def link_donation(conn: Conn, donation_id: UUID, plan_id: UUID) -> None:
    await conn.execute(
        "UPDATE donations SET recurring_plan_id = $2 WHERE id = $1", donation_id, plan_id
    )


async def find_cycle(
    conn: Conn, provider: str, payment_id: str | None, invoice_id: str | None
) -> UUID | None:
    """The donation already recording this renewal (by its payment, or its Stripe invoice)."""
    found: UUID | None = await conn.fetchval(
        """SELECT donation_id FROM payments WHERE provider = $1
             AND (provider_payment_id = $2 OR provider_invoice_id = $3) LIMIT 1""",
        provider,
        payment_id,
        invoice_id,
    )
    return found


async def insert_cycle_payment(
    conn: Conn,
    donation_id: UUID,
    org_id: UUID,
    provider: str,
    account_id: str,
    amount_minor: int,
    currency: str,
    payment_id: str,
    invoice_id: str | None,
) -> None:
    await conn.execute(
        """INSERT INTO payments (organization_id, donation_id, provider, provider_account_id,
               provider_payment_id, provider_invoice_id, amount_minor, currency)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        org_id,
        donation_id,
        provider,
        account_id,
        payment_id,
        invoice_id,
        amount_minor,
        currency,
    )


async def cycles(conn: Conn, plan_id: UUID) -> list[asyncpg.Record]:
    """The plan's donations (first and renewals), oldest first, with their payment."""
    return list(
        await conn.fetch(
            """SELECT d.id, d.status, d.amount_minor, d.counted_minor, d.currency, d.created_at,
                      p.provider_payment_id, p.provider_invoice_id, p.paid_at
               FROM donations d
               LEFT JOIN LATERAL (SELECT provider_payment_id, provider_invoice_id, paid_at
                                  FROM payments WHERE donation_id = d.id
                                  ORDER BY created_at LIMIT 1) p ON true
               WHERE d.recurring_plan_id = $1 ORDER BY d.created_at, d.id""",
            plan_id,
        )
    )


async def list_plans(
    conn: Conn,
    org_id: UUID,
    *,
    status: str | None,
    limit: int,
    before: tuple[datetime, UUID] | None,
) -> list[PlanRow]:
    rows = await conn.fetch(
        """SELECT * FROM recurring_plans WHERE organization_id = $1
             AND ($2::text IS NULL OR status = $2)
             AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
           ORDER BY created_at DESC, id DESC LIMIT $5""",
        org_id,
        status,
        before[0] if before else None,
        before[1] if before else None,
        limit,
    )
    return [_plan(r) for r in rows]


async def status_counts(conn: Conn, org_id: UUID) -> list[asyncpg.Record]:
    """Per status and currency: plans, and the monthly value of what they collect."""
    return list(
        await conn.fetch(
            """SELECT status, currency, count(*) AS n,
                      sum(CASE WHEN frequency = 'monthly' THEN amount_minor
                               ELSE amount_minor / 12 END)::bigint AS monthly_minor
               FROM recurring_plans WHERE organization_id = $1
               GROUP BY status, currency ORDER BY status, currency""",
            org_id,
        )
    )


async def due_for_sync(conn: Conn, *, older_than_s: float, limit: int) -> list[PlanRow]:
    """Live plans not looked at for a while, or whose charge date has passed: Mollie sends
    no webhook when a subscription is canceled in its dashboard, and webhooks get lost."""
    rows = await conn.fetch(
        """SELECT * FROM recurring_plans
           WHERE provider_subscription_id IS NOT NULL AND status IN ('active', 'failing', 'paused')
             AND (synced_at IS NULL OR synced_at < now() - make_interval(secs => $1)
                  OR next_charge_date < current_date)
           ORDER BY synced_at NULLS FIRST LIMIT $2""",
        float(older_than_s),
        limit,
    )
    return [_plan(r) for r in rows]


async def claim_notice(conn: Conn, plan: PlanRow, kind: str, cycle_key: str) -> bool:
    """Record that this notice is due; False when it was already recorded (sent once)."""
    row = await conn.fetchval(
        """INSERT INTO recurring_notices (organization_id, plan_id, kind, cycle_key)
           VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING 1""",
        plan.organization_id,
        plan.id,
        kind,
        cycle_key,
    )
    return row is not None


async def notice_status(conn: Conn, plan_id: UUID, kind: str, cycle_key: str) -> str | None:
    status: str | None = await conn.fetchval(
        "SELECT status FROM recurring_notices WHERE plan_id = $1 AND kind = $2 AND cycle_key = $3",
        plan_id,
        kind,
        cycle_key,
    )
    return status


async def mark_notice(conn: Conn, plan_id: UUID, kind: str, cycle_key: str, status: str) -> None:
    await conn.execute(
        """UPDATE recurring_notices SET status = $4,
               sent_at = CASE WHEN $4 = 'sent' THEN now() ELSE sent_at END
           WHERE plan_id = $1 AND kind = $2 AND cycle_key = $3""",
        plan_id,
        kind,
        cycle_key,
        status,
    )


async def sepa_debits_between(conn: Conn, start: date, end: date) -> list[PlanRow]:
    """Live SEPA plans whose next debit falls in [start, end]."""
    rows = await conn.fetch(
        """SELECT * FROM recurring_plans
           WHERE status IN ('active', 'failing') AND method_kind = 'sepa_debit'
             AND next_charge_date BETWEEN $1 AND $2""",
        start,
        end,
    )
    return [_plan(r) for r in rows]


async def cards_expiring(conn: Conn, year: int, month: int) -> list[PlanRow]:
    """Live card plans whose card expires at the end of ``month``/``year``."""
    rows = await conn.fetch(
        """SELECT * FROM recurring_plans
           WHERE status IN ('active', 'failing', 'paused') AND method_kind = 'card'
             AND card_exp_year = $1 AND card_exp_month = $2""",
        year,
        month,
    )
    return [_plan(r) for r in rows]


async def abandon_unstarted(conn: Conn, first_donation_id: UUID) -> None:
    """The first checkout of a plan expired unpaid: the plan never started, so it ends
    ``canceled`` (with history) instead of staying ``pending`` forever."""
    row = await conn.fetchrow(
        """UPDATE recurring_plans SET status = 'canceled', ended_at = now(), updated_at = now()
           WHERE first_donation_id = $1 AND status = 'pending'
             AND provider_subscription_id IS NULL
           RETURNING *""",
        first_donation_id,
    )
    if row is not None:
        await add_history(
            conn, _plan(row), "pending", "canceled", "reconcile",
            detail={"reason": "first checkout expired unpaid"},
        )  # fmt: skip
