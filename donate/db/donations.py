"""Donors, donations, provider payments, refunds, disputes and the status history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from donate.db.types import Conn


@dataclass(frozen=True, slots=True)
class DonationRow:
    id: UUID
    organization_id: UUID
    campaign_id: UUID
    donor_id: UUID
    tier_id: UUID | None
    tier_held: bool
    amount_minor: int
    currency: str
    frequency: str
    tip_minor: int
    fee_cover_minor: int
    platform_fee_minor: int
    provider: str
    status: str
    counted_minor: int
    wants_receipt: bool
    anonymous: bool
    locale: str
    expires_at: datetime
    created_at: datetime

    @property
    def charged_minor(self) -> int:
        """What the payer is charged: the gift, the opt-in tip and the covered fees."""
        return self.amount_minor + self.tip_minor + self.fee_cover_minor


@dataclass(frozen=True, slots=True)
class PaymentRow:
    id: UUID
    organization_id: UUID
    donation_id: UUID
    provider: str
    provider_account_id: str
    checkout_id: str | None
    provider_payment_id: str | None
    status: str
    amount_minor: int
    currency: str
    refunded_minor: int
    disputed_minor: int
    fee_minor: int | None
    method: str | None
    paid_at: datetime | None


def _donation(r: asyncpg.Record) -> DonationRow:
    return DonationRow(**{f: r[f] for f in DonationRow.__dataclass_fields__})


def _payment(r: asyncpg.Record) -> PaymentRow:
    return PaymentRow(**{f: r[f] for f in PaymentRow.__dataclass_fields__})


DONOR_FIELDS = (
    "first_name", "last_name", "company_name", "legal_form", "siren", "address_line1",
    "address_line2", "postal_code", "city", "country", "locale",
)  # fmt: skip


async def upsert_donor(conn: Conn, org_id: UUID, email: str, fields: dict[str, Any]) -> UUID:
    """One donor per association and e-mail; the latest identity given wins."""
    cols = [c for c in DONOR_FIELDS if c in fields]
    placeholders = ", ".join(f"${i}" for i in range(3, len(cols) + 3))
    updates = ", ".join([*(f"{c} = EXCLUDED.{c}" for c in cols), "updated_at = now()"])
    donor_id: UUID = await conn.fetchval(
        f"""INSERT INTO donors (organization_id, email{"".join(", " + c for c in cols)})
            VALUES ($1, $2{", " + placeholders if cols else ""})
            ON CONFLICT (organization_id, lower(email)) DO UPDATE SET {updates}
            RETURNING id""",
        org_id,
        email,
        *(fields[c] for c in cols),
    )
    return donor_id


async def insert_donation(conn: Conn, values: dict[str, Any]) -> DonationRow:
    cols = list(values)
    row = await conn.fetchrow(
        f"""INSERT INTO donations ({", ".join(cols)})
            VALUES ({", ".join(f"${i}" for i in range(1, len(cols) + 1))}) RETURNING *""",
        *values.values(),
    )
    assert row is not None
    return _donation(row)


async def get_donation(
    conn: Conn, donation_id: UUID, *, for_update: bool = False
) -> DonationRow | None:
    row = await conn.fetchrow(
        "SELECT * FROM donations WHERE id = $1" + (" FOR UPDATE" if for_update else ""), donation_id
    )
    return _donation(row) if row else None


async def insert_payment(conn: Conn, donation: DonationRow, provider_account_id: str) -> PaymentRow:
    row = await conn.fetchrow(
        """INSERT INTO payments (organization_id, donation_id, provider, provider_account_id,
               amount_minor, currency)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING *""",
        donation.organization_id,
        donation.id,
        donation.provider,
        provider_account_id,
        donation.charged_minor,
        donation.currency,
    )
    assert row is not None
    return _payment(row)


async def set_payment_checkout(
    conn: Conn, payment_id: UUID, checkout_id: str, provider_payment_id: str | None
) -> None:
    await conn.execute(
        """UPDATE payments SET checkout_id = $2,
               provider_payment_id = coalesce(provider_payment_id, $3), updated_at = now()
           WHERE id = $1""",
        payment_id,
        checkout_id,
        provider_payment_id,
    )


async def find_payment(
    conn: Conn, provider: str, *, refs: list[str], donation_id: UUID | None = None
) -> PaymentRow | None:
    """The payment a provider object is about: by checkout or payment id, else by the
    donation id we put in the provider's metadata."""
    row = await conn.fetchrow(
        """SELECT * FROM payments WHERE provider = $1
             AND (checkout_id = ANY($2::text[]) OR provider_payment_id = ANY($2::text[]))
           ORDER BY created_at LIMIT 1""",
        provider,
        refs,
    )
    if row is None and donation_id is not None:
        row = await conn.fetchrow(
            "SELECT * FROM payments WHERE provider = $1 AND donation_id = $2 "
            "ORDER BY created_at LIMIT 1",
            provider,
            donation_id,
        )
    return _payment(row) if row else None


async def payments_of(conn: Conn, donation_id: UUID) -> list[PaymentRow]:
    rows = await conn.fetch(
        "SELECT * FROM payments WHERE donation_id = $1 ORDER BY created_at", donation_id
    )
    return [_payment(r) for r in rows]


async def update_payment_state(conn: Conn, payment_id: UUID, values: dict[str, Any]) -> None:
    cols = list(values)
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(cols, start=2))
    await conn.execute(
        f"UPDATE payments SET {sets}, updated_at = now() WHERE id = $1",
        payment_id,
        *values.values(),
    )


async def set_donation_state(
    conn: Conn, donation_id: UUID, *, status: str, counted_minor: int, tier_held: bool
) -> None:
    await conn.execute(
        """UPDATE donations SET status = $2, counted_minor = $3, tier_held = $4, updated_at = now()
           WHERE id = $1""",
        donation_id,
        status,
        counted_minor,
        tier_held,
    )


async def add_history(
    conn: Conn,
    donation: DonationRow,
    from_status: str | None,
    to_status: str,
    source: str,
    *,
    provider_event_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO donation_status_history (organization_id, donation_id, from_status,
               to_status, source, provider_event_id, detail)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        donation.organization_id,
        donation.id,
        from_status,
        to_status,
        source,
        provider_event_id,
        detail or {},
    )


async def history(conn: Conn, donation_id: UUID) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            """SELECT at, from_status, to_status, source, provider_event_id, detail
               FROM donation_status_history WHERE donation_id = $1 ORDER BY id""",
            donation_id,
        )
    )


async def upsert_refund(
    conn: Conn, payment: PaymentRow, provider_refund_id: str, amount_minor: int, status: str
) -> None:
    """Refunds seen at the provider (ours or made in its dashboard), keyed by their id."""
    await conn.execute(
        """INSERT INTO refunds (organization_id, donation_id, payment_id, provider,
               provider_refund_id, amount_minor, currency, status, origin)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'dashboard')
           ON CONFLICT (provider, provider_refund_id) DO UPDATE
               SET status = EXCLUDED.status, amount_minor = EXCLUDED.amount_minor,
                   updated_at = now()""",
        payment.organization_id,
        payment.donation_id,
        payment.id,
        payment.provider,
        provider_refund_id,
        amount_minor,
        payment.currency,
        status,
    )


async def recorded_at_provider(
    conn: Conn, payment_id: UUID
) -> tuple[dict[str, str], dict[str, str]]:
    """The refunds and disputes of a payment already recorded from the provider (id →
    status): a snapshot that does not know them was fetched before them."""
    refunds = await conn.fetch(
        "SELECT provider_refund_id, status FROM refunds "
        "WHERE payment_id = $1 AND provider_refund_id IS NOT NULL",
        payment_id,
    )
    disputes = await conn.fetch(
        "SELECT provider_dispute_id, status FROM disputes WHERE payment_id = $1", payment_id
    )
    return (
        {r["provider_refund_id"]: r["status"] for r in refunds},
        {d["provider_dispute_id"]: d["status"] for d in disputes},
    )


async def upsert_dispute(
    conn: Conn, payment: PaymentRow, provider_dispute_id: str, amount_minor: int, status: str
) -> None:
    await conn.execute(
        """INSERT INTO disputes (organization_id, donation_id, payment_id, provider,
               provider_dispute_id, amount_minor, currency, status)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (provider, provider_dispute_id) DO UPDATE
               SET status = EXCLUDED.status, amount_minor = EXCLUDED.amount_minor,
                   updated_at = now()""",
        payment.organization_id,
        payment.donation_id,
        payment.id,
        payment.provider,
        provider_dispute_id,
        amount_minor,
        payment.currency,
        status,
    )


async def stale_pending(conn: Conn, older_than_s: float, limit: int = 200) -> list[DonationRow]:
    """Pending donations not heard of for a while: the reconciliation cron re-fetches them."""
    rows = await conn.fetch(
        """SELECT * FROM donations WHERE status = 'pending'
             AND updated_at < now() - make_interval(secs => $1)
           ORDER BY updated_at LIMIT $2""",
        float(older_than_s),
        limit,
    )
    return [_donation(r) for r in rows]
