"""Donors in the back-office, their data export and their erasure (GDPR art. 15, 17, 20).

Erasure has two steps. ``pseudonymise`` runs when the association erases a donor: the
donor row loses every personal field (the e-mail becomes a unique placeholder, so the same
person giving again is a new donor), and so do the messages of their gifts, card details
and the copies sent to integrators. Issued receipts keep their frozen snapshot: the law
needs it for 6 years (LPF L102 E). ``purge`` removes what was kept (the receipts' donor
section, the raw provider events about the gifts) once that period is over.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from donate.db.types import Conn

ERASED_DOMAIN = "erased.invalid"  # RFC 2606: can never be a real address
LIVE_PLANS = ("pending", "active", "failing", "paused")


def placeholder_email(donor_id: UUID) -> str:
    return f"erased-{donor_id.hex}@{ERASED_DOMAIN}"


async def search(
    conn: Conn, org_id: UUID, q: str, *, after: tuple[datetime, UUID] | None, limit: int
) -> list[dict[str, Any]]:
    """Donors newest first with their gift count and kept total; ``q`` matches name/e-mail."""
    like = None
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = await conn.fetch(
        """SELECT p.id, p.created_at, p.erased_at,
                  CASE WHEN p.erased_at IS NULL THEN p.email END AS email,
                  CASE WHEN p.erased_at IS NULL THEN coalesce(nullif(p.company_name, ''),
                       nullif(btrim(p.first_name || ' ' || p.last_name), '')) END AS name,
                  s.gifts, s.kept, s.currency
           FROM donors p
           LEFT JOIN LATERAL (
               SELECT count(*) FILTER (WHERE d.counted_minor > 0) AS gifts,
                      coalesce(sum(d.counted_minor), 0)::bigint AS kept, min(d.currency) AS currency
               FROM donations d
               WHERE d.organization_id = p.organization_id AND d.donor_id = p.id) s ON true
           WHERE p.organization_id = $1
             AND ($2::text IS NULL OR (p.erased_at IS NULL AND (p.email ILIKE $2
                  OR (p.first_name || ' ' || p.last_name) ILIKE $2
                  OR (p.last_name || ' ' || p.first_name) ILIKE $2
                  OR coalesce(p.company_name, '') ILIKE $2)))
             AND ($3::timestamptz IS NULL OR (p.created_at, p.id) < ($3, $4::uuid))
           ORDER BY p.created_at DESC, p.id DESC LIMIT $5""",
        org_id,
        like,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [dict(r) for r in rows]


async def donor(conn: Conn, org_id: UUID, donor_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT * FROM donors WHERE organization_id = $1 AND id = $2", org_id, donor_id
    )
    return dict(row) if row else None


async def lock_donor(conn: Conn, org_id: UUID, donor_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT * FROM donors WHERE organization_id = $1 AND id = $2 FOR UPDATE", org_id, donor_id
    )
    return dict(row) if row else None


async def donations_of(conn: Conn, org_id: UUID, donor_id: UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT d.id, d.created_at, d.amount_minor, d.currency, d.status, d.frequency,
                  d.tip_minor, d.counted_minor, d.provider, d.wants_receipt, d.anonymous,
                  d.message, d.locale, c.title AS campaign_title, t.title AS tier_title
           FROM donations d JOIN campaigns c ON c.id = d.campaign_id
           LEFT JOIN tiers t ON t.id = d.tier_id
           WHERE d.organization_id = $1 AND d.donor_id = $2
           ORDER BY d.created_at DESC, d.id DESC""",
        org_id,
        donor_id,
    )
    return [dict(r) for r in rows]


async def receipts_of(conn: Conn, org_id: UUID, donor_id: UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT id, number, kind, status, amount_minor, currency, fiscal_year, issued_at,
                  canceled_at, cancel_reason
           FROM receipts WHERE organization_id = $1 AND donor_id = $2
           ORDER BY issued_at DESC""",
        org_id,
        donor_id,
    )
    return [dict(r) for r in rows]


async def plans_of(conn: Conn, org_id: UUID, donor_id: UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT id, status, amount_minor, currency, frequency, provider, created_at, ended_at,
                  method_kind, card_brand, card_last4
           FROM recurring_plans WHERE organization_id = $1 AND donor_id = $2
           ORDER BY created_at DESC""",
        org_id,
        donor_id,
    )
    return [dict(r) for r in rows]


async def blockers(conn: Conn, org_id: UUID, donor_id: UUID) -> tuple[int, int]:
    """(pending gifts, live recurring plans): erasing now would break them."""
    row = await conn.fetchrow(
        """SELECT (SELECT count(*) FROM donations WHERE organization_id = $1 AND donor_id = $2
                     AND status = 'pending') AS pending,
                  (SELECT count(*) FROM recurring_plans WHERE organization_id = $1
                     AND donor_id = $2 AND status = ANY($3::text[])) AS plans""",
        org_id,
        donor_id,
        list(LIVE_PLANS),
    )
    assert row is not None
    return int(row["pending"]), int(row["plans"])


async def last_receipt_at(conn: Conn, org_id: UUID, donor_id: UUID) -> datetime | None:
    at: datetime | None = await conn.fetchval(
        "SELECT max(issued_at) FROM receipts WHERE organization_id = $1 AND donor_id = $2",
        org_id,
        donor_id,
    )
    return at


async def pseudonymise(
    conn: Conn, org_id: UUID, donor_id: UUID, *, due_at: datetime | None
) -> None:
    """Step one of erasure (see the module docstring); ``due_at``: when to purge the rest."""
    await conn.execute(
        """UPDATE donors SET email = $3, first_name = '', last_name = '', company_name = NULL,
               legal_form = NULL, siren = NULL, address_line1 = '', address_line2 = NULL,
               postal_code = '', city = '', erased_at = now(), erasure_due_at = $4,
               updated_at = now()
           WHERE organization_id = $1 AND id = $2""",
        org_id, donor_id, placeholder_email(donor_id), due_at,
    )  # fmt: skip
    # A receipt not issued yet never will be: there is no one left to issue it to.
    await conn.execute(
        """UPDATE donations d SET message = NULL, updated_at = now(),
               wants_receipt = d.wants_receipt AND EXISTS (
                   SELECT 1 FROM receipt_donations rd WHERE rd.donation_id = d.id AND rd.active)
           WHERE d.organization_id = $1 AND d.donor_id = $2""",
        org_id,
        donor_id,
    )
    await conn.execute(
        """UPDATE recurring_plans SET card_brand = NULL, card_last4 = NULL, card_exp_month = NULL,
               card_exp_year = NULL, updated_at = now()
           WHERE organization_id = $1 AND donor_id = $2""",
        org_id,
        donor_id,
    )
    await conn.execute(
        """UPDATE webhook_deliveries w
           SET payload = jsonb_set(w.payload, '{data,donor}', '{"erased": true}'::jsonb)
           WHERE w.organization_id = $1 AND w.payload #> '{data,donor}' IS NOT NULL
             AND w.payload #>> '{data,id}' IN (
                 SELECT id::text FROM donations WHERE organization_id = $1 AND donor_id = $2)""",
        org_id,
        donor_id,
    )
    await conn.execute(
        """UPDATE receipt_emails e SET last_error = NULL
           FROM receipts r WHERE r.id = e.receipt_id AND r.organization_id = $1
             AND r.donor_id = $2""",
        org_id,
        donor_id,
    )


async def purge(conn: Conn, org_id: UUID, donor_id: UUID) -> None:
    """Step two: what the receipts kept goes too; the erasure is then complete."""
    await conn.execute(
        """UPDATE receipts SET snapshot = jsonb_set(snapshot, '{donor}',
               '{"type": "erased"}'::jsonb)
           WHERE organization_id = $1 AND donor_id = $2""",
        org_id,
        donor_id,
    )
    await conn.execute(
        """UPDATE provider_events e SET payload = convert_to('{"redacted": true}', 'UTF8')
           WHERE e.processed_at IS NOT NULL AND e.organization_id = $1
             AND (e.donation_ref IN (
                      SELECT id::text FROM donations WHERE organization_id = $1 AND donor_id = $2)
                  OR e.payment_ref IN (
                      SELECT unnest(ARRAY[p.checkout_id, p.provider_payment_id]) FROM payments p
                      JOIN donations d ON d.id = p.donation_id
                      WHERE d.organization_id = $1 AND d.donor_id = $2))""",
        org_id,
        donor_id,
    )
    await conn.execute(
        "UPDATE donors SET purged_at = now(), updated_at = now() "
        "WHERE organization_id = $1 AND id = $2",
        org_id,
        donor_id,
    )


async def due_for_purge(conn: Conn, now: datetime, limit: int) -> list[tuple[UUID, UUID]]:
    """(association, donor) whose receipts' retention period is over."""
    rows = await conn.fetch(
        """SELECT organization_id, id FROM donors
           WHERE erased_at IS NOT NULL AND purged_at IS NULL AND erasure_due_at <= $1
           ORDER BY erasure_due_at LIMIT $2""",
        now,
        limit,
    )
    return [(r["organization_id"], r["id"]) for r in rows]
