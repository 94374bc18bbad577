"""Fiscal receipts: the gap-free numbering, receipt rows, their gifts and their e-mails.

Receipt rows are never deleted and only ever change from issued to canceled; a gift has
at most one *live* link (``receipt_donations.active``), enforced by a unique index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from donate.db import audit_log
from donate.db.types import Conn

SETTLED = ("paid", "partially_refunded", "refunded", "disputed")


@dataclass(frozen=True, slots=True)
class ReceiptRow:
    id: UUID
    organization_id: UUID
    year: int
    seq: int
    number: str
    kind: str
    form: str
    donor_id: UUID
    amount_minor: int
    currency: str
    snapshot: dict[str, Any]
    pdf_sha256: str
    status: str
    replaces: UUID | None
    issued_at: datetime
    canceled_at: datetime | None
    cancel_reason: str | None
    cancel_pdf_sha256: str | None
    fiscal_year: int


@dataclass(frozen=True, slots=True)
class Gift:
    """A donation as a receipt sees it: the gift (never the tip nor covered fees)."""

    id: UUID
    organization_id: UUID
    donor_id: UUID
    campaign_id: UUID
    amount_minor: int
    counted_minor: int  # what the association keeps of the gift (refunds/disputes out)
    currency: str
    status: str
    frequency: str
    wants_receipt: bool
    receipt_eligible: bool  # the campaign's
    locale: str
    paid_at: datetime | None
    method: str | None

    @property
    def receiptable_minor(self) -> int:
        """The amount that opens the tax reduction now (0 until a final success)."""
        return self.counted_minor if self.status in SETTLED else 0


def _receipt(r: asyncpg.Record) -> ReceiptRow:
    return ReceiptRow(**{f: r[f] for f in ReceiptRow.__dataclass_fields__})


_GIFTS = """
    SELECT d.id, d.organization_id, d.donor_id, d.campaign_id, d.amount_minor, d.counted_minor,
           d.currency, d.status, d.frequency, d.wants_receipt, c.receipt_eligible, d.locale,
           p.paid_at, p.method
    FROM donations d
    JOIN campaigns c ON c.id = d.campaign_id
    LEFT JOIN LATERAL (
        SELECT paid_at, method FROM payments
        WHERE donation_id = d.id AND paid_at IS NOT NULL ORDER BY paid_at DESC LIMIT 1
    ) p ON true
"""


def _gift(r: asyncpg.Record) -> Gift:
    return Gift(**{f: r[f] for f in Gift.__dataclass_fields__})


async def gifts(conn: Conn, donation_ids: list[UUID]) -> list[Gift]:
    rows = await conn.fetch(_GIFTS + " WHERE d.id = ANY($1::uuid[]) ORDER BY p.paid_at, d.id",
                            donation_ids)  # fmt: skip
    return [_gift(r) for r in rows]


async def lock_donations(conn: Conn, donation_ids: list[UUID]) -> None:
    """Row-lock gifts in id order (one order everywhere: no deadlock between workers)."""
    await conn.execute(
        "SELECT 1 FROM donations WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE", donation_ids
    )


async def organization(conn: Conn, org_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM organizations WHERE id = $1", org_id)


async def donor(conn: Conn, donor_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM donors WHERE id = $1", donor_id)


async def next_number(conn: Conn, org_id: UUID, year: int) -> int:
    """Allocate the next number of the association's ``year`` sequence.

    The row stays locked until the caller's transaction ends, so numbers are handed out one
    at a time and a rolled-back issue gives its number back: no gap, no duplicate (a
    PostgreSQL SEQUENCE would leave gaps on rollback).
    """
    seq: int = await conn.fetchval(
        """INSERT INTO receipt_sequences (organization_id, year, last_number) VALUES ($1, $2, 1)
           ON CONFLICT (organization_id, year)
               DO UPDATE SET last_number = receipt_sequences.last_number + 1
           RETURNING last_number""",
        org_id,
        year,
    )
    return seq


async def insert_receipt(conn: Conn, values: dict[str, Any], amounts: dict[UUID, int]) -> UUID:
    """Insert a receipt and its live links to the gifts it certifies (``amounts``)."""
    cols = list(values)
    receipt_id: UUID = await conn.fetchval(
        f"""INSERT INTO receipts ({", ".join(cols)})
            VALUES ({", ".join(f"${i}" for i in range(1, len(cols) + 1))}) RETURNING id""",
        *values.values(),
    )
    await conn.executemany(
        """INSERT INTO receipt_donations (organization_id, receipt_id, donation_id, amount_minor)
           VALUES ($1, $2, $3, $4)""",
        [(values["organization_id"], receipt_id, d, a) for d, a in amounts.items()],
    )
    return receipt_id


async def get(
    conn: Conn, receipt_id: UUID, *, org_id: UUID | None = None, for_update: bool = False
) -> ReceiptRow | None:
    row = await conn.fetchrow(
        "SELECT * FROM receipts WHERE id = $1 AND ($2::uuid IS NULL OR organization_id = $2)"
        + (" FOR UPDATE" if for_update else ""),
        receipt_id,
        org_id,
    )
    return _receipt(row) if row else None


async def live_receipt_id(conn: Conn, donation_id: UUID) -> UUID | None:
    rid: UUID | None = await conn.fetchval(
        "SELECT receipt_id FROM receipt_donations WHERE donation_id = $1 AND active", donation_id
    )
    return rid


async def amounts_of(conn: Conn, receipt_id: UUID) -> dict[UUID, int]:
    """Gift → amount certified by this receipt (all its links, live or not)."""
    rows = await conn.fetch(
        "SELECT donation_id, amount_minor FROM receipt_donations WHERE receipt_id = $1",
        receipt_id,
    )
    return {r["donation_id"]: r["amount_minor"] for r in rows}


async def cancel(
    conn: Conn, receipt_id: UUID, *, at: datetime, reason: str, pdf_sha256: str
) -> None:
    """Mark a receipt canceled (kept for the record) and free its gifts for a new one."""
    await conn.execute(
        """UPDATE receipts SET status = 'canceled', canceled_at = $2, cancel_reason = $3,
               cancel_pdf_sha256 = $4
           WHERE id = $1 AND status = 'issued'""",
        receipt_id,
        at,
        reason,
        pdf_sha256,
    )
    await conn.execute(
        "UPDATE receipt_donations SET active = false WHERE receipt_id = $1", receipt_id
    )


async def list_for_org(
    conn: Conn, org_id: UUID, *, fiscal_year: int | None, status: str | None, limit: int,
    before: tuple[int, int] | None,
) -> list[asyncpg.Record]:  # fmt: skip
    """Newest first by (year, seq); ``before`` is the keyset cursor."""
    return list(
        await conn.fetch(
            """SELECT r.*, prev.number AS replaces_number,
                   (SELECT array_agg(rd.donation_id ORDER BY rd.donation_id)
                    FROM receipt_donations rd WHERE rd.receipt_id = r.id) AS donation_ids,
                   (SELECT status FROM receipt_emails e
                    WHERE e.receipt_id = r.id AND e.kind = 'receipt') AS email_status
               FROM receipts r LEFT JOIN receipts prev ON prev.id = r.replaces
               WHERE r.organization_id = $1
                 AND ($2::int IS NULL OR r.fiscal_year = $2)
                 AND ($3::text IS NULL OR r.status = $3)
                 AND ($4::int IS NULL OR (r.year, r.seq) < ($4, $5::int))
               ORDER BY r.year DESC, r.seq DESC LIMIT $6""",
            org_id,
            fiscal_year,
            status,
            before[0] if before else None,
            before[1] if before else None,
            limit,
        )
    )


async def declaration(conn: Conn, org_id: UUID, fiscal_year: int) -> tuple[int, int]:
    """CGI 222 bis: number and total of the live receipts for gifts of ``fiscal_year``."""
    row = await conn.fetchrow(
        """SELECT count(*) AS n, coalesce(sum(amount_minor), 0)::bigint AS total FROM receipts
           WHERE organization_id = $1 AND fiscal_year = $2 AND status = 'issued'""",
        org_id,
        fiscal_year,
    )
    assert row is not None
    return int(row["n"]), int(row["total"])


async def annual_donors(
    conn: Conn, org_id: UUID, start: datetime, end: datetime, *, after: UUID | None, limit: int
) -> list[UUID]:
    """Donors with receipt-eligible gifts paid in [start, end) that have no live receipt."""
    rows = await conn.fetch(
        "SELECT DISTINCT d.donor_id"
        + _ANNUAL_WHERE
        + " AND ($4::uuid IS NULL OR d.donor_id > $4) ORDER BY d.donor_id LIMIT $5",
        org_id,
        start,
        end,
        after,
        limit,
    )
    return [r["donor_id"] for r in rows]


async def annual_donor_count(
    conn: Conn, org_id: UUID, start: datetime, end: datetime, *, after: UUID | None
) -> int:
    n: int = await conn.fetchval(
        "SELECT count(DISTINCT d.donor_id)"
        + _ANNUAL_WHERE
        + " AND ($4::uuid IS NULL OR d.donor_id > $4)",
        org_id,
        start,
        end,
        after,
    )
    return n


_ANNUAL_FROM = """
    FROM donations d
    JOIN campaigns c ON c.id = d.campaign_id
    JOIN LATERAL (
        SELECT paid_at, method FROM payments
        WHERE donation_id = d.id AND paid_at IS NOT NULL ORDER BY paid_at DESC LIMIT 1
    ) p ON true
"""
_ANNUAL_WHERE = (
    _ANNUAL_FROM
    + """
    WHERE d.organization_id = $1 AND p.paid_at >= $2 AND p.paid_at < $3
      AND d.wants_receipt AND c.receipt_eligible AND d.counted_minor > 0
      AND d.status IN ('paid', 'partially_refunded', 'refunded', 'disputed')
      AND NOT EXISTS (SELECT 1 FROM receipt_donations rd WHERE rd.donation_id = d.id AND rd.active)
"""
)


async def annual_gifts(
    conn: Conn, org_id: UUID, donor_id: UUID, start: datetime, end: datetime
) -> list[UUID]:
    rows = await conn.fetch(
        "SELECT d.id" + _ANNUAL_WHERE + " AND d.donor_id = $4 ORDER BY d.id",
        org_id,
        start,
        end,
        donor_id,
    )
    return [r["id"] for r in rows]


async def org_id_by_slug(conn: Conn, slug: str) -> UUID | None:
    org_id: UUID | None = await conn.fetchval("SELECT id FROM organizations WHERE slug = $1", slug)
    return org_id


async def orgs_with_receipts(conn: Conn) -> list[UUID]:
    rows = await conn.fetch(
        "SELECT DISTINCT organization_id FROM campaigns WHERE receipt_eligible ORDER BY 1"
    )
    return [r[0] for r in rows]


async def note(conn: Conn, org_id: UUID, action: str, target_id: str, data: dict[str, Any]) -> None:
    """Tell the association in its audit trail (e.g. why a receipt was not issued)."""
    await audit_log.record(conn, org_id, "system", action, "donation", target_id, data)


# E-mails -----------------------------------------------------------------------------


async def add_email(conn: Conn, org_id: UUID, receipt_id: UUID, kind: str) -> None:
    await conn.execute(
        """INSERT INTO receipt_emails (organization_id, receipt_id, kind) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING""",
        org_id,
        receipt_id,
        kind,
    )


async def email_status(conn: Conn, receipt_id: UUID, kind: str) -> str | None:
    status: str | None = await conn.fetchval(
        "SELECT status FROM receipt_emails WHERE receipt_id = $1 AND kind = $2", receipt_id, kind
    )
    return status


async def mark_email(
    conn: Conn, receipt_id: UUID, kind: str, status: str, error: str | None = None
) -> None:
    await conn.execute(
        """UPDATE receipt_emails SET status = $3, last_error = $4, attempts = attempts + 1,
               sent_at = CASE WHEN $3 = 'sent' THEN now() ELSE sent_at END
           WHERE receipt_id = $1 AND kind = $2""",
        receipt_id,
        kind,
        status,
        error[:2000] if error else None,
    )
