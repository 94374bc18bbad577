"""Associations, their users, API keys and connected provider accounts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from donate.db.types import Conn


@dataclass(frozen=True, slots=True)
class Organization:
    id: UUID
    slug: str
    legal_name: str
    currency: str
    locale: str
    tax_reduction_bps: int


@dataclass(frozen=True, slots=True)
class ApiKeyRow:
    id: UUID
    organization_id: UUID
    org_slug: str
    key_hash: bytes
    role: str


@dataclass(frozen=True, slots=True)
class ProviderAccountRow:
    id: UUID
    organization_id: UUID
    provider: str
    account_id: str
    credentials_encrypted: bytes | None
    livemode: bool


def _org(r: asyncpg.Record) -> Organization:
    return Organization(
        r["id"], r["slug"], r["legal_name"], r["currency"], r["locale"], r["tax_reduction_bps"]
    )


ORG_FIELDS = (
    "legal_name", "address_line1", "address_line2", "postal_code", "city", "country", "siren",
    "rna", "object", "fiscal_qualification", "utilite_publique_decree", "tax_reduction_bps",
    "cgi_articles", "receipt_signatory_name", "receipt_signatory_role", "currency", "locale",
)  # fmt: skip


async def upsert_organization(conn: Conn, slug: str, fields: dict[str, Any]) -> Organization:
    """Create the association or update its identity; keyed by slug (idempotent)."""
    unknown = set(fields) - set(ORG_FIELDS)
    if unknown:
        raise ValueError(f"unknown organization fields: {sorted(unknown)}")
    cols = list(fields)
    placeholders = ", ".join(f"${i}" for i in range(2, len(cols) + 2))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols)
    row = await conn.fetchrow(
        f"""INSERT INTO organizations (slug, {", ".join(cols)}) VALUES ($1, {placeholders})
            ON CONFLICT (slug) DO UPDATE SET {updates} RETURNING *""",
        slug,
        *fields.values(),
    )
    assert row is not None
    return _org(row)


async def upsert_user(conn: Conn, email: str, full_name: str, password_hash: str) -> UUID:
    user_id: UUID = await conn.fetchval(
        """INSERT INTO users (email, full_name, password_hash, email_verified_at)
           VALUES ($1, $2, $3, now())
           ON CONFLICT (lower(email)) DO UPDATE SET full_name = EXCLUDED.full_name
           RETURNING id""",
        email,
        full_name,
        password_hash,
    )
    return user_id


async def set_membership(conn: Conn, org_id: UUID, user_id: UUID, role: str) -> None:
    await conn.execute(
        """INSERT INTO memberships (organization_id, user_id, role) VALUES ($1, $2, $3)
           ON CONFLICT (organization_id, user_id) DO UPDATE SET role = EXCLUDED.role""",
        org_id,
        user_id,
        role,
    )


async def upsert_api_key(
    conn: Conn,
    org_id: UUID,
    prefix: str,
    key_hash: bytes,
    name: str,
    role: str = "admin",
) -> UUID:
    key_id: UUID = await conn.fetchval(
        """INSERT INTO api_keys (organization_id, prefix, key_hash, name, role)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (prefix) DO UPDATE SET key_hash = EXCLUDED.key_hash, name = EXCLUDED.name
           RETURNING id""",
        org_id,
        prefix,
        key_hash,
        name,
        role,
    )
    return key_id


async def find_api_key(conn: Conn, prefix: str) -> ApiKeyRow | None:
    row = await conn.fetchrow(
        """SELECT k.id, k.organization_id, o.slug, k.key_hash, k.role
           FROM api_keys k JOIN organizations o ON o.id = k.organization_id
           WHERE k.prefix = $1 AND k.revoked_at IS NULL""",
        prefix,
    )
    return ApiKeyRow(row[0], row[1], row[2], bytes(row[3]), row[4]) if row else None


def _account(r: asyncpg.Record) -> ProviderAccountRow:
    creds = r["credentials_encrypted"]
    return ProviderAccountRow(
        r["id"],
        r["organization_id"],
        r["provider"],
        r["account_id"],
        bytes(creds) if creds is not None else None,
        r["livemode"],
    )


async def upsert_provider_account(
    conn: Conn,
    org_id: UUID,
    provider: str,
    account_id: str,
    credentials_encrypted: bytes | None,
    livemode: bool,
) -> ProviderAccountRow:
    row = await conn.fetchrow(
        """INSERT INTO provider_accounts
               (organization_id, provider, account_id, credentials_encrypted, livemode)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (organization_id, provider) DO UPDATE SET
               account_id = EXCLUDED.account_id,
               credentials_encrypted = EXCLUDED.credentials_encrypted,
               livemode = EXCLUDED.livemode, status = 'active'
           RETURNING *""",
        org_id,
        provider,
        account_id,
        credentials_encrypted,
        livemode,
    )
    assert row is not None
    return _account(row)


async def get_provider_account(
    conn: Conn, org_id: UUID, provider: str
) -> ProviderAccountRow | None:
    row = await conn.fetchrow(
        """SELECT * FROM provider_accounts
           WHERE organization_id = $1 AND provider = $2 AND status = 'active'""",
        org_id,
        provider,
    )
    return _account(row) if row else None


async def list_provider_accounts(conn: Conn, org_id: UUID) -> list[ProviderAccountRow]:
    rows = await conn.fetch(
        "SELECT * FROM provider_accounts WHERE organization_id = $1 AND status = 'active' "
        "ORDER BY provider",
        org_id,
    )
    return [_account(r) for r in rows]


async def find_provider_account(
    conn: Conn, provider: str, account_id: str
) -> ProviderAccountRow | None:
    row = await conn.fetchrow(
        "SELECT * FROM provider_accounts WHERE provider = $1 AND account_id = $2",
        provider,
        account_id,
    )
    return _account(row) if row else None


async def all_active_provider_accounts(conn: Conn) -> list[ProviderAccountRow]:
    rows = await conn.fetch("SELECT * FROM provider_accounts WHERE status = 'active'")
    return [_account(r) for r in rows]
