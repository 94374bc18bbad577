"""What integrator events say about their subject, read inside the emitting transaction.

Field names follow the association API (CONTRACT.md): money in minor units + currency.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from donate.db.types import Conn

DONOR_FIELDS = (
    "email", "first_name", "last_name", "company_name", "siren", "address_line1",
    "address_line2", "postal_code", "city", "country",
)  # fmt: skip


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


async def organization(conn: Conn, org_id: UUID) -> dict[str, Any]:
    row = await conn.fetchrow("SELECT slug, legal_name FROM organizations WHERE id = $1", org_id)
    assert row is not None
    return {"slug": row["slug"], "name": row["legal_name"]}


async def donation(conn: Conn, org_id: UUID, donation_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        """SELECT d.*, p.provider_payment_id, p.checkout_id, p.fee_minor, p.method, p.paid_at,
                  p.refunded_minor, p.disputed_minor
           FROM donations d
           LEFT JOIN LATERAL (
               SELECT * FROM payments WHERE donation_id = d.id
               ORDER BY (status = 'paid') DESC, created_at DESC LIMIT 1) p ON true
           WHERE d.organization_id = $1 AND d.id = $2""",
        org_id,
        donation_id,
    )
    if row is None:
        return None
    donor = await conn.fetchrow(
        "SELECT * FROM donors WHERE organization_id = $1 AND id = $2", org_id, row["donor_id"]
    )
    assert donor is not None
    receipt_ids = await conn.fetch(
        "SELECT receipt_id FROM receipt_donations WHERE organization_id = $1 AND donation_id = $2",
        org_id,
        donation_id,
    )
    return {
        "id": str(row["id"]),
        "status": row["status"],
        "campaign_id": str(row["campaign_id"]),
        "amount_minor": row["amount_minor"],
        "currency": row["currency"],
        "frequency": row["frequency"],
        "tip_minor": row["tip_minor"],
        "fee_minor": row["fee_minor"],
        "fee_cover_minor": row["fee_cover_minor"],
        "platform_fee_minor": row["platform_fee_minor"],
        "counted_minor": row["counted_minor"],
        "refunded_minor": row["refunded_minor"] or 0,
        "disputed_minor": row["disputed_minor"] or 0,
        "provider": row["provider"],
        "provider_payment_id": row["provider_payment_id"],
        "provider_checkout_id": row["checkout_id"],
        "provider_subscription_id": None,
        "method": row["method"],
        "wants_receipt": row["wants_receipt"],
        "anonymous": row["anonymous"],
        "created_at": _iso(row["created_at"]),
        "paid_at": _iso(row["paid_at"]),
        "donor": {k: donor[k] for k in DONOR_FIELDS},
        "receipt_ids": [str(r["receipt_id"]) for r in receipt_ids],
    }


async def receipt(conn: Conn, org_id: UUID, receipt_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        """SELECT r.*, rr.number AS replaces_number,
                  array(SELECT donation_id FROM receipt_donations rd
                        WHERE rd.receipt_id = r.id ORDER BY donation_id) AS donation_ids
           FROM receipts r LEFT JOIN receipts rr ON rr.id = r.replaces
           WHERE r.organization_id = $1 AND r.id = $2""",
        org_id,
        receipt_id,
    )
    if row is None:
        return None
    return {
        "id": str(row["id"]),
        "number": row["number"],
        "status": row["status"],
        "kind": row["kind"],
        "form": row["form"],
        "donation_ids": [str(d) for d in row["donation_ids"]],
        "amount_minor": row["amount_minor"],
        "currency": row["currency"],
        "fiscal_year": row["fiscal_year"],
        "issued_at": _iso(row["issued_at"]),
        "replaces": str(row["replaces"]) if row["replaces"] else None,
        "replaces_number": row["replaces_number"],
        "canceled_at": _iso(row["canceled_at"]),
        "cancel_reason": row["cancel_reason"],
    }
