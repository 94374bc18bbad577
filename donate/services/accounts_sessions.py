"""Logging in (argon2 password, optional TOTP), server-side sessions and their revocation.

A session is a random token in an HttpOnly cookie; the database keeps its SHA-256 only.
Every login makes a new token (no session fixation); passing the second factor replaces the
half-open session by a new one. A failed login costs the same whether or not the address
exists (a dummy argon2 verification), and says the same thing.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from uuid import UUID

import pyotp

from donate.db import audit_log as audit_db
from donate.db import sessions as sessions_db
from donate.db import users as users_db
from donate.db.sessions import SessionRow
from donate.db.users import Membership, User
from donate.domain import identity
from donate.security.passwords import hash_password_async, verify_password_async
from donate.security.tokens import new_token, token_hash
from donate.services.accounts import PASSWORDS_DIFFER
from donate.services.errors import InvalidRequest
from donate.services.runtime import Runtime

SESSION_IDLE = timedelta(days=7)
SESSION_ABSOLUTE = timedelta(days=30)
MFA_WINDOW = timedelta(minutes=10)
TOTP_ISSUER = "Donate"


class LoginOutcome(StrEnum):
    OK = "ok"
    TOTP_NEEDED = "totp"
    UNVERIFIED = "unverified"  # right password, address not verified yet
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Login:
    outcome: LoginOutcome
    token: str | None = None  # the new session's cookie value
    user_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class Current:
    """A live session and its user, as the guard sees them."""

    session: SessionRow
    user: User
    memberships: list[Membership]


async def _open_session(
    rt: Runtime, user_id: UUID, *, mfa_pending: bool, ip: str | None, ua: str | None
) -> str:
    token, digest = new_token()
    async with rt.pool.acquire() as conn:
        await sessions_db.create(
            conn,
            digest,
            user_id,
            lifetime=MFA_WINDOW if mfa_pending else SESSION_IDLE,
            mfa_pending=mfa_pending,
            ip=ip,
            user_agent=ua,
        )
    return token


async def login(rt: Runtime, email: str, password: str, *, ip: str | None, ua: str | None) -> Login:
    async with rt.pool.acquire() as conn:
        user = await users_db.find_user_by_email(conn, email.strip())
    # An unknown address is checked against a dummy hash: it takes as long as a wrong password.
    if user is None or not await verify_password_async(user.password_hash, password):
        return Login(LoginOutcome.FAILED)
    if user.email_verified_at is None:
        return Login(LoginOutcome.UNVERIFIED, user_id=user.id)
    pending = user.totp_secret_encrypted is not None
    token = await _open_session(rt, user.id, mfa_pending=pending, ip=ip, ua=ua)
    return Login(LoginOutcome.TOTP_NEEDED if pending else LoginOutcome.OK, token, user.id)


def _totp_step(secret: str, code: str, now: float) -> int | None:
    """The time step ``code`` is valid for (this one or a neighbour, for clock drift)."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now // totp.interval)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


async def check_totp(rt: Runtime, user: User, code: str) -> bool:
    """True once per valid code: a code already used (or an older one) is refused."""
    if user.totp_secret_encrypted is None:
        return False
    step = _totp_step(rt.secrets.decrypt(user.totp_secret_encrypted), code, time.time())
    if step is None:
        return False
    async with rt.pool.acquire() as conn:
        return await users_db.use_totp_step(conn, user.id, step)


async def complete_totp(
    rt: Runtime, pending: Current, code: str, *, ip: str | None, ua: str | None
) -> str | None:
    """The full session's token once the code is right; the half-open one ends either way
    when it is right, and stays (until its short expiry) when it is wrong."""
    if not pending.session.mfa_pending or not await check_totp(rt, pending.user, code):
        return None
    async with rt.pool.acquire() as conn:
        await sessions_db.revoke(conn, pending.user.id, pending.session.id)
    return await _open_session(rt, pending.user.id, mfa_pending=False, ip=ip, ua=ua)


async def current(rt: Runtime, token: str) -> Current | None:
    if not token:
        return None
    async with rt.pool.acquire() as conn:
        session = await sessions_db.touch(
            conn, token_hash(token), idle=SESSION_IDLE, absolute=SESSION_ABSOLUTE
        )
        if session is None:
            return None
        user = await users_db.get_user(conn, session.user_id)
        if user is None:
            return None
        member_of = await users_db.memberships(conn, user.id)
    return Current(session, user, member_of)


async def remember_organization(rt: Runtime, session_id: UUID, org_id: UUID) -> None:
    async with rt.pool.acquire() as conn:
        await sessions_db.set_organization(conn, session_id, org_id)


async def logout(rt: Runtime, user_id: UUID, session_id: UUID) -> None:
    async with rt.pool.acquire() as conn:
        await sessions_db.revoke(conn, user_id, session_id)


async def list_sessions(rt: Runtime, user_id: UUID) -> list[SessionRow]:
    async with rt.pool.acquire() as conn:
        return await sessions_db.list_for_user(conn, user_id)


async def revoke_session(rt: Runtime, user_id: UUID, session_id: UUID) -> bool:
    async with rt.pool.acquire() as conn:
        return await sessions_db.revoke(conn, user_id, session_id)


async def revoke_other_sessions(rt: Runtime, user_id: UUID, keep: UUID) -> int:
    async with rt.pool.acquire() as conn:
        return await sessions_db.revoke_all(conn, user_id, keep=keep)


async def change_password(rt: Runtime, cur: Current, old: str, new: str, confirm: str) -> None:
    """Other sessions end: whoever knew the old password is logged out."""
    if not await verify_password_async(cur.user.password_hash, old):
        raise InvalidRequest({"current_password": "The current password is wrong."})
    problem = identity.password_problem(new)
    if problem:
        raise InvalidRequest({"password": problem})
    if new != confirm:
        raise InvalidRequest({"password_confirm": PASSWORDS_DIFFER})
    new_hash = await hash_password_async(new)  # before the transaction: no lock held meanwhile
    async with rt.pool.acquire() as conn, conn.transaction():
        await users_db.set_password(conn, cur.user.id, new_hash)
        await sessions_db.revoke_all(conn, cur.user.id, keep=cur.session.id)


# --- TOTP set-up --------------------------------------------------------------------------------


async def start_totp_setup(rt: Runtime, cur: Current) -> str:
    """A new secret kept (encrypted) on the session until a code confirms it; returns it."""
    if cur.session.totp_pending_encrypted is not None:
        return rt.secrets.decrypt(cur.session.totp_pending_encrypted)
    secret = pyotp.random_base32()
    async with rt.pool.acquire() as conn:
        await sessions_db.set_totp_pending(conn, cur.session.id, rt.secrets.encrypt(secret))
    return secret


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)


async def confirm_totp_setup(rt: Runtime, cur: Current, code: str) -> bool:
    if cur.session.totp_pending_encrypted is None:
        return False
    secret = rt.secrets.decrypt(cur.session.totp_pending_encrypted)
    step = _totp_step(secret, code, time.time())
    if step is None:
        return False
    async with rt.pool.acquire() as conn, conn.transaction():
        await users_db.set_totp(conn, cur.user.id, rt.secrets.encrypt(secret))
        await users_db.use_totp_step(conn, cur.user.id, step)
        await sessions_db.set_totp_pending(conn, cur.session.id, None)
        for m in cur.memberships:
            await audit_db.record(conn, m.organization_id, f"user:{cur.user.id}",
                                 "user.totp_enabled", "user", str(cur.user.id))  # fmt: skip
    return True


async def disable_totp(rt: Runtime, cur: Current, password: str, code: str) -> None:
    if not await verify_password_async(cur.user.password_hash, password):
        raise InvalidRequest({"current_password": "The current password is wrong."})
    if not await check_totp(rt, cur.user, code):
        raise InvalidRequest({"code": "This code is not valid."})
    async with rt.pool.acquire() as conn, conn.transaction():
        await users_db.set_totp(conn, cur.user.id, None)
        for m in cur.memberships:
            await audit_db.record(conn, m.organization_id, f"user:{cur.user.id}",
                                 "user.totp_disabled", "user", str(cur.user.id))  # fmt: skip
