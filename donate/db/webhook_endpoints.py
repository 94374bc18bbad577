"""Integrator webhook endpoints of an association. Every query is scoped by organization_id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from donate.db import audit_log
from donate.db.types import Conn


@dataclass(frozen=True, slots=True)
class EndpointRow:
    id: UUID
    organization_id: UUID
    url: str
    description: str
    event_types: list[str]
    secret_encrypted: bytes
    previous_secret_encrypted: bytes | None
    previous_secret_expires_at: datetime | None
    enabled: bool
    created_at: datetime
    updated_at: datetime


def _endpoint(r: asyncpg.Record) -> EndpointRow:
    return EndpointRow(
        id=r["id"],
        organization_id=r["organization_id"],
        url=r["url"],
        description=r["description"],
        event_types=list(r["event_types"]),
        secret_encrypted=bytes(r["secret_encrypted"]),
        previous_secret_encrypted=(
            bytes(r["previous_secret_encrypted"]) if r["previous_secret_encrypted"] else None
        ),
        previous_secret_expires_at=r["previous_secret_expires_at"],
        enabled=r["enabled"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
    )


async def insert(
    conn: Conn,
    org_id: UUID,
    *,
    url: str,
    description: str,
    event_types: list[str],
    secret_encrypted: bytes,
    enabled: bool,
) -> EndpointRow:
    row = await conn.fetchrow(
        """INSERT INTO webhook_endpoints
               (organization_id, url, description, event_types, secret_encrypted, enabled)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING *""",
        org_id, url, description, event_types, secret_encrypted, enabled,
    )  # fmt: skip
    assert row is not None
    return _endpoint(row)


async def get(
    conn: Conn, org_id: UUID, endpoint_id: UUID, *, for_update: bool = False
) -> EndpointRow | None:
    row = await conn.fetchrow(
        "SELECT * FROM webhook_endpoints WHERE organization_id = $1 AND id = $2"
        + (" FOR UPDATE" if for_update else ""),
        org_id,
        endpoint_id,
    )
    return _endpoint(row) if row else None


async def list_for_org(conn: Conn, org_id: UUID) -> list[EndpointRow]:
    rows = await conn.fetch(
        "SELECT * FROM webhook_endpoints WHERE organization_id = $1 ORDER BY created_at, id",
        org_id,
    )
    return [_endpoint(r) for r in rows]


async def count_for_org(conn: Conn, org_id: UUID) -> int:
    n: int = await conn.fetchval(
        "SELECT count(*) FROM webhook_endpoints WHERE organization_id = $1", org_id
    )
    return n


async def update(conn: Conn, org_id: UUID, endpoint_id: UUID, values: dict[str, Any]) -> None:
    """Set the given columns (names come from the service, never from the request)."""
    if not values:
        return
    cols = list(values)
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(cols, start=3))
    await conn.execute(
        f"UPDATE webhook_endpoints SET {sets}, updated_at = now() "
        "WHERE organization_id = $1 AND id = $2",
        org_id,
        endpoint_id,
        *values.values(),
    )


async def rotate_secret(
    conn: Conn, org_id: UUID, endpoint_id: UUID, new_secret: bytes, grace_s: float
) -> None:
    """The new secret signs from now on; the old one also signs for ``grace_s`` seconds."""
    await conn.execute(
        """UPDATE webhook_endpoints SET
               previous_secret_encrypted = CASE WHEN $4 > 0 THEN secret_encrypted END,
               previous_secret_expires_at =
                   CASE WHEN $4 > 0 THEN now() + make_interval(secs => $4) END,
               secret_encrypted = $3, updated_at = now()
           WHERE organization_id = $1 AND id = $2""",
        org_id,
        endpoint_id,
        new_secret,
        float(grace_s),
    )


async def delete(conn: Conn, org_id: UUID, endpoint_id: UUID) -> bool:
    status = await conn.execute(
        "DELETE FROM webhook_endpoints WHERE organization_id = $1 AND id = $2", org_id, endpoint_id
    )
    return status.endswith(" 1")


async def subscribed(conn: Conn, org_id: UUID, event_type: str) -> list[UUID]:
    """Enabled endpoints of the association that listen to ``event_type``."""
    rows = await conn.fetch(
        """SELECT id FROM webhook_endpoints
           WHERE organization_id = $1 AND enabled AND $2 = ANY(event_types)""",
        org_id,
        event_type,
    )
    return [r["id"] for r in rows]


async def audit(
    conn: Conn, org_id: UUID, actor: str, action: str, endpoint_id: UUID, data: dict[str, Any]
) -> None:
    await audit_log.record(conn, org_id, actor, action, "webhook_endpoint", str(endpoint_id), data)
