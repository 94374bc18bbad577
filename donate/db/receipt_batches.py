"""Batch issuing of receipts: pending gifts, a run of numbers at once, rows in bulk.

One statement per table and batch (``unnest`` of arrays), so a batch of a few hundred
receipts costs a handful of round trips instead of ten per receipt.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from donate.db.receipts import _GIFTS, SETTLED, Gift, _gift
from donate.db.types import Conn

_PENDING = (
    _GIFTS
    + """
    WHERE d.organization_id = $1 AND ($2::uuid IS NULL OR d.id > $2)
      AND d.status = ANY($4::text[]) AND d.counted_minor > 0
      AND d.wants_receipt AND c.receipt_eligible AND d.frequency = 'once'
      AND NOT EXISTS (SELECT 1 FROM receipt_donations rd WHERE rd.donation_id = d.id AND rd.active)
    ORDER BY d.id LIMIT $3
    FOR UPDATE OF d SKIP LOCKED
"""
)


async def lock_pending_gifts(
    conn: Conn, org_id: UUID, *, after: UUID | None, limit: int
) -> tuple[list[Gift], UUID | None]:
    """Up to ``limit`` settled gifts of the association, after ``after`` in id order, that
    want a per-gift receipt and have none, row-locked. Gifts another transaction holds are
    skipped (their holder issues them). Also returns the last id looked at (keyset cursor)."""
    rows = await conn.fetch(_PENDING, org_id, after, limit, list(SETTLED))
    if not rows:
        return [], None
    last: UUID = rows[-1]["id"]
    # Locked now: a receipt committed meanwhile by a per-gift job is visible to this new
    # statement, and no other can be issued until we commit.
    taken = {
        r[0]
        for r in await conn.fetch(
            "SELECT donation_id FROM receipt_donations WHERE donation_id = ANY($1::uuid[]) "
            "AND active",
            [r["id"] for r in rows],
        )
    }
    return [_gift(r) for r in rows if r["id"] not in taken], last


async def donors(conn: Conn, donor_ids: list[UUID]) -> dict[UUID, Any]:
    rows = await conn.fetch("SELECT * FROM donors WHERE id = ANY($1::uuid[])", donor_ids)
    return {r["id"]: r for r in rows}


async def last_number(conn: Conn, org_id: UUID, year: int) -> int:
    """The sequence's last number, read without a lock (optimistic numbering)."""
    await conn.execute(
        """INSERT INTO receipt_sequences (organization_id, year, last_number) VALUES ($1, $2, 0)
           ON CONFLICT (organization_id, year) DO NOTHING""",
        org_id,
        year,
    )
    n: int = await conn.fetchval(
        "SELECT last_number FROM receipt_sequences WHERE organization_id = $1 AND year = $2",
        org_id,
        year,
    )
    return n


async def take_numbers(
    conn: Conn, org_id: UUID, year: int, count: int, *, expected: int | None
) -> int | None:
    """Advance the sequence by ``count`` and return its new last number; the row stays
    locked until the caller's transaction ends (gap-free, as ``receipts.next_number``).
    With ``expected``, only if the sequence is still there (else None: someone else took
    numbers since it was read, and what was rendered with them must be redone)."""
    new_last: int | None = await conn.fetchval(
        """UPDATE receipt_sequences SET last_number = last_number + $3
           WHERE organization_id = $1 AND year = $2
             AND ($4::int IS NULL OR last_number = $4)
           RETURNING last_number""",
        org_id,
        year,
        count,
        expected,
    )
    return new_last


async def insert_receipts(conn: Conn, rows: list[dict[str, Any]]) -> None:
    """Insert single receipts (``rows``: receipts columns plus ``donation_id``), their live
    gift links and their pending e-mail rows, in three statements."""
    if not rows:
        return
    await conn.execute(
        """INSERT INTO receipts (id, organization_id, year, seq, number, kind, form, donor_id,
               amount_minor, currency, snapshot, pdf_sha256, issued_at, fiscal_year)
           SELECT id, $2, $3, seq, number, 'single', form, donor_id, amount_minor, $4,
                  snapshot::jsonb, sha, $5, fiscal_year
           FROM unnest($1::uuid[], $6::int[], $7::text[], $8::text[], $9::uuid[], $10::bigint[],
                       $11::text[], $12::text[], $13::int[])
                AS t(id, seq, number, form, donor_id, amount_minor, snapshot, sha, fiscal_year)""",
        [r["id"] for r in rows],
        rows[0]["organization_id"],
        rows[0]["year"],
        rows[0]["currency"],
        rows[0]["issued_at"],
        [r["seq"] for r in rows],
        [r["number"] for r in rows],
        [r["form"] for r in rows],
        [r["donor_id"] for r in rows],
        [r["amount_minor"] for r in rows],
        [json.dumps(r["snapshot"]) for r in rows],
        [r["pdf_sha256"] for r in rows],
        [r["fiscal_year"] for r in rows],
    )
    await conn.execute(
        """INSERT INTO receipt_donations (organization_id, receipt_id, donation_id, amount_minor)
           SELECT $1, * FROM unnest($2::uuid[], $3::uuid[], $4::bigint[])""",
        rows[0]["organization_id"],
        [r["id"] for r in rows],
        [r["donation_id"] for r in rows],
        [r["amount_minor"] for r in rows],
    )
    await conn.execute(
        """INSERT INTO receipt_emails (organization_id, receipt_id, kind)
           SELECT $1, id, 'receipt' FROM unnest($2::uuid[]) AS t(id)""",
        rows[0]["organization_id"],
        [r["id"] for r in rows],
    )


async def pending_emails(conn: Conn, receipt_ids: list[UUID], kind: str) -> list[UUID]:
    rows = await conn.fetch(
        """SELECT receipt_id FROM receipt_emails
           WHERE receipt_id = ANY($1::uuid[]) AND kind = $2 AND status IN ('pending', 'failed')
           ORDER BY receipt_id""",
        receipt_ids,
        kind,
    )
    return [r[0] for r in rows]


async def mark_emails(
    conn: Conn, receipt_ids: list[UUID], kind: str, status: str, error: str | None = None
) -> None:
    await conn.execute(
        """UPDATE receipt_emails SET status = $3, last_error = $4, attempts = attempts + 1,
               sent_at = CASE WHEN $3 = 'sent' THEN now() ELSE sent_at END
           WHERE receipt_id = ANY($1::uuid[]) AND kind = $2""",
        receipt_ids,
        kind,
        status,
        error[:2000] if error else None,
    )


async def orgs_with_pending(conn: Conn, older_than_s: float) -> list[UUID]:
    """Associations (per-gift schedule) with a settled gift that still has no receipt
    ``older_than_s`` seconds after its last change: the per-gift job failed or never ran."""
    rows = await conn.fetch(
        """SELECT DISTINCT d.organization_id
           FROM donations d
           JOIN campaigns c ON c.id = d.campaign_id
           JOIN organizations o ON o.id = d.organization_id
           WHERE d.status = ANY($1::text[]) AND d.counted_minor > 0 AND d.wants_receipt
             AND c.receipt_eligible AND d.frequency = 'once' AND o.receipt_schedule = 'per_gift'
             AND d.updated_at < now() - make_interval(secs => $2)
             AND NOT EXISTS (SELECT 1 FROM receipt_donations rd
                             WHERE rd.donation_id = d.id AND rd.active)
           ORDER BY 1""",
        list(SETTLED),
        float(older_than_s),
    )
    return [r[0] for r in rows]


async def already_noted(conn: Conn, org_id: UUID, gift_ids: list[UUID]) -> set[str]:
    """Gifts the association was already told cannot get a receipt (noted once, not hourly)."""
    rows = await conn.fetch(
        """SELECT DISTINCT target_id FROM audit_log
           WHERE organization_id = $1 AND action = 'receipt.not_issued'
             AND target_type = 'donation' AND target_id = ANY($2::text[])""",
        org_id,
        [str(g) for g in gift_ids],
    )
    return {r[0] for r in rows}
