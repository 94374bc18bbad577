"""Payouts and their lines as synced from the providers, and matching lines to our records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from donate.db.types import Conn


@dataclass(frozen=True, slots=True)
class PayoutRow:
    id: UUID
    organization_id: UUID
    provider: str
    provider_payout_id: str
    amount_minor: int
    currency: str
    status: str
    arrival_date: date | None
    created_at: datetime
    synced_at: datetime | None


@dataclass(frozen=True, slots=True)
class LineValues:
    provider_line_id: str
    kind: str
    source_id: str | None
    payment_ref: str | None
    gross_minor: int
    fee_minor: int
    net_minor: int
    currency: str
    occurred_at: datetime | None
    description: str


def _payout(r: Any) -> PayoutRow:
    return PayoutRow(
        r["id"], r["organization_id"], r["provider"], r["provider_payout_id"], r["amount_minor"],
        r["currency"], r["status"], r["arrival_date"], r["created_at"], r["synced_at"],
    )  # fmt: skip


async def upsert_payout(
    conn: Conn,
    org_id: UUID,
    provider: str,
    provider_payout_id: str,
    amount_minor: int,
    currency: str,
    status: str,
    arrival_date: date | None,
) -> PayoutRow:
    """One row per provider payout, whoever syncs it and however often. A payout id that
    belongs to another association is never taken over (the row is returned unchanged)."""
    row = await conn.fetchrow(
        """INSERT INTO payouts (organization_id, provider, provider_payout_id, amount_minor,
                                currency, status, arrival_date)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (provider, provider_payout_id) DO UPDATE SET
               amount_minor = EXCLUDED.amount_minor, status = EXCLUDED.status,
               arrival_date = EXCLUDED.arrival_date
           WHERE payouts.organization_id = EXCLUDED.organization_id
           RETURNING *""",
        org_id, provider, provider_payout_id, amount_minor, currency, status, arrival_date,
    )  # fmt: skip
    if row is None:
        row = await conn.fetchrow(
            "SELECT * FROM payouts WHERE provider = $1 AND provider_payout_id = $2",
            provider,
            provider_payout_id,
        )
    assert row is not None
    return _payout(row)


async def get_payout_row(conn: Conn, org_id: UUID, payout_id: UUID) -> PayoutRow | None:
    row = await conn.fetchrow(
        "SELECT * FROM payouts WHERE organization_id = $1 AND id = $2", org_id, payout_id
    )
    return _payout(row) if row else None


async def find_payout(
    conn: Conn, org_id: UUID, provider: str, provider_payout_id: str
) -> PayoutRow | None:
    row = await conn.fetchrow(
        """SELECT * FROM payouts
           WHERE organization_id = $1 AND provider = $2 AND provider_payout_id = $3""",
        org_id,
        provider,
        provider_payout_id,
    )
    return _payout(row) if row else None


async def upsert_lines(
    conn: Conn, org_id: UUID, payout_id: UUID, lines: Sequence[LineValues]
) -> None:
    """Lines are unique per (payout, provider line id): a re-sync refreshes them and keeps
    the match already made."""
    await conn.executemany(
        """INSERT INTO payout_lines (organization_id, payout_id, provider_line_id, kind,
               source_id, payment_ref, gross_minor, fee_minor, net_minor, currency, occurred_at,
               description)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT (payout_id, provider_line_id) DO UPDATE SET
               kind = EXCLUDED.kind, source_id = EXCLUDED.source_id,
               payment_ref = coalesce(EXCLUDED.payment_ref, payout_lines.payment_ref),
               gross_minor = EXCLUDED.gross_minor, fee_minor = EXCLUDED.fee_minor,
               net_minor = EXCLUDED.net_minor, occurred_at = EXCLUDED.occurred_at,
               description = EXCLUDED.description""",
        [_line_args(org_id, payout_id, ln) for ln in lines],
    )


def _line_args(org_id: UUID, payout_id: UUID, ln: LineValues) -> tuple[Any, ...]:
    return (
        org_id, payout_id, ln.provider_line_id, ln.kind, ln.source_id, ln.payment_ref,
        ln.gross_minor, ln.fee_minor, ln.net_minor, ln.currency, ln.occurred_at, ln.description,
    )  # fmt: skip


async def mark_synced(conn: Conn, payout_id: UUID) -> None:
    await conn.execute("UPDATE payouts SET synced_at = now() WHERE id = $1", payout_id)


async def match_lines(conn: Conn, payout_id: UUID) -> int:
    """Attach unmatched lines to their donation, through our own records of the same
    association and provider: refund id, dispute id, then payment/checkout id. Returns how
    many lines were matched now."""
    status = await conn.execute(
        """UPDATE payout_lines pl SET donation_id = m.donation_id
           FROM (
               SELECT l.id, coalesce(
                   (SELECT r.donation_id FROM refunds r
                     WHERE r.organization_id = l.organization_id AND r.provider = po.provider
                       AND r.provider_refund_id = l.source_id),
                   (SELECT d.donation_id FROM disputes d
                     WHERE d.organization_id = l.organization_id AND d.provider = po.provider
                       AND d.provider_dispute_id = l.source_id),
                   (SELECT p.donation_id FROM payments p
                     WHERE p.organization_id = l.organization_id AND p.provider = po.provider
                       AND (p.provider_payment_id IN (l.payment_ref, l.source_id)
                            OR p.checkout_id IN (l.payment_ref, l.source_id))
                     LIMIT 1)
               ) AS donation_id
               FROM payout_lines l JOIN payouts po ON po.id = l.payout_id
               WHERE l.payout_id = $1 AND l.donation_id IS NULL
                 AND l.kind IN ('payment', 'refund', 'dispute', 'adjustment')
           ) m
           WHERE pl.id = m.id AND m.donation_id IS NOT NULL""",
        payout_id,
    )
    return int(status.split()[-1])


async def unmatched_payment_refs(conn: Conn, payout_id: UUID, limit: int) -> list[str]:
    """Payment references of lines still unmatched: worth a re-fetch from the provider (the
    payout may have come before the payment's own webhooks)."""
    rows = await conn.fetch(
        """SELECT DISTINCT payment_ref FROM payout_lines
           WHERE payout_id = $1 AND donation_id IS NULL AND payment_ref IS NOT NULL
             AND kind IN ('payment', 'refund', 'dispute', 'adjustment')
           ORDER BY payment_ref LIMIT $2""",
        payout_id,
        limit,
    )
    return [str(r["payment_ref"]) for r in rows]


async def list_payouts(
    conn: Conn, org_id: UUID, *, start: date | None = None, end: date | None = None
) -> list[PayoutRow]:
    """The association's payouts, newest first; ``start``/``end`` bound the arrival date."""
    rows = await conn.fetch(
        """SELECT * FROM payouts
           WHERE organization_id = $1
             AND ($2::date IS NULL OR coalesce(arrival_date, created_at::date) >= $2)
             AND ($3::date IS NULL OR coalesce(arrival_date, created_at::date) <= $3)
           ORDER BY coalesce(arrival_date, created_at::date) DESC, created_at DESC""",
        org_id,
        start,
        end,
    )
    return [_payout(r) for r in rows]
