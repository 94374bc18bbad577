"""The association's API keys as the back-office lists and revokes them, and its audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from donate.db.types import Conn


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    id: UUID
    name: str
    prefix: str
    role: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


async def list_keys(conn: Conn, org_id: UUID) -> list[ApiKeyInfo]:
    rows = await conn.fetch(
        """SELECT id, name, prefix, role, created_at, last_used_at, revoked_at FROM api_keys
           WHERE organization_id = $1 ORDER BY revoked_at IS NOT NULL, created_at DESC""",
        org_id,
    )
    return [ApiKeyInfo(*r) for r in rows]


async def create_key(
    conn: Conn, org_id: UUID, name: str, prefix: str, key_hash: bytes, role: str
) -> UUID:
    key_id: UUID = await conn.fetchval(
        """INSERT INTO api_keys (organization_id, name, prefix, key_hash, role)
           VALUES ($1, $2, $3, $4, $5) RETURNING id""",
        org_id,
        name,
        prefix,
        key_hash,
        role,
    )
    return key_id


async def revoke_key(conn: Conn, org_id: UUID, key_id: UUID) -> bool:
    done = await conn.fetchval(
        """UPDATE api_keys SET revoked_at = now()
           WHERE organization_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING id""",
        org_id,
        key_id,
    )
    return done is not None
