"""Many paid gifts at once, straight in SQL (as the payment flow leaves them), and the
invariants every receipt test ends with."""

from __future__ import annotations

import uuid
from typing import Any

from donate.db.types import Conn

_SEED = """
WITH new_donors AS (
    INSERT INTO donors (organization_id, email, first_name, last_name, address_line1,
                        postal_code, city, locale)
    SELECT $1, $4 || i || '@example.org', 'Élise' || i, 'Bulk', i || ' rue des Lilas',
           '75011', 'Paris', CASE WHEN i % 5 = 0 THEN 'en' ELSE 'fr' END
    FROM generate_series(1, $3) AS i
    RETURNING id
), new_gifts AS (
    INSERT INTO donations (organization_id, campaign_id, donor_id, amount_minor, currency,
                           provider, status, counted_minor, wants_receipt, expires_at)
    SELECT $1, $2, id, 1000 + (row_number() OVER ()) % 9000, 'EUR', 'stripe', 'paid',
           1000 + (row_number() OVER ()) % 9000, true, now()
    FROM new_donors
    RETURNING id, amount_minor
)
INSERT INTO payments (organization_id, donation_id, provider, provider_account_id, checkout_id,
                      provider_payment_id, status, amount_minor, currency, method, paid_at)
SELECT $1, id, 'stripe', 'acct_bulk', 'cs_' || id, 'pi_' || id, 'paid', amount_minor, 'EUR',
       'card', now() - interval '1 hour'
FROM new_gifts
RETURNING donation_id
"""


async def seed_paid_gifts(
    conn: Conn, org_id: uuid.UUID, campaign_id: uuid.UUID, n: int
) -> list[uuid.UUID]:
    """``n`` gifts paid by card an hour ago, each by its own donor, wanting a receipt."""
    prefix = f"bulk-{uuid.uuid4().hex[:8]}-"
    rows = await conn.fetch(_SEED, org_id, campaign_id, n, prefix)
    return [r[0] for r in rows]


async def org_and_campaign(conn: Conn, seeded: dict[str, Any]) -> tuple[uuid.UUID, uuid.UUID]:
    org_id = await conn.fetchval("SELECT id FROM organizations WHERE slug = $1", seeded["org_slug"])
    return org_id, uuid.UUID(str(seeded["campaigns"][0]["id"]))


async def assert_one_live_receipt_each(
    conn: Conn, org_id: uuid.UUID, gifts: list[uuid.UUID]
) -> None:
    """Every gift has exactly one live receipt; the association's numbers of each year are
    unique and run 1..N without a gap (canceled ones included: numbers are never reused)."""
    live = await conn.fetch(
        """SELECT donation_id, count(*) AS n FROM receipt_donations
           WHERE active AND donation_id = ANY($1::uuid[]) GROUP BY donation_id""",
        gifts,
    )
    counts = {r["donation_id"]: r["n"] for r in live}
    missing = [g for g in gifts if g not in counts]
    assert not missing, f"{len(missing)} gifts without a live receipt"
    assert set(counts.values()) == {1}
    for year in await conn.fetch(
        "SELECT DISTINCT year FROM receipts WHERE organization_id = $1", org_id
    ):
        seqs = [
            r[0]
            for r in await conn.fetch(
                "SELECT seq FROM receipts WHERE organization_id = $1 AND year = $2 ORDER BY seq",
                org_id,
                year[0],
            )
        ]
        assert seqs == list(range(1, len(seqs) + 1)), "numbers with a gap or a duplicate"
        last = await conn.fetchval(
            "SELECT last_number FROM receipt_sequences WHERE organization_id = $1 AND year = $2",
            org_id,
            year[0],
        )
        assert last == len(seqs)
