"""What a public campaign page shows beyond the campaign itself: donor wall, updates, extras."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from donate.db.types import Conn


@dataclass(frozen=True, slots=True)
class PageExtras:
    cover_url: str | None
    show_donor_wall: bool
    tax_reduction_bps: int
    org_locale: str


@dataclass(frozen=True, slots=True)
class WallEntry:
    """One gift on the donor wall; ``name`` / ``amount_minor`` are None when the donor hid them."""

    name: str | None
    amount_minor: int | None
    currency: str
    message: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class CampaignUpdate:
    id: UUID
    title: str
    body_md: str
    published_at: datetime


async def page_extras(conn: Conn, campaign_id: UUID) -> PageExtras | None:
    row = await conn.fetchrow(
        """SELECT c.cover_url, c.show_donor_wall, o.tax_reduction_bps, o.locale
           FROM campaigns c JOIN organizations o ON o.id = c.organization_id
           WHERE c.id = $1""",
        campaign_id,
    )
    if row is None:
        return None
    return PageExtras(
        row["cover_url"], row["show_donor_wall"], row["tax_reduction_bps"], row["locale"]
    )


async def donor_wall(conn: Conn, campaign_id: UUID, limit: int = 20) -> list[WallEntry]:
    """The latest gifts that count towards the campaign, as each donor chose to show them.

    Names of anonymous donors and amounts of donors who hid them never leave the database;
    only the first name and the initial of the last name are shown, and nothing of an
    erased donor."""
    rows = await conn.fetch(
        """SELECT CASE WHEN d.anonymous OR p.erased_at IS NOT NULL THEN NULL
                       ELSE btrim(p.first_name || ' ' || left(p.last_name, 1)
                                  || CASE WHEN p.last_name <> '' THEN '.' ELSE '' END)
                  END AS name,
                  CASE WHEN d.hide_amount THEN NULL ELSE d.amount_minor END AS amount_minor,
                  d.currency,
                  CASE WHEN d.anonymous OR p.erased_at IS NOT NULL THEN NULL
                       ELSE d.message END AS message,
                  d.created_at
           FROM donations d JOIN donors p ON p.id = d.donor_id
           WHERE d.campaign_id = $1 AND d.counted_minor > 0
           ORDER BY d.created_at DESC LIMIT $2""",
        campaign_id,
        limit,
    )
    return [
        WallEntry(
            r["name"] or None, r["amount_minor"], r["currency"], r["message"], r["created_at"]
        )
        for r in rows
    ]


async def published_updates(conn: Conn, campaign_id: UUID, limit: int = 10) -> list[CampaignUpdate]:
    rows = await conn.fetch(
        """SELECT id, title, body_md, published_at FROM campaign_updates
           WHERE campaign_id = $1 AND published_at IS NOT NULL AND published_at <= now()
           ORDER BY published_at DESC LIMIT $2""",
        campaign_id,
        limit,
    )
    return [CampaignUpdate(r["id"], r["title"], r["body_md"], r["published_at"]) for r in rows]


async def add_update(
    conn: Conn,
    org_id: UUID,
    campaign_id: UUID,
    title: str,
    body_md: str,
    published_at: datetime | None,
) -> UUID:
    update_id: UUID = await conn.fetchval(
        """INSERT INTO campaign_updates (organization_id, campaign_id, title, body_md, published_at)
           VALUES ($1, $2, $3, $4, $5) RETURNING id""",
        org_id,
        campaign_id,
        title,
        body_md,
        published_at,
    )
    return update_id
