"""An association's identity as its back-office edits it (legal fields, signature, branding)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from donate.db.types import Conn

PROFILE_FIELDS = (
    "legal_name", "address_line1", "address_line2", "postal_code", "city", "country", "siren",
    "rna", "object", "fiscal_qualification", "utilite_publique_decree", "tax_reduction_bps",
    "receipt_signatory_name", "receipt_signatory_role", "color_primary", "color_accent",
    "receipt_signature_png", "logo_png",
)  # fmt: skip


def _check(fields: dict[str, Any]) -> list[str]:
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"unknown organization fields: {sorted(unknown)}")
    return list(fields)


async def create(conn: Conn, slug: str, fields: dict[str, Any]) -> UUID | None:
    """The new association's id, or None when the slug is taken."""
    cols = _check(fields)
    placeholders = ", ".join(f"${i}" for i in range(2, len(cols) + 2))
    org_id: UUID | None = await conn.fetchval(
        f"""INSERT INTO organizations (slug, {", ".join(cols)}) VALUES ($1, {placeholders})
            ON CONFLICT (slug) DO NOTHING RETURNING id""",
        slug,
        *fields.values(),
    )
    return org_id


async def update(conn: Conn, org_id: UUID, fields: dict[str, Any]) -> None:
    cols = _check(fields)
    if not cols:
        return
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(cols, start=2))
    await conn.execute(f"UPDATE organizations SET {sets} WHERE id = $1", org_id, *fields.values())


async def get(conn: Conn, org_id: UUID) -> dict[str, Any]:
    row = await conn.fetchrow(
        f"SELECT slug, {', '.join(PROFILE_FIELDS)} FROM organizations WHERE id = $1", org_id
    )
    assert row is not None
    return dict(row)


async def image(conn: Conn, org_id: UUID, column: str) -> bytes | None:
    if column not in ("logo_png", "receipt_signature_png"):
        raise ValueError(column)
    data = await conn.fetchval(f"SELECT {column} FROM organizations WHERE id = $1", org_id)
    return bytes(data) if data is not None else None


async def provider_account(conn: Conn, org_id: UUID, provider: str) -> dict[str, Any] | None:
    """The association's account at ``provider`` whatever its status (pending included)."""
    row = await conn.fetchrow(
        """SELECT id, account_id, status, livemode, created_at FROM provider_accounts
           WHERE organization_id = $1 AND provider = $2""",
        org_id,
        provider,
    )
    return dict(row) if row else None


async def save_provider_account(
    conn: Conn,
    org_id: UUID,
    provider: str,
    account_id: str,
    credentials_encrypted: bytes | None,
    *,
    livemode: bool,
    status: str,
) -> bool:
    """Record the association's account; False when that provider account already belongs
    to another association."""
    taken = await conn.fetchval(
        """SELECT 1 FROM provider_accounts WHERE provider = $1 AND account_id = $2
           AND organization_id <> $3""",
        provider,
        account_id,
        org_id,
    )
    if taken:
        return False
    await conn.execute(
        """INSERT INTO provider_accounts
               (organization_id, provider, account_id, credentials_encrypted, livemode, status)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (organization_id, provider) DO UPDATE SET
               account_id = EXCLUDED.account_id,
               credentials_encrypted = EXCLUDED.credentials_encrypted,
               livemode = EXCLUDED.livemode, status = EXCLUDED.status""",
        org_id,
        provider,
        account_id,
        credentials_encrypted,
        livemode,
        status,
    )
    return True
