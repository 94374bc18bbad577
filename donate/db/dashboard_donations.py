"""Donations as finance staff search and read them in the back-office (scoped by association)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from donate.db.dashboard import DONOR_LABEL
from donate.db.types import Conn


@dataclass(frozen=True, slots=True)
class DonationFilter:
    """``q``: a donation id, or part of the donor's name or e-mail."""

    q: str = ""
    status: str | None = None
    campaign_id: UUID | None = None
    start: datetime | None = None  # created at or after
    end: datetime | None = None  # created before

    def donation_id(self) -> UUID | None:
        try:
            return UUID(self.q.strip())
        except ValueError:
            return None


_LIST = f"""
    SELECT d.id, d.created_at, d.amount_minor, d.currency, d.status, d.frequency, d.tip_minor,
           d.counted_minor, d.provider, d.wants_receipt, d.campaign_id,
           c.title AS campaign_title, p.id AS donor_id, p.erased_at,
           {DONOR_LABEL} AS donor_name,
           CASE WHEN p.erased_at IS NULL THEN p.email END AS donor_email
    FROM donations d
    JOIN campaigns c ON c.id = d.campaign_id
    JOIN donors p ON p.id = d.donor_id
    WHERE d.organization_id = $1
      AND ($2::text IS NULL OR d.status = $2)
      AND ($3::uuid IS NULL OR d.campaign_id = $3)
      AND ($4::timestamptz IS NULL OR d.created_at >= $4)
      AND ($5::timestamptz IS NULL OR d.created_at < $5)
      AND ($6::uuid IS NULL OR d.id = $6)
      AND ($7::text IS NULL OR (p.erased_at IS NULL AND (
               p.email ILIKE $7 OR (p.first_name || ' ' || p.last_name) ILIKE $7
               OR (p.last_name || ' ' || p.first_name) ILIKE $7
               OR coalesce(p.company_name, '') ILIKE $7)))
      AND ($8::timestamptz IS NULL OR (d.created_at, d.id) < ($8, $9::uuid))
    ORDER BY d.created_at DESC, d.id DESC LIMIT $10"""


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search(
    conn: Conn, org_id: UUID, f: DonationFilter, *, after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[dict[str, Any]]:  # fmt: skip
    """Newest first; ``after`` is the keyset cursor (created_at, id) of the last row seen."""
    by_id = f.donation_id()
    text = f.q.strip() if f.q.strip() and by_id is None else None
    rows = await conn.fetch(
        _LIST, org_id, f.status, f.campaign_id, f.start, f.end, by_id,
        _like(text) if text else None, after[0] if after else None,
        after[1] if after else None, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def campaign_choices(conn: Conn, org_id: UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT id, title FROM campaigns WHERE organization_id = $1 ORDER BY created_at DESC",
        org_id,
    )
    return [dict(r) for r in rows]


async def detail(conn: Conn, org_id: UUID, donation_id: UUID) -> dict[str, Any] | None:
    """The donation, its donor, campaign, payments, refunds, disputes, receipts, its status
    history and the provider events about it; None when not this association's."""
    d = await conn.fetchrow(
        f"""SELECT d.*, c.title AS campaign_title, c.slug AS campaign_slug,
                   t.title AS tier_title, p.erased_at, {DONOR_LABEL} AS donor_name,
                   CASE WHEN p.erased_at IS NULL THEN p.email END AS donor_email
            FROM donations d
            JOIN campaigns c ON c.id = d.campaign_id
            JOIN donors p ON p.id = d.donor_id
            LEFT JOIN tiers t ON t.id = d.tier_id
            WHERE d.organization_id = $1 AND d.id = $2""",
        org_id,
        donation_id,
    )
    if d is None:
        return None
    payments = await conn.fetch(
        "SELECT * FROM payments WHERE organization_id = $1 AND donation_id = $2 "
        "ORDER BY created_at",
        org_id,
        donation_id,
    )
    refs = [ref for p in payments for ref in (p["checkout_id"], p["provider_payment_id"]) if ref]
    out: dict[str, Any] = dict(d)
    out["payments"] = [dict(p) for p in payments]
    out["refunds"] = [dict(r) for r in await conn.fetch(
        "SELECT * FROM refunds WHERE organization_id = $1 AND donation_id = $2 "
        "ORDER BY created_at", org_id, donation_id)]  # fmt: skip
    out["disputes"] = [dict(r) for r in await conn.fetch(
        "SELECT * FROM disputes WHERE organization_id = $1 AND donation_id = $2 "
        "ORDER BY created_at", org_id, donation_id)]  # fmt: skip
    out["history"] = [dict(r) for r in await conn.fetch(
        """SELECT at, from_status, to_status, source, provider_event_id, detail
           FROM donation_status_history WHERE organization_id = $1 AND donation_id = $2
           ORDER BY id""", org_id, donation_id)]  # fmt: skip
    out["events"] = [dict(r) for r in await conn.fetch(
        """SELECT id, provider, event_id, event_type, object_id, received_at, processed_at
           FROM provider_events
           WHERE (organization_id IS NULL OR organization_id = $1)
             AND (donation_ref = $2::text OR payment_ref = ANY($3::text[])
                  OR object_id = ANY($3::text[]))
           ORDER BY received_at, id""", org_id, str(donation_id), refs)]  # fmt: skip
    out["receipts"] = [dict(r) for r in await conn.fetch(
        """SELECT r.id, r.number, r.status, r.kind, r.amount_minor, r.currency, r.issued_at,
                  r.canceled_at, r.cancel_reason, rd.active,
                  (SELECT e.status FROM receipt_emails e
                   WHERE e.receipt_id = r.id AND e.kind = 'receipt') AS email_status
           FROM receipt_donations rd JOIN receipts r ON r.id = rd.receipt_id
           WHERE rd.organization_id = $1 AND rd.donation_id = $2
           ORDER BY r.issued_at""", org_id, donation_id)]  # fmt: skip
    return out


async def live_receipt(conn: Conn, org_id: UUID, donation_id: UUID) -> UUID | None:
    rid: UUID | None = await conn.fetchval(
        """SELECT rd.receipt_id FROM receipt_donations rd JOIN receipts r ON r.id = rd.receipt_id
           WHERE rd.organization_id = $1 AND rd.donation_id = $2 AND rd.active
             AND r.status = 'issued'""",
        org_id,
        donation_id,
    )
    return rid


async def reset_receipt_email(conn: Conn, org_id: UUID, receipt_id: UUID) -> None:
    """Make the receipt's e-mail due again (the mail job sends nothing already sent)."""
    await conn.execute(
        """INSERT INTO receipt_emails (organization_id, receipt_id, kind) VALUES ($1, $2, 'receipt')
           ON CONFLICT (receipt_id, kind) DO UPDATE SET status = 'pending', last_error = NULL""",
        org_id,
        receipt_id,
    )
