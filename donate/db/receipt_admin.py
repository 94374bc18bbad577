"""Fiscal receipts as the back-office lists them: filters, the state of their e-mails, and
making an e-mail due again."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg

from donate.db.types import Conn


@dataclass(frozen=True, slots=True)
class ReceiptFilter:
    fiscal_year: int | None = None
    status: str | None = None  # issued | canceled
    kind: str | None = None  # single | annual
    email: str | None = None  # pending | sent | failed | skipped (receipt or cancellation)


async def search(
    conn: Conn, org_id: UUID, f: ReceiptFilter, *, before: tuple[int, int] | None, limit: int
) -> list[asyncpg.Record]:
    """Newest first by number (year, seq); ``before`` is the keyset cursor. The donor's
    name is the one printed on the receipt (its snapshot), which the law keeps."""
    return list(
        await conn.fetch(
            """SELECT r.id, r.number, r.year, r.seq, r.kind, r.form, r.status, r.amount_minor,
                      r.currency, r.fiscal_year, r.issued_at, r.canceled_at, r.cancel_reason,
                      r.donor_id, r.snapshot -> 'donor' AS donor, d.email AS donor_email,
                      d.erased_at AS donor_erased_at,
                      prev.number AS replaces_number, next.number AS replaced_by_number,
                      er.status AS email_status, er.attempts AS email_attempts,
                      er.last_error AS email_error, er.sent_at AS email_sent_at,
                      ec.status AS cancel_email_status, ec.last_error AS cancel_email_error
               FROM receipts r
               JOIN donors d ON d.organization_id = r.organization_id AND d.id = r.donor_id
               LEFT JOIN receipts prev ON prev.id = r.replaces
               LEFT JOIN receipts next ON next.replaces = r.id
               LEFT JOIN receipt_emails er ON er.receipt_id = r.id AND er.kind = 'receipt'
               LEFT JOIN receipt_emails ec ON ec.receipt_id = r.id AND ec.kind = 'cancellation'
               WHERE r.organization_id = $1
                 AND ($2::int IS NULL OR r.fiscal_year = $2)
                 AND ($3::text IS NULL OR r.status = $3)
                 AND ($4::text IS NULL OR r.kind = $4)
                 AND ($5::text IS NULL OR er.status = $5 OR ec.status = $5)
                 AND ($6::int IS NULL OR (r.year, r.seq) < ($6, $7::int))
               ORDER BY r.year DESC, r.seq DESC LIMIT $8""",
            org_id,
            f.fiscal_year,
            f.status,
            f.kind,
            f.email,
            before[0] if before else None,
            before[1] if before else None,
            limit,
        )
    )


async def fiscal_years(conn: Conn, org_id: UUID) -> list[int]:
    rows = await conn.fetch(
        "SELECT DISTINCT fiscal_year FROM receipts WHERE organization_id = $1 ORDER BY 1 DESC",
        org_id,
    )
    return [int(r[0]) for r in rows]


async def reset_email(conn: Conn, org_id: UUID, receipt_id: UUID, kind: str) -> None:
    """Make the e-mail due again (the mail job sends nothing already marked sent)."""
    await conn.execute(
        """INSERT INTO receipt_emails (organization_id, receipt_id, kind) VALUES ($1, $2, $3)
           ON CONFLICT (receipt_id, kind) DO UPDATE SET status = 'pending', last_error = NULL""",
        org_id,
        receipt_id,
        kind,
    )
