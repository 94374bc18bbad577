"""Back-office people: users, their memberships, single-use e-mail tokens and invitations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from donate.db.types import Conn


@dataclass(frozen=True, slots=True)
class User:
    id: UUID
    email: str
    full_name: str
    password_hash: str | None
    locale: str
    email_verified_at: datetime | None
    totp_secret_encrypted: bytes | None
    totp_last_step: int | None


@dataclass(frozen=True, slots=True)
class Membership:
    organization_id: UUID
    org_slug: str
    org_name: str
    role: str


@dataclass(frozen=True, slots=True)
class MemberRow:
    user_id: UUID
    email: str
    full_name: str
    role: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Invitation:
    id: UUID
    organization_id: UUID
    org_slug: str
    org_name: str
    email: str
    role: str
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None


def _user(r: asyncpg.Record) -> User:
    totp = r["totp_secret_encrypted"]
    return User(
        r["id"],
        r["email"],
        r["full_name"],
        r["password_hash"],
        r["locale"],
        r["email_verified_at"],
        bytes(totp) if totp is not None else None,
        r["totp_last_step"],
    )


async def get_user(conn: Conn, user_id: UUID) -> User | None:
    row = await conn.fetchrow("SELECT * FROM users WHERE id = $1", user_id)
    return _user(row) if row else None


async def find_user_by_email(conn: Conn, email: str) -> User | None:
    row = await conn.fetchrow("SELECT * FROM users WHERE lower(email) = lower($1)", email)
    return _user(row) if row else None


async def create_user(
    conn: Conn, email: str, full_name: str, password_hash: str, locale: str, verified: bool
) -> UUID:
    """Raises ``asyncpg.UniqueViolationError`` when the address is taken."""
    user_id: UUID = await conn.fetchval(
        """INSERT INTO users (email, full_name, password_hash, locale, email_verified_at)
           VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN now() END) RETURNING id""",
        email,
        full_name,
        password_hash,
        locale,
        verified,
    )
    return user_id


async def set_password(conn: Conn, user_id: UUID, password_hash: str) -> None:
    await conn.execute(
        "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1",
        user_id,
        password_hash,
    )


async def mark_verified(conn: Conn, user_id: UUID) -> None:
    await conn.execute(
        "UPDATE users SET email_verified_at = coalesce(email_verified_at, now()) WHERE id = $1",
        user_id,
    )


async def set_totp(conn: Conn, user_id: UUID, secret_encrypted: bytes | None) -> None:
    await conn.execute(
        """UPDATE users SET totp_secret_encrypted = $2, totp_last_step = NULL,
           updated_at = now() WHERE id = $1""",
        user_id,
        secret_encrypted,
    )


async def use_totp_step(conn: Conn, user_id: UUID, step: int) -> bool:
    """Record ``step`` as used; False when it (or a later one) was already used: a replay."""
    done = await conn.fetchval(
        """UPDATE users SET totp_last_step = $2 WHERE id = $1
           AND (totp_last_step IS NULL OR totp_last_step < $2) RETURNING id""",
        user_id,
        step,
    )
    return done is not None


# --- memberships -------------------------------------------------------------------------------


async def memberships(conn: Conn, user_id: UUID) -> list[Membership]:
    rows = await conn.fetch(
        """SELECT m.organization_id, o.slug, o.legal_name, m.role
           FROM memberships m JOIN organizations o ON o.id = m.organization_id
           WHERE m.user_id = $1 ORDER BY o.legal_name, o.slug""",
        user_id,
    )
    return [Membership(r[0], r[1], r[2], r[3]) for r in rows]


async def members(conn: Conn, org_id: UUID) -> list[MemberRow]:
    rows = await conn.fetch(
        """SELECT u.id, u.email, u.full_name, m.role, m.created_at
           FROM memberships m JOIN users u ON u.id = m.user_id
           WHERE m.organization_id = $1 ORDER BY lower(u.email)""",
        org_id,
    )
    return [MemberRow(r[0], r[1], r[2], r[3], r[4]) for r in rows]


async def lock_roles(conn: Conn, org_id: UUID) -> dict[UUID, str]:
    """Every member's role, rows locked: the last-owner rule is checked against this."""
    rows = await conn.fetch(
        "SELECT user_id, role FROM memberships WHERE organization_id = $1 FOR UPDATE", org_id
    )
    return {r[0]: r[1] for r in rows}


async def add_membership(conn: Conn, org_id: UUID, user_id: UUID, role: str) -> bool:
    """False when the user already belongs to the association (their role is kept)."""
    done = await conn.fetchval(
        """INSERT INTO memberships (organization_id, user_id, role) VALUES ($1, $2, $3)
           ON CONFLICT (organization_id, user_id) DO NOTHING RETURNING user_id""",
        org_id,
        user_id,
        role,
    )
    return done is not None


async def update_role(conn: Conn, org_id: UUID, user_id: UUID, role: str) -> None:
    await conn.execute(
        "UPDATE memberships SET role = $3 WHERE organization_id = $1 AND user_id = $2",
        org_id,
        user_id,
        role,
    )


async def delete_membership(conn: Conn, org_id: UUID, user_id: UUID) -> None:
    await conn.execute(
        "DELETE FROM memberships WHERE organization_id = $1 AND user_id = $2", org_id, user_id
    )


# --- single-use e-mail tokens ------------------------------------------------------------------


async def add_token(
    conn: Conn, user_id: UUID, purpose: str, token_hash: bytes, expires_at: datetime
) -> None:
    await conn.execute(
        """INSERT INTO user_tokens (user_id, purpose, token_hash, expires_at)
           VALUES ($1, $2, $3, $4)""",
        user_id,
        purpose,
        token_hash,
        expires_at,
    )


async def consume_token(conn: Conn, purpose: str, token_hash: bytes) -> UUID | None:
    """The user of a valid token, which is used up at once (and every other of the same
    purpose for that user, so an older link cannot be used after a newer one)."""
    user_id: UUID | None = await conn.fetchval(
        """UPDATE user_tokens SET used_at = now()
           WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
           RETURNING user_id""",
        token_hash,
        purpose,
    )
    if user_id is not None:
        await conn.execute(
            "UPDATE user_tokens SET used_at = now() WHERE user_id = $1 AND purpose = $2 "
            "AND used_at IS NULL",
            user_id,
            purpose,
        )
    return user_id


async def token_is_valid(conn: Conn, purpose: str, token_hash: bytes) -> bool:
    found = await conn.fetchval(
        """SELECT 1 FROM user_tokens WHERE token_hash = $1 AND purpose = $2
           AND used_at IS NULL AND expires_at > now()""",
        token_hash,
        purpose,
    )
    return found is not None


# --- invitations -------------------------------------------------------------------------------

_INVITATION = """SELECT i.id, i.organization_id, o.slug, o.legal_name, i.email, i.role,
                        i.expires_at, i.accepted_at, i.revoked_at
                 FROM invitations i JOIN organizations o ON o.id = i.organization_id"""


def _invitation(r: asyncpg.Record) -> Invitation:
    return Invitation(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8])


async def open_invitation(
    conn: Conn, org_id: UUID, email: str, role: str, invited_by: UUID, expires_at: datetime
) -> UUID:
    """A new invitation, replacing an open one to the same address."""
    await conn.execute(
        """UPDATE invitations SET revoked_at = now() WHERE organization_id = $1
           AND lower(email) = lower($2) AND accepted_at IS NULL AND revoked_at IS NULL""",
        org_id,
        email,
    )
    inv_id: UUID = await conn.fetchval(
        """INSERT INTO invitations (organization_id, email, role, invited_by, expires_at)
           VALUES ($1, $2, $3, $4, $5) RETURNING id""",
        org_id,
        email,
        role,
        invited_by,
        expires_at,
    )
    return inv_id


async def get_invitation(conn: Conn, inv_id: UUID) -> Invitation | None:
    row = await conn.fetchrow(f"{_INVITATION} WHERE i.id = $1", inv_id)
    return _invitation(row) if row else None


async def set_invitation_token(conn: Conn, inv_id: UUID, token_hash: bytes) -> None:
    await conn.execute("UPDATE invitations SET token_hash = $2 WHERE id = $1", inv_id, token_hash)


async def invitation_by_token(conn: Conn, token_hash: bytes, *, lock: bool) -> Invitation | None:
    """An open, unexpired invitation."""
    row = await conn.fetchrow(
        f"""{_INVITATION} WHERE i.token_hash = $1 AND i.accepted_at IS NULL
            AND i.revoked_at IS NULL AND i.expires_at > now()"""
        + (" FOR UPDATE OF i" if lock else ""),
        token_hash,
    )
    return _invitation(row) if row else None


async def accept_invitation(conn: Conn, inv_id: UUID, user_id: UUID) -> None:
    await conn.execute(
        "UPDATE invitations SET accepted_at = now(), accepted_by = $2 WHERE id = $1",
        inv_id,
        user_id,
    )


async def pending_invitations(conn: Conn, org_id: UUID) -> list[Invitation]:
    rows = await conn.fetch(
        f"""{_INVITATION} WHERE i.organization_id = $1 AND i.accepted_at IS NULL
            AND i.revoked_at IS NULL AND i.expires_at > now() ORDER BY i.created_at DESC""",
        org_id,
    )
    return [_invitation(r) for r in rows]


async def revoke_invitation(conn: Conn, org_id: UUID, inv_id: UUID) -> bool:
    done = await conn.fetchval(
        """UPDATE invitations SET revoked_at = now() WHERE organization_id = $1 AND id = $2
           AND accepted_at IS NULL AND revoked_at IS NULL RETURNING id""",
        org_id,
        inv_id,
    )
    return done is not None
