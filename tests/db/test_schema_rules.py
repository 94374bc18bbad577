"""The database itself refuses what the business rules forbid."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from donate.services.runtime import Runtime


async def _org(conn: asyncpg.Connection[Any], slug: str) -> Any:
    return await conn.fetchval(
        """INSERT INTO organizations
               (slug, legal_name, address_line1, postal_code, city, siren, object)
           VALUES ($1, 'Asso', '1 rue', '75001', 'Paris', '123456789', 'objet') RETURNING id""",
        slug,
    )


async def test_money_and_tenancy_constraints(runtime: Runtime) -> None:
    async with runtime.pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            a = await _org(conn, "asso-a")
            b = await _org(conn, "asso-b")
            camp = await conn.fetchval(
                """INSERT INTO campaigns (organization_id, slug, kind, title, currency)
                   VALUES ($1, 'c', 'donation', 'T', 'EUR') RETURNING id""",
                a,
            )
            donor_b = await conn.fetchval(
                "INSERT INTO donors (organization_id, email) VALUES ($1, 'x@y.z') RETURNING id", b
            )
            # A donation of association A cannot point at a donor of association B.
            with pytest.raises(asyncpg.ForeignKeyViolationError):
                async with conn.transaction():
                    await conn.execute(
                        """INSERT INTO donations (organization_id, campaign_id, donor_id,
                               amount_minor, currency, provider, expires_at)
                           VALUES ($1, $2, $3, 1000, 'EUR', 'stripe', now())""",
                        a,
                        camp,
                        donor_b,
                    )
            donor_a = await conn.fetchval(
                "INSERT INTO donors (organization_id, email) VALUES ($1, 'x@y.z') RETURNING id", a
            )
            for amount in (0, -100):
                with pytest.raises(asyncpg.CheckViolationError):
                    async with conn.transaction():
                        await conn.execute(
                            """INSERT INTO donations (organization_id, campaign_id, donor_id,
                                   amount_minor, currency, provider, expires_at)
                               VALUES ($1, $2, $3, $4, 'EUR', 'stripe', now())""",
                            a,
                            camp,
                            donor_a,
                            amount,
                        )
            # A French association without SIREN nor RNA cannot exist (receipt mention 3).
            with pytest.raises(asyncpg.CheckViolationError):
                async with conn.transaction():
                    await conn.execute(
                        """INSERT INTO organizations (slug, legal_name, address_line1,
                               postal_code, city, object) VALUES ('x', 'X', 'a', 'p', 'c', 'o')"""
                    )
            tier = await conn.fetchval(
                """INSERT INTO tiers
                       (organization_id, campaign_id, title, amount_minor, quantity_limit)
                   VALUES ($1, $2, 't', 1000, 1) RETURNING id""",
                a,
                camp,
            )
            await conn.execute("UPDATE tiers SET quantity_claimed = 1 WHERE id = $1", tier)
            with pytest.raises(asyncpg.CheckViolationError):
                async with conn.transaction():
                    await conn.execute("UPDATE tiers SET quantity_claimed = 2 WHERE id = $1", tier)
        finally:
            await tx.rollback()
