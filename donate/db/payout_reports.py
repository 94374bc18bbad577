"""Report queries over payouts: headers with their check, movements with their gift (for
streaming: a cursor or a COPY, so the caller must hold a transaction) and their totals, and
gifts still in transit."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import fields
from datetime import date
from typing import Any, Literal
from uuid import UUID

import anyio

from donate.db.types import Conn
from donate.domain.payouts import PayoutHeader, ReportLine, Totals

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
_TIP_POOL = """CASE WHEN l.kind = 'application_fee' THEN
           (SELECT coalesce(sum(d2.tip_minor), 0)::bigint FROM payout_lines l2
              JOIN donations d2 ON d2.id = l2.donation_id
             WHERE l2.payout_id = l.payout_id AND l2.kind = 'payment' AND l2.fee_minor = 0)
       ELSE 0 END"""
_LINES_FROM = """
FROM payout_lines l
JOIN payouts po ON po.id = l.payout_id
LEFT JOIN donations d ON d.id = l.donation_id
LEFT JOIN campaigns c ON c.id = d.campaign_id"""
_LINES_WHERE = f"""
WHERE l.organization_id = $1 AND {_MOVEMENT}
  AND ($2::uuid IS NULL OR l.payout_id = $2)
  AND ($3::date IS NULL OR {_PAYOUT_DAY} >= $3) AND ($4::date IS NULL OR {_PAYOUT_DAY} <= $4)
  AND ($5::date IS NULL OR {_PARIS_DAY} >= $5) AND ($6::date IS NULL OR {_PARIS_DAY} <= $6)
"""
_LINES_SELECT = f"""
SELECT l.provider_line_id AS line_id, l.occurred_at, l.kind, l.source_id, l.payment_ref,
       l.description, l.gross_minor, l.fee_minor, l.net_minor, l.currency::text AS currency,
       po.provider, po.provider_payout_id AS payout_ref, po.arrival_date AS payout_date,
       {_GIFT_COLUMNS.format(method=_PAID_METHOD)},
       {_TIP_POOL} AS tip_pool_minor{_LINES_FROM}
LEFT JOIN donors dn ON dn.id = d.donor_id{_RECEIPT_JOIN}{_LINES_WHERE}"""
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

_IN_TRANSIT_FROM = """
FROM payments p
JOIN donations d ON d.id = p.donation_id
JOIN campaigns c ON c.id = d.campaign_id
JOIN donors dn ON dn.id = d.donor_id"""
_IN_TRANSIT_WHERE = """
WHERE p.organization_id = $1 AND p.status = 'paid'
  AND ($2::date IS NULL OR (p.paid_at AT TIME ZONE 'Europe/Paris')::date >= $2)
  AND ($3::date IS NULL OR (p.paid_at AT TIME ZONE 'Europe/Paris')::date <= $3)
  AND NOT EXISTS (SELECT 1 FROM payout_lines l
                   WHERE l.donation_id = p.donation_id AND l.kind = 'payment')
"""
_IN_TRANSIT_SQL = f"""
SELECT p.id::text AS line_id, p.paid_at AS occurred_at, 'payment' AS kind,
       p.provider_payment_id AS source_id, p.provider_payment_id AS payment_ref,
       '' AS description, p.amount_minor AS gross_minor, coalesce(p.fee_minor, 0) AS fee_minor,
       p.amount_minor - coalesce(p.fee_minor, 0) AS net_minor, p.currency::text AS currency,
       p.provider, '' AS payout_ref, NULL::date AS payout_date,
       {_GIFT_COLUMNS.format(method="p.method")}, 0 AS tip_pool_minor{_IN_TRANSIT_FROM}
{_RECEIPT_JOIN}{_IN_TRANSIT_WHERE}ORDER BY p.paid_at, p.id
"""


def _fee_split(kind: str, fee: str, tip: str, platform: str, pool: str) -> tuple[str, str, str]:
    """``domain.payouts.split_fee`` in SQL: the provider's, the platform's and the tip's part
    of a line's fee, from the SQL expressions of its kind, fee, gift tip, gift platform fee
    and the payout's tip pool."""
    paid = f"{kind} = 'payment' AND {fee} > 0"
    pooled = f"{kind} = 'application_fee' AND {fee} > 0"
    tip_part = f"least({tip}, {fee})"
    platform_part = f"least({platform}, {fee} - {tip_part})"
    pool_part = f"least(greatest({pool}, 0), {fee})"
    return (
        f"CASE WHEN {paid} THEN {fee} - {tip_part} - {platform_part}"
        f" WHEN {pooled} THEN 0 ELSE {fee} END",
        f"CASE WHEN {paid} THEN {platform_part} WHEN {pooled} THEN {fee} - {pool_part} ELSE 0 END",
        f"CASE WHEN {paid} THEN {tip_part} WHEN {pooled} THEN {pool_part} ELSE 0 END",
    )


_MATCHABLE = "('payment', 'refund', 'dispute', 'adjustment')"
_SPLIT = _fee_split("kind", "fee", "tip", "platform", "pool")


def _totals_sql(source: str) -> str:
    """The sums of ``Totals`` by (kind, campaign, matched, currency), over ``source``: the
    report's rows as kind, campaign, donation, currency, gross, fee, net, tip, platform and
    pool, without the columns only the table shows (no donor, receipt or method lookups)."""
    return f"""
SELECT kind, campaign, (donation IS NOT NULL OR kind NOT IN {_MATCHABLE}) AS matched, currency,
       count(*) AS n, sum(gross)::bigint AS gross, sum({_SPLIT[0]})::bigint AS provider_fee,
       sum({_SPLIT[1]})::bigint AS platform_fee, sum({_SPLIT[2]})::bigint AS tip,
       sum(fee)::bigint AS fee, sum(net)::bigint AS net
FROM ({source}) q
GROUP BY 1, 2, 3, 4
"""


_LINES_TOTALS_SOURCE = f"""SELECT l.kind, coalesce(c.title, '') AS campaign, d.id AS donation,
       l.currency::text AS currency, l.gross_minor AS gross, l.fee_minor AS fee,
       l.net_minor AS net, coalesce(d.tip_minor, 0) AS tip,
       coalesce(d.platform_fee_minor, 0) AS platform, {{pool}} AS pool{_LINES_FROM}
WHERE l.organization_id = $1 AND l.payout_id = ANY($2::uuid[]) AND {_MOVEMENT}
"""
# The payouts by id (the report's headers: the same payouts, picked by day): PostgreSQL then
# knows how many lines it sums (it can't tell how many payouts a range of days holds), and
# two sums: the few application-fee lines with their payout's tip pool (a subquery per
# line), the others without, so that it sums those in parallel and by hash.
_LINES_TOTALS_SQL = (
    _totals_sql(_LINES_TOTALS_SOURCE.format(pool="0") + "  AND l.kind <> 'application_fee'")
    + "UNION ALL"
    + _totals_sql(_LINES_TOTALS_SOURCE.format(pool=_TIP_POOL) + "  AND l.kind = 'application_fee'")
)
_IN_TRANSIT_TOTALS_SQL = _totals_sql(
    f"""SELECT 'payment' AS kind, coalesce(c.title, '') AS campaign, d.id AS donation,
       p.currency::text AS currency, p.amount_minor AS gross, coalesce(p.fee_minor, 0) AS fee,
       p.amount_minor - coalesce(p.fee_minor, 0) AS net, coalesce(d.tip_minor, 0) AS tip,
       coalesce(d.platform_fee_minor, 0) AS platform,
       0 AS pool{_IN_TRANSIT_FROM}{_IN_TRANSIT_WHERE}"""
)
_SPLIT_ROWS = "SELECT r.*, {} AS provider_fee_part, {} AS platform_fee_part, {} AS tip_part".format(
    *_fee_split("r.kind", "r.fee_minor", "r.tip_minor", "r.platform_fee_minor", "r.tip_pool_minor")
)
_COPY_PIECE = 1 << 16  # bytes handed over at a time


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


def with_fee_split(sql: str) -> str:
    """The rows of ``lines_query`` / ``in_transit_query`` (``ReportLine``'s columns, in its
    order) with their fee split (``split_fee``) as ``provider_fee_part``,
    ``platform_fee_part`` and ``tip_part``: what a report rendered by PostgreSQL reads."""
    return f"{_SPLIT_ROWS} FROM ({sql}) r"


Cancel = Callable[[int], Awaitable[None]]


def copy_csv(
    conn: Conn, sql: str, args: tuple[Any, ...], delimiter: str, cancel: Cancel | None = None
) -> AsyncGenerator[bytes, None]:
    """``COPY (sql) TO STDOUT`` in PostgreSQL's CSV format, in pieces of about 64 KiB. Call
    inside a transaction.

    The COPY runs in a task that waits while the last piece is not taken (asyncpg then
    stops reading the socket, so PostgreSQL waits too): memory stays flat whatever the
    size. Closed early (client gone), the rest is read and dropped until the COPY ends, so
    the connection goes back to the pool clean (cancelling asyncpg's COPY midway can leave
    it mid-protocol); ``cancel`` (given the backend's pid, see ``cancel_backend``) makes
    PostgreSQL end it at once."""
    return _copy_pieces(conn, sql, args, delimiter, cancel)


async def _copy_pieces(
    conn: Conn, sql: str, args: tuple[Any, ...], delimiter: str, cancel: Cancel | None
) -> AsyncGenerator[bytes, None]:
    pieces: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=1)
    held: list[bytes] = []
    size, closed = 0, False

    async def sink(data: bytes) -> None:
        nonlocal size
        if closed:
            return
        held.append(data)
        size += len(data)
        if size >= _COPY_PIECE:
            piece = b"".join(held)
            held.clear()
            size = 0
            await pieces.put(piece)

    async def run() -> None:
        try:
            await conn.copy_from_query(sql, *args, output=sink, format="csv", delimiter=delimiter)
            if held and not closed:
                await pieces.put(b"".join(held))
        finally:
            if not closed:
                await pieces.put(None)  # the end, or an error the reader gets from the task

    task = asyncio.ensure_future(run())
    try:
        while (piece := await pieces.get()) is not None:
            yield piece
        await task
    finally:
        if not task.done():
            closed = True
            while not pieces.empty():  # frees the sink if it waits to hand a piece over
                pieces.get_nowait()
            with anyio.CancelScope(shield=True):
                if cancel is not None:
                    with contextlib.suppress(Exception):
                        await cancel(conn.get_server_pid())
                with contextlib.suppress(Exception):
                    await task  # QueryCanceledError when cancelled


async def cancel_backend(conn: Conn, pid: int) -> None:
    """Ask PostgreSQL to cancel what backend ``pid`` runs (from another connection). A
    backend that has finished meanwhile ignores it."""
    await conn.execute("SELECT pg_cancel_backend($1)", pid)


async def totals(
    conn: Conn, org_id: UUID, payout_ids: Sequence[str | UUID]
) -> tuple[Totals, Counter[str]]:
    """The ``Totals`` of the movements of these payouts (summed by PostgreSQL, for a report
    whose lines Python never sees), and how many movements each currency has."""
    ids = [UUID(str(i)) for i in payout_ids]
    return _totals(await conn.fetch(_LINES_TOTALS_SQL, org_id, ids))


async def in_transit_totals(
    conn: Conn, org_id: UUID, *, start: date | None, end: date | None
) -> tuple[Totals, Counter[str]]:
    """The same for ``in_transit_query``."""
    return _totals(await conn.fetch(_IN_TRANSIT_TOTALS_SQL, org_id, start, end))


def _totals(rows: list[Any]) -> tuple[Totals, Counter[str]]:
    out, currencies = Totals(), Counter[str]()
    for r in rows:
        sums = [r["n"], r["gross"], r["provider_fee"], r["platform_fee"], r["tip"], r["fee"],
                r["net"]]  # fmt: skip
        key = (r["kind"], r["campaign"], r["matched"])
        group = out.groups.setdefault(key, [0] * len(sums))
        for i, v in enumerate(sums):
            group[i] += v
        currencies[r["currency"]] += r["n"]
    return out, currencies


async def tune_session(conn: Conn) -> None:
    """Settings of a report transaction: no JIT (compiling these plans costs more than the
    whole query of a payout, and the row-by-row subplans inflate the estimates that trigger
    it); ISO dates for those PostgreSQL writes as text (the CSV's)."""
    await conn.execute("SET LOCAL jit = off; SET LOCAL DateStyle = 'ISO, YMD'")


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
