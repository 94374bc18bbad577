"""Report queries over payouts: headers with their check, movements with their gift (for
streaming: a cursor, so the caller must hold a transaction), and gifts still in transit."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from dataclasses import fields
from datetime import date
from typing import Any, Literal
from uuid import UUID

import anyio

from donate.db.types import Conn
from donate.domain.payouts import PayoutHeader, ReportLine

# A payout's own transfer line (Stripe lists it among its balance transactions) is not a movement.
_MOVEMENT = "NOT (l.kind = 'payout' AND l.source_id = po.provider_payout_id)"
_UNMATCHED = "l.donation_id IS NULL AND l.kind IN ('payment', 'refund', 'dispute', 'adjustment')"
_PARIS_DAY = "(coalesce(l.occurred_at, po.created_at) AT TIME ZONE 'Europe/Paris')::date"
_PAYOUT_DAY = "coalesce(po.arrival_date, (po.created_at AT TIME ZONE 'Europe/Paris')::date)"

# Columns in ``ReportLine`` field order: rows become lines positionally (a million of them
# for a year's report), and ``_check_columns`` holds the order.
_GIFT_COLUMNS = """
    d.id::text AS donation_id, d.amount_minor AS donation_amount_minor,
    d.status AS donation_status, {method} AS method,
    c.kind AS campaign_kind, c.title AS campaign_title, coalesce(d.anonymous, false) AS anonymous,
    coalesce(dn.first_name, '') AS first_name, coalesce(dn.last_name, '') AS last_name,
    coalesce(dn.email, '') AS email, dn.company_name, dn.siren::text AS siren,
    rc.number AS receipt_number, coalesce(d.tip_minor, 0) AS tip_minor,
    coalesce(d.platform_fee_minor, 0) AS platform_fee_minor"""
# A gift has at most one live receipt link (unique partial index), so a join, not a subquery
# per row: the planner may hash it for a year's report.
_RECEIPT_JOIN = """
LEFT JOIN (receipt_donations rd JOIN receipts rc ON rc.id = rd.receipt_id AND rc.status = 'issued')
       ON rd.donation_id = d.id AND rd.active"""

_PAID_METHOD = """(SELECT p.method FROM payments p WHERE p.donation_id = d.id AND p.status = 'paid'
         ORDER BY p.created_at DESC LIMIT 1)"""
_LINES_SELECT = f"""
SELECT l.provider_line_id AS line_id, l.occurred_at, l.kind, l.source_id, l.payment_ref,
       l.description, l.gross_minor, l.fee_minor, l.net_minor, l.currency::text AS currency,
       po.provider, po.provider_payout_id AS payout_ref, po.arrival_date AS payout_date,
       {_GIFT_COLUMNS.format(method=_PAID_METHOD)},
       CASE WHEN l.kind = 'application_fee' THEN
           (SELECT coalesce(sum(d2.tip_minor), 0)::bigint FROM payout_lines l2
              JOIN donations d2 ON d2.id = l2.donation_id
             WHERE l2.payout_id = l.payout_id AND l2.kind = 'payment' AND l2.fee_minor = 0)
       ELSE 0 END AS tip_pool_minor
FROM payout_lines l
JOIN payouts po ON po.id = l.payout_id
LEFT JOIN donations d ON d.id = l.donation_id
LEFT JOIN campaigns c ON c.id = d.campaign_id
LEFT JOIN donors dn ON dn.id = d.donor_id{_RECEIPT_JOIN}
WHERE l.organization_id = $1 AND {_MOVEMENT}
  AND ($2::uuid IS NULL OR l.payout_id = $2)
  AND ($3::date IS NULL OR {_PAYOUT_DAY} >= $3) AND ($4::date IS NULL OR {_PAYOUT_DAY} <= $4)
  AND ($5::date IS NULL OR {_PARIS_DAY} >= $5) AND ($6::date IS NULL OR {_PARIS_DAY} <= $6)
"""
_LINES_SQL = {
    "payout": f"{_LINES_SELECT} ORDER BY {_PAYOUT_DAY}, po.id, l.occurred_at, l.provider_line_id",
    # The FEC numbers entries in chronological order.
    "time": f"{_LINES_SELECT} ORDER BY {_PARIS_DAY}, l.occurred_at, po.id, l.provider_line_id",
}

_HEADER_SQL = f"""
SELECT po.id::text AS id, o.legal_name, o.siren::text AS siren, po.provider,
       po.provider_payout_id, po.amount_minor, po.currency, po.status, po.arrival_date,
       po.created_at, s.n, s.unmatched, s.net_sum
FROM payouts po JOIN organizations o ON o.id = po.organization_id,
LATERAL (SELECT count(*) AS n, count(*) FILTER (WHERE {_UNMATCHED}) AS unmatched,
                coalesce(sum(l.net_minor), 0)::bigint AS net_sum
           FROM payout_lines l WHERE l.payout_id = po.id AND {_MOVEMENT}) s
WHERE po.organization_id = $1 AND ($2::uuid IS NULL OR po.id = $2)
  AND ($3::date IS NULL OR {_PAYOUT_DAY} >= $3) AND ($4::date IS NULL OR {_PAYOUT_DAY} <= $4)
ORDER BY {_PAYOUT_DAY}, po.created_at, po.id
"""

_IN_TRANSIT_SQL = f"""
SELECT p.id::text AS line_id, p.paid_at AS occurred_at, 'payment' AS kind,
       p.provider_payment_id AS source_id, p.provider_payment_id AS payment_ref,
       '' AS description, p.amount_minor AS gross_minor, coalesce(p.fee_minor, 0) AS fee_minor,
       p.amount_minor - coalesce(p.fee_minor, 0) AS net_minor, p.currency::text AS currency,
       p.provider, '' AS payout_ref, NULL::date AS payout_date,
       {_GIFT_COLUMNS.format(method="p.method")}, 0 AS tip_pool_minor
FROM payments p
JOIN donations d ON d.id = p.donation_id
JOIN campaigns c ON c.id = d.campaign_id
JOIN donors dn ON dn.id = d.donor_id{_RECEIPT_JOIN}
WHERE p.organization_id = $1 AND p.status = 'paid'
  AND ($2::date IS NULL OR (p.paid_at AT TIME ZONE 'Europe/Paris')::date >= $2)
  AND ($3::date IS NULL OR (p.paid_at AT TIME ZONE 'Europe/Paris')::date <= $3)
  AND NOT EXISTS (SELECT 1 FROM payout_lines l
                   WHERE l.donation_id = p.donation_id AND l.kind = 'payment')
ORDER BY p.paid_at, p.id
"""


def _header(r: Any) -> PayoutHeader:
    return PayoutHeader(
        id=r["id"],
        organization_name=r["legal_name"],
        organization_siren=r["siren"],
        provider=r["provider"],
        provider_payout_id=r["provider_payout_id"],
        amount_minor=r["amount_minor"],
        currency=r["currency"].strip(),
        status=r["status"],
        arrival_date=r["arrival_date"],
        created_at=r["created_at"],
        lines_count=r["n"],
        unmatched_count=r["unmatched"],
        net_sum_minor=r["net_sum"],
    )


_FIELDS = tuple(f.name for f in fields(ReportLine))


def _check_columns(row: Any) -> None:
    if tuple(row.keys()) != _FIELDS:
        raise RuntimeError(f"report columns {tuple(row.keys())} are not ReportLine's fields")


async def _batches(
    conn: Conn, sql: str, args: tuple[Any, ...], chunk: int
) -> AsyncGenerator[list[ReportLine], None]:
    """Rows ``chunk`` at a time from a server-side cursor (memory stays flat whatever the
    size). The next batch is requested before this one is handed over, so PostgreSQL
    computes it while the caller formats this one."""
    cursor = await conn.cursor(sql, *args)
    pending = asyncio.ensure_future(cursor.fetch(chunk))
    try:
        # Shielded: a fetch cancelled midway would leave the connection busy for good.
        rows = await asyncio.shield(pending)
        if rows:
            _check_columns(rows[0])
        while rows:
            pending = asyncio.ensure_future(cursor.fetch(chunk))
            await asyncio.sleep(0)  # let the request go out
            yield [ReportLine(*r) for r in rows]
            rows = await asyncio.shield(pending)
    finally:
        if not pending.done():
            # Closed early (client gone, error downstream): let the batch in flight arrive,
            # so the transaction can end and the connection go back to the pool clean.
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await pending


async def payout_headers(
    conn: Conn,
    org_id: UUID,
    *,
    payout_id: UUID | None = None,
    start: date | None = None,
    end: date | None = None,
) -> list[PayoutHeader]:
    """Payouts of the association (one, or those arrived in a date range) with the sum of
    their movements' nets, for the check against the amount."""
    rows = await conn.fetch(_HEADER_SQL, org_id, payout_id, start, end)
    return [_header(r) for r in rows]


def lines_query(
    org_id: UUID,
    *,
    payout_id: UUID | None = None,
    payout_start: date | None = None,
    payout_end: date | None = None,
    line_start: date | None = None,
    line_end: date | None = None,
    order: Literal["payout", "time"] = "payout",
) -> tuple[str, tuple[Any, ...]]:
    """The movements' query and its arguments (``iter_lines`` runs it; the benchmark COPYs
    it raw to compare)."""
    args = (org_id, payout_id, payout_start, payout_end, line_start, line_end)
    return _LINES_SQL[order], args


def iter_lines(
    conn: Conn,
    org_id: UUID,
    *,
    payout_id: UUID | None = None,
    payout_start: date | None = None,
    payout_end: date | None = None,
    line_start: date | None = None,
    line_end: date | None = None,
    order: Literal["payout", "time"] = "payout",
    chunk: int = 2000,
) -> AsyncGenerator[list[ReportLine], None]:
    """Movements in payout then time order, ``chunk`` at a time. Call inside a
    transaction."""
    sql, args = lines_query(
        org_id, payout_id=payout_id, payout_start=payout_start, payout_end=payout_end,
        line_start=line_start, line_end=line_end, order=order,
    )  # fmt: skip
    return _batches(conn, sql, args, chunk)  # one generator: closing it closes the cursor


def in_transit_query(
    org_id: UUID, *, start: date | None, end: date | None
) -> tuple[str, tuple[Any, ...]]:
    """The in-transit query and its arguments (``iter_in_transit`` runs it; exports count it)."""
    return _IN_TRANSIT_SQL, (org_id, start, end)


def iter_in_transit(
    conn: Conn, org_id: UUID, *, start: date | None, end: date | None, chunk: int = 2000
) -> AsyncGenerator[list[ReportLine], None]:
    """Paid gifts not yet in any synced payout. Call inside a transaction."""
    sql, args = in_transit_query(org_id, start=start, end=end)
    return _batches(conn, sql, args, chunk)


async def tune_session(conn: Conn) -> None:
    """Settings of a report transaction: no JIT (compiling these plans costs more than the
    whole query of a payout, and the row-by-row subplans inflate the estimates that trigger
    it)."""
    await conn.execute("SET LOCAL jit = off")


async def accounting_settings(conn: Conn, org_id: UUID) -> tuple[str, str | None, dict[str, Any]]:
    """The association's name, SIREN (else RNA) and chart-of-accounts overrides."""
    row = await conn.fetchrow(
        "SELECT legal_name, coalesce(siren::text, rna) AS ident, chart_of_accounts "
        "FROM organizations WHERE id = $1",
        org_id,
    )
    if row is None:
        raise LookupError("unknown organization")
    return row["legal_name"], row["ident"], dict(row["chart_of_accounts"] or {})
