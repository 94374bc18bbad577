"""Server-side back-office sessions, found by the SHA-256 of the cookie's token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from donate.db.types import Conn


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: UUID
    user_id: UUID
    organization_id: UUID | None
    mfa_pending: bool
    totp_pending_encrypted: bytes | None
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str | None


def _session(r: asyncpg.Record) -> SessionRow:
    pending = r["totp_pending_encrypted"]
    return SessionRow(
        r["id"],
        r["user_id"],
        r["organization_id"],
        r["mfa_pending"],
        bytes(pending) if pending is not None else None,
        r["created_at"],
        r["last_seen_at"],
        r["expires_at"],
        r["ip"],
        r["user_agent"],
    )


async def create(
    conn: Conn,
    token_hash: bytes,
    user_id: UUID,
    *,
    lifetime: timedelta,
    mfa_pending: bool,
    ip: str | None,
    user_agent: str | None,
) -> UUID:
    session_id: UUID = await conn.fetchval(
        """INSERT INTO user_sessions (token_hash, user_id, mfa_pending, expires_at, ip, user_agent)
           VALUES ($1, $2, $3, now() + $4::interval, $5, $6) RETURNING id""",
        token_hash,
        user_id,
        mfa_pending,
        lifetime,
        ip,
        (user_agent or "")[:300] or None,
    )
    return session_id


async def touch(
    conn: Conn, token_hash: bytes, *, idle: timedelta, absolute: timedelta
) -> SessionRow | None:
    """The live session of this token; its idle expiry slides forward (at most once a minute,
    never past ``absolute`` after its creation)."""
    row = await conn.fetchrow(
        """UPDATE user_sessions SET last_seen_at = now(),
               expires_at = least(created_at + $3::interval, now() + $2::interval)
           WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > now()
             AND last_seen_at < now() - interval '1 minute'
           RETURNING *""",
        token_hash,
        idle,
        absolute,
    )
    if row is None:
        row = await conn.fetchrow(
            """SELECT * FROM user_sessions
               WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > now()""",
            token_hash,
        )
    return _session(row) if row else None


async def set_organization(conn: Conn, session_id: UUID, org_id: UUID) -> None:
    await conn.execute(
        """UPDATE user_sessions SET organization_id = $2
           WHERE id = $1 AND organization_id IS DISTINCT FROM $2""",
        session_id,
        org_id,
    )


async def set_totp_pending(conn: Conn, session_id: UUID, encrypted: bytes | None) -> None:
    await conn.execute(
        "UPDATE user_sessions SET totp_pending_encrypted = $2 WHERE id = $1", session_id, encrypted
    )


async def list_for_user(conn: Conn, user_id: UUID) -> list[SessionRow]:
    rows = await conn.fetch(
        """SELECT * FROM user_sessions WHERE user_id = $1 AND revoked_at IS NULL
           AND expires_at > now() AND NOT mfa_pending ORDER BY last_seen_at DESC""",
        user_id,
    )
    return [_session(r) for r in rows]


async def revoke(conn: Conn, user_id: UUID, session_id: UUID) -> bool:
    """Only the user's own sessions can be revoked through this."""
    done = await conn.fetchval(
        """UPDATE user_sessions SET revoked_at = now()
           WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING id""",
        session_id,
        user_id,
    )
    return done is not None


async def revoke_all(conn: Conn, user_id: UUID, *, keep: UUID | None = None) -> int:
    rows = await conn.fetch(
        """UPDATE user_sessions SET revoked_at = now()
           WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $2 RETURNING id""",
        user_id,
        keep,
    )
    return len(rows)
