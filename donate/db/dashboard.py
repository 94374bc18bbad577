"""What the association's dashboard reads: totals, gifts per day, what needs attention."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from donate.db.types import Conn

# The donor as the back-office shows them: nothing of an erased donor.
DONOR_LABEL = """CASE WHEN p.erased_at IS NOT NULL THEN NULL
                      ELSE coalesce(nullif(p.company_name, ''),
                                    nullif(btrim(p.first_name || ' ' || p.last_name), ''))
                 END"""


async def campaign_totals(conn: Conn, org_id: UUID) -> list[dict[str, Any]]:
    """Every campaign with its kept total, donors, gifts and refunded amount."""
    rows = await conn.fetch(
        """SELECT c.id, c.title, c.slug, c.kind, c.status, c.currency, c.goal_minor,
                  c.raised_minor, c.donors_count,
                  coalesce(s.gifts, 0) AS gifts, coalesce(s.refunded, 0)::bigint AS refunded
           FROM campaigns c
           LEFT JOIN LATERAL (
               SELECT count(*) FILTER (WHERE d.counted_minor > 0) AS gifts,
                      sum(d.amount_minor - d.counted_minor)
                          FILTER (WHERE d.status IN ('refunded', 'partially_refunded'))
                          AS refunded
               FROM donations d WHERE d.organization_id = c.organization_id
                 AND d.campaign_id = c.id) s ON true
           WHERE c.organization_id = $1
           ORDER BY (c.status = 'live') DESC, c.raised_minor DESC, c.created_at DESC""",
        org_id,
    )
    return [dict(r) for r in rows]


async def gifts_per_day(
    conn: Conn, org_id: UUID, start: datetime, end: datetime, tz: str
) -> list[dict[str, Any]]:
    """Per local day and currency: the kept amount and the number of gifts made that day."""
    rows = await conn.fetch(
        """SELECT (d.created_at AT TIME ZONE $4)::date AS day, d.currency,
                  sum(d.counted_minor)::bigint AS total, count(*) AS gifts
           FROM donations d
           WHERE d.organization_id = $1 AND d.counted_minor > 0
             AND d.created_at >= $2 AND d.created_at < $3
           GROUP BY 1, 2 ORDER BY 1""",
        org_id,
        start,
        end,
        tz,
    )
    return [dict(r) for r in rows]


async def recent_donations(conn: Conn, org_id: UUID, limit: int = 10) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"""SELECT d.id, d.created_at, d.amount_minor, d.currency, d.status, d.frequency,
                   c.title AS campaign_title, {DONOR_LABEL} AS donor_name
            FROM donations d
            JOIN campaigns c ON c.id = d.campaign_id
            JOIN donors p ON p.id = d.donor_id
            WHERE d.organization_id = $1
            ORDER BY d.created_at DESC, d.id DESC LIMIT $2""",
        org_id,
        limit,
    )
    return [dict(r) for r in rows]


async def failed_receipt_emails(conn: Conn, org_id: UUID, limit: int = 20) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT e.receipt_id, e.kind, e.attempts, e.last_error, e.created_at, r.number,
                  (SELECT rd.donation_id FROM receipt_donations rd
                   WHERE rd.receipt_id = r.id ORDER BY rd.donation_id LIMIT 1) AS donation_id
           FROM receipt_emails e JOIN receipts r ON r.id = e.receipt_id
           WHERE e.organization_id = $1 AND e.status = 'failed'
           ORDER BY e.created_at DESC LIMIT $2""",
        org_id,
        limit,
    )
    return [dict(r) for r in rows]


async def unmatched_payout_lines(conn: Conn, org_id: UUID, limit: int = 20) -> list[dict[str, Any]]:
    """Movements of a payout that belong to a gift but are not matched to one yet."""
    rows = await conn.fetch(
        """SELECT l.id, l.kind, l.gross_minor, l.fee_minor, l.net_minor, l.currency,
                  l.occurred_at, l.payment_ref, l.source_id, l.description,
                  po.id AS payout_id, po.provider, po.provider_payout_id, po.arrival_date
           FROM payout_lines l JOIN payouts po ON po.id = l.payout_id
           WHERE l.organization_id = $1 AND l.donation_id IS NULL
             AND l.kind IN ('payment', 'refund', 'dispute', 'adjustment')
           ORDER BY po.arrival_date DESC NULLS LAST, l.occurred_at DESC NULLS LAST LIMIT $2""",
        org_id,
        limit,
    )
    return [dict(r) for r in rows]
