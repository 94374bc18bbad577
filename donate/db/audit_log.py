"""The audit trail of an association: who did what, on what, when, and from where.

Actors are ``user:<id>``, ``api_key:<id>``, ``system`` or ``provider:<name>``; reading
resolves people and keys to something a person recognises (e-mail, key name).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from donate.db.types import Conn


async def record(
    conn: Conn, org_id: UUID | None, actor: str, action: str, target_type: str,
    target_id: str | None, data: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    """One line of the audit trail (who, what, on what; ``data`` says from where). The one
    writer of ``audit_log``: every service records through it."""
    await conn.execute(
        """INSERT INTO audit_log (organization_id, actor, action, target_type, target_id, data)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        org_id, actor, action, target_type, target_id, data or {},
    )  # fmt: skip


async def record_for_donation(
    conn: Conn, donation_id: UUID, action: str, data: dict[str, Any]
) -> None:
    """A system line about a donation, in its association's trail (one statement)."""
    await conn.execute(
        """INSERT INTO audit_log (organization_id, actor, action, target_type, target_id, data)
           SELECT organization_id, 'system', $2, 'donation', $1::text, $3
           FROM donations WHERE id = $1::uuid""",
        str(donation_id), action, data,
    )  # fmt: skip


async def page(
    conn: Conn, org_id: UUID, *, before: tuple[datetime, int] | None, limit: int
) -> list[asyncpg.Record]:
    """Newest first, keyset on (at, id) so pages neither skip nor repeat a line."""
    return list(
        await conn.fetch(
            """SELECT a.id, a.at, a.actor, a.action, a.target_type, a.target_id, a.data,
                      u.email AS user_email, u.full_name AS user_name,
                      k.name AS key_name, k.prefix AS key_prefix
               FROM audit_log a
               LEFT JOIN users u
                 ON a.actor LIKE 'user:%' AND u.id::text = substr(a.actor, 6)
               LEFT JOIN api_keys k
                 ON a.actor LIKE 'api\\_key:%' AND k.id::text = substr(a.actor, 9)
                    AND k.organization_id = a.organization_id
               WHERE a.organization_id = $1
                 AND ($2::timestamptz IS NULL OR (a.at, a.id) < ($2, $3::bigint))
               ORDER BY a.at DESC, a.id DESC LIMIT $4""",
            org_id,
            before[0] if before else None,
            before[1] if before else None,
            limit,
        )
    )
