"""Campaigns and their tiers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from donate.db.types import Conn


@dataclass(frozen=True, slots=True)
class Tier:
    id: UUID
    title: str
    description: str
    amount_minor: int
    counterpart_value_minor: int
    quantity_limit: int | None
    quantity_claimed: int

    @property
    def remaining(self) -> int | None:
        return None if self.quantity_limit is None else self.quantity_limit - self.quantity_claimed


@dataclass(frozen=True, slots=True)
class Campaign:
    id: UUID
    organization_id: UUID
    org_slug: str
    org_name: str
    slug: str
    kind: str
    title: str
    story_md: str
    currency: str
    goal_minor: int | None
    min_amount_minor: int
    max_amount_minor: int
    suggested_amounts_minor: list[int]
    frequencies: list[str]
    receipt_eligible: bool
    status: str
    starts_at: datetime | None
    ends_at: datetime | None
    raised_minor: int
    donors_count: int
    tiers: tuple[Tier, ...]

    def accepting_gifts_at(self, now: datetime) -> bool:
        return (
            self.status == "live"
            and (self.starts_at is None or self.starts_at <= now)
            and (self.ends_at is None or now < self.ends_at)
        )


_SELECT = """SELECT c.*, o.slug AS org_slug, o.legal_name AS org_name
             FROM campaigns c JOIN organizations o ON o.id = c.organization_id"""

CAMPAIGN_FIELDS = (
    "kind", "title", "story_md", "cover_url", "currency", "goal_minor", "min_amount_minor",
    "max_amount_minor", "suggested_amounts_minor", "frequencies", "receipt_eligible", "status",
    "starts_at", "ends_at", "thank_you_message",
)  # fmt: skip


async def _with_tiers(conn: Conn, r: asyncpg.Record | None) -> Campaign | None:
    if r is None:
        return None
    tiers = await conn.fetch(
        "SELECT * FROM tiers WHERE campaign_id = $1 ORDER BY position, amount_minor", r["id"]
    )
    return Campaign(
        id=r["id"],
        organization_id=r["organization_id"],
        org_slug=r["org_slug"],
        org_name=r["org_name"],
        slug=r["slug"],
        kind=r["kind"],
        title=r["title"],
        story_md=r["story_md"],
        currency=r["currency"],
        goal_minor=r["goal_minor"],
        min_amount_minor=r["min_amount_minor"],
        max_amount_minor=r["max_amount_minor"],
        suggested_amounts_minor=list(r["suggested_amounts_minor"]),
        frequencies=list(r["frequencies"]),
        receipt_eligible=r["receipt_eligible"],
        status=r["status"],
        starts_at=r["starts_at"],
        ends_at=r["ends_at"],
        raised_minor=r["raised_minor"],
        donors_count=r["donors_count"],
        tiers=tuple(
            Tier(
                t["id"],
                t["title"],
                t["description"],
                t["amount_minor"],
                t["counterpart_value_minor"],
                t["quantity_limit"],
                t["quantity_claimed"],
            )
            for t in tiers
        ),
    )


async def get_campaign(conn: Conn, campaign_id: UUID) -> Campaign | None:
    return await _with_tiers(conn, await conn.fetchrow(f"{_SELECT} WHERE c.id = $1", campaign_id))


async def get_campaign_by_slug(conn: Conn, org_slug: str, slug: str) -> Campaign | None:
    row = await conn.fetchrow(f"{_SELECT} WHERE o.slug = $1 AND c.slug = $2", org_slug, slug)
    return await _with_tiers(conn, row)


async def upsert_campaign(conn: Conn, org_id: UUID, slug: str, fields: dict[str, Any]) -> UUID:
    """Create or update a campaign keyed by (association, slug); totals are never touched."""
    unknown = set(fields) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise ValueError(f"unknown campaign fields: {sorted(unknown)}")
    cols = list(fields)
    placeholders = ", ".join(f"${i}" for i in range(3, len(cols) + 3))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols)
    campaign_id: UUID = await conn.fetchval(
        f"""INSERT INTO campaigns (organization_id, slug, {", ".join(cols)})
            VALUES ($1, $2, {placeholders})
            ON CONFLICT (organization_id, slug) DO UPDATE SET {updates}, updated_at = now()
            RETURNING id""",
        org_id,
        slug,
        *fields.values(),
    )
    return campaign_id


async def replace_tiers(
    conn: Conn, org_id: UUID, campaign_id: UUID, tiers: list[dict[str, Any]]
) -> None:
    """Upsert tiers by title; claimed quantities are kept (stock already sold stays sold)."""
    for position, tier in enumerate(tiers):
        existing = await conn.fetchval(
            "SELECT id FROM tiers WHERE campaign_id = $1 AND title = $2", campaign_id, tier["title"]
        )
        if existing:
            await conn.execute(
                """UPDATE tiers SET description = $2, amount_minor = $3, quantity_limit = $4,
                       counterpart_value_minor = $5, position = $6 WHERE id = $1""",
                existing,
                tier.get("description", ""),
                tier["amount_minor"],
                tier.get("quantity_limit"),
                tier.get("counterpart_value_minor", 0),
                position,
            )
        else:
            await conn.execute(
                """INSERT INTO tiers (organization_id, campaign_id, title, description,
                       amount_minor, quantity_limit, counterpart_value_minor, position)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
                org_id,
                campaign_id,
                tier["title"],
                tier.get("description", ""),
                tier["amount_minor"],
                tier.get("quantity_limit"),
                tier.get("counterpart_value_minor", 0),
                position,
            )


async def claim_tier(conn: Conn, org_id: UUID, tier_id: UUID) -> bool:
    """Take one unit of a tier's stock; False when sold out (the CHECK forbids overselling)."""
    done = await conn.fetchval(
        """UPDATE tiers SET quantity_claimed = quantity_claimed + 1
           WHERE organization_id = $1 AND id = $2
             AND (quantity_limit IS NULL OR quantity_claimed < quantity_limit)
           RETURNING id""",
        org_id,
        tier_id,
    )
    return done is not None


async def release_tier(conn: Conn, org_id: UUID, tier_id: UUID) -> None:
    await conn.execute(
        """UPDATE tiers SET quantity_claimed = quantity_claimed - 1
           WHERE organization_id = $1 AND id = $2 AND quantity_claimed > 0""",
        org_id,
        tier_id,
    )


async def add_to_totals(
    conn: Conn, campaign_id: UUID, raised_delta: int, donors_delta: int
) -> None:
    if raised_delta or donors_delta:
        await conn.execute(
            """UPDATE campaigns SET raised_minor = raised_minor + $2,
                   donors_count = donors_count + $3 WHERE id = $1""",
            campaign_id,
            raised_delta,
            donors_delta,
        )
