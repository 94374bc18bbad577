"""What the back-office shows next to recurring plans: their donors and campaigns."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from donate.db.types import Conn


async def donors(conn: Conn, org_id: UUID, donor_ids: list[UUID]) -> dict[UUID, asyncpg.Record]:
    rows = await conn.fetch(
        """SELECT id, email, first_name, last_name, company_name, erased_at FROM donors
           WHERE organization_id = $1 AND id = ANY($2::uuid[])""",
        org_id,
        donor_ids,
    )
    return {r["id"]: r for r in rows}


async def campaign_titles(conn: Conn, org_id: UUID, campaign_ids: list[UUID]) -> dict[UUID, str]:
    rows = await conn.fetch(
        "SELECT id, title FROM campaigns WHERE organization_id = $1 AND id = ANY($2::uuid[])",
        org_id,
        campaign_ids,
    )
    return {r["id"]: str(r["title"]) for r in rows}


async def org_currency(conn: Conn, org_id: UUID) -> str:
    currency: str = await conn.fetchval("SELECT currency FROM organizations WHERE id = $1", org_id)
    return currency
