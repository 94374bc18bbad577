"""Campaigns as the back-office edits them: every query is scoped by the association."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from donate.db.types import Conn


@dataclass(frozen=True, slots=True)
class TierRecord:
    id: UUID
    title: str
    description: str
    amount_minor: int
    counterpart_value_minor: int
    quantity_limit: int | None
    quantity_claimed: int
    position: int
    used: bool  # some donation points at it: it can be changed, never deleted


@dataclass(frozen=True, slots=True)
class CampaignRecord:
    id: UUID
    organization_id: UUID
    slug: str
    kind: str
    title: str
    story_md: str
    cover_url: str | None
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
    thank_you_message: str
    show_donor_wall: bool
    raised_minor: int
    donors_count: int
    created_at: datetime
    updated_at: datetime
    tiers: tuple[TierRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class UpdateRecord:
    id: UUID
    campaign_id: UUID
    title: str
    body_md: str
    published_at: datetime | None
    created_at: datetime


# What the editor may write; totals and ids are never written from a form.
EDITABLE = (
    "slug", "kind", "title", "story_md", "cover_url", "currency", "goal_minor",
    "min_amount_minor", "max_amount_minor", "suggested_amounts_minor", "frequencies",
    "receipt_eligible", "starts_at", "ends_at", "thank_you_message", "show_donor_wall",
)  # fmt: skip


def _record(r: asyncpg.Record, tiers: tuple[TierRecord, ...] = ()) -> CampaignRecord:
    fields = {f: r[f] for f in CampaignRecord.__dataclass_fields__ if f != "tiers"}
    fields["suggested_amounts_minor"] = list(r["suggested_amounts_minor"])
    fields["frequencies"] = list(r["frequencies"])
    fields["currency"] = str(r["currency"]).strip()
    return CampaignRecord(**fields, tiers=tiers)


async def list_campaigns(conn: Conn, org_id: UUID) -> list[CampaignRecord]:
    rows = await conn.fetch(
        """SELECT * FROM campaigns WHERE organization_id = $1
           ORDER BY (status = 'live') DESC, (status = 'draft') DESC, updated_at DESC""",
        org_id,
    )
    return [_record(r) for r in rows]


async def get_campaign(
    conn: Conn, org_id: UUID, campaign_id: UUID, *, for_update: bool = False
) -> CampaignRecord | None:
    row = await conn.fetchrow(
        "SELECT * FROM campaigns WHERE organization_id = $1 AND id = $2"
        + (" FOR UPDATE" if for_update else ""),
        org_id,
        campaign_id,
    )
    if row is None:
        return None
    tiers = await conn.fetch(
        """SELECT t.*, EXISTS (SELECT 1 FROM donations d WHERE d.organization_id = t.organization_id
                                  AND d.tier_id = t.id) AS used
           FROM tiers t WHERE t.organization_id = $1 AND t.campaign_id = $2
           ORDER BY t.position, t.amount_minor""",
        org_id,
        campaign_id,
    )
    return _record(
        row, tuple(TierRecord(**{f: t[f] for f in TierRecord.__dataclass_fields__}) for t in tiers)
    )


async def slug_taken(conn: Conn, org_id: UUID, slug: str, exclude: UUID | None) -> bool:
    found = await conn.fetchval(
        "SELECT 1 FROM campaigns WHERE organization_id = $1 AND slug = $2 "
        "AND ($3::uuid IS NULL OR id <> $3)",
        org_id,
        slug,
        exclude,
    )
    return found is not None


async def has_donations(conn: Conn, org_id: UUID, campaign_id: UUID) -> bool:
    found = await conn.fetchval(
        "SELECT 1 FROM donations WHERE organization_id = $1 AND campaign_id = $2 LIMIT 1",
        org_id,
        campaign_id,
    )
    return found is not None


async def insert_campaign(conn: Conn, org_id: UUID, values: dict[str, Any]) -> UUID:
    _check(values)
    cols = list(values)
    campaign_id: UUID = await conn.fetchval(
        f"""INSERT INTO campaigns (organization_id, {", ".join(cols)})
            VALUES ($1, {", ".join(f"${i}" for i in range(2, len(cols) + 2))}) RETURNING id""",
        org_id,
        *values.values(),
    )
    return campaign_id


async def update_campaign(
    conn: Conn, org_id: UUID, campaign_id: UUID, values: dict[str, Any]
) -> None:
    _check(values)
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(values, start=3))
    await conn.execute(
        f"UPDATE campaigns SET {sets}, updated_at = now() WHERE organization_id = $1 AND id = $2",
        org_id,
        campaign_id,
        *values.values(),
    )


def _check(values: dict[str, Any]) -> None:
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")


async def set_status(conn: Conn, org_id: UUID, campaign_id: UUID, status: str) -> None:
    await conn.execute(
        "UPDATE campaigns SET status = $3, updated_at = now() "
        "WHERE organization_id = $1 AND id = $2",
        org_id,
        campaign_id,
        status,
    )


# Tiers ------------------------------------------------------------------------------------


async def insert_tier(conn: Conn, org_id: UUID, campaign_id: UUID, values: dict[str, Any]) -> UUID:
    tier_id: UUID = await conn.fetchval(
        """INSERT INTO tiers (organization_id, campaign_id, title, description, amount_minor,
               counterpart_value_minor, quantity_limit, position)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id""",
        org_id, campaign_id, values["title"], values["description"], values["amount_minor"],
        values["counterpart_value_minor"], values["quantity_limit"], values["position"],
    )  # fmt: skip
    return tier_id


async def update_tier(conn: Conn, org_id: UUID, tier_id: UUID, values: dict[str, Any]) -> bool:
    """False when the new stock is below what is already claimed (nothing written)."""
    done = await conn.fetchval(
        """UPDATE tiers SET title = $3, description = $4, amount_minor = $5,
               counterpart_value_minor = $6, quantity_limit = $7, position = $8
           WHERE organization_id = $1 AND id = $2
             AND ($7::int IS NULL OR $7::int >= quantity_claimed)
           RETURNING id""",
        org_id, tier_id, values["title"], values["description"], values["amount_minor"],
        values["counterpart_value_minor"], values["quantity_limit"], values["position"],
    )  # fmt: skip
    return done is not None


async def delete_tier(conn: Conn, org_id: UUID, tier_id: UUID) -> None:
    await conn.execute("DELETE FROM tiers WHERE organization_id = $1 AND id = $2", org_id, tier_id)


# Updates (news) ---------------------------------------------------------------------------


def _update(r: asyncpg.Record) -> UpdateRecord:
    return UpdateRecord(**{f: r[f] for f in UpdateRecord.__dataclass_fields__})


async def list_updates(conn: Conn, org_id: UUID, campaign_id: UUID) -> list[UpdateRecord]:
    rows = await conn.fetch(
        """SELECT * FROM campaign_updates WHERE organization_id = $1 AND campaign_id = $2
           ORDER BY coalesce(published_at, created_at) DESC""",
        org_id,
        campaign_id,
    )
    return [_update(r) for r in rows]


async def get_update(
    conn: Conn, org_id: UUID, campaign_id: UUID, update_id: UUID
) -> UpdateRecord | None:
    row = await conn.fetchrow(
        "SELECT * FROM campaign_updates WHERE organization_id = $1 AND campaign_id = $2 "
        "AND id = $3",
        org_id,
        campaign_id,
        update_id,
    )
    return _update(row) if row else None


async def save_update(
    conn: Conn, org_id: UUID, campaign_id: UUID, update_id: UUID | None, title: str, body: str,
    published_at: datetime | None,
) -> UUID:  # fmt: skip
    if update_id is None:
        new_id: UUID = await conn.fetchval(
            """INSERT INTO campaign_updates (organization_id, campaign_id, title, body_md,
                   published_at) VALUES ($1, $2, $3, $4, $5) RETURNING id""",
            org_id, campaign_id, title, body, published_at,
        )  # fmt: skip
        return new_id
    await conn.execute(
        """UPDATE campaign_updates SET title = $4, body_md = $5, published_at = $6,
               updated_at = now()
           WHERE organization_id = $1 AND campaign_id = $2 AND id = $3""",
        org_id, campaign_id, update_id, title, body, published_at,
    )  # fmt: skip
    return update_id


# Cover images -----------------------------------------------------------------------------


async def insert_image(
    conn: Conn, org_id: UUID, campaign_id: UUID, png: bytes, sha256: str
) -> UUID:
    image_id: UUID = await conn.fetchval(
        """INSERT INTO campaign_images (organization_id, campaign_id, png, sha256)
           VALUES ($1, $2, $3, $4) RETURNING id""",
        org_id,
        campaign_id,
        png,
        sha256,
    )
    return image_id


async def image_png(conn: Conn, image_id: UUID) -> tuple[bytes, str] | None:
    """A cover image for the public pages (any association: its id is unguessable)."""
    row = await conn.fetchrow("SELECT png, sha256 FROM campaign_images WHERE id = $1", image_id)
    return (bytes(row["png"]), str(row["sha256"])) if row else None


async def organization_identity(conn: Conn, org_id: UUID) -> dict[str, Any]:
    """What decides receipt eligibility and defaults: SIREN/RNA, qualification, signatory."""
    row = await conn.fetchrow(
        """SELECT slug, legal_name, siren, rna, fiscal_qualification, currency, locale,
                  receipt_signatory_name, receipt_signatory_role
           FROM organizations WHERE id = $1""",
        org_id,
    )
    assert row is not None
    return dict(row)


async def active_provider_accounts(conn: Conn, org_id: UUID) -> int:
    n: int = await conn.fetchval(
        "SELECT count(*) FROM provider_accounts WHERE organization_id = $1 AND status = 'active'",
        org_id,
    )
    return n


async def set_cover_url(conn: Conn, org_id: UUID, campaign_id: UUID, url: str | None) -> None:
    await conn.execute(
        "UPDATE campaigns SET cover_url = $3, updated_at = now() "
        "WHERE organization_id = $1 AND id = $2",
        org_id,
        campaign_id,
        url,
    )
