"""Members of an association: invitations, roles, removal; and its API keys.

Every function takes the association's id from the caller's guard and scopes every query by
it: another association's member, invitation or key is simply not found.
An association always keeps at least one owner (checked on locked rows, so two owners
demoting each other at the same time cannot both succeed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from donate.db import api_keys as keys_db
from donate.db import audit_log as audit_db
from donate.db import outbox
from donate.db import users as users_db
from donate.domain import identity
from donate.security.crypto import new_api_key
from donate.security.passwords import hash_password_async
from donate.security.tokens import token_hash
from donate.services.accounts import EMAIL_TASK, PASSWORDS_DIFFER, REQUIRED
from donate.services.errors import Conflict, InvalidRequest, NotFound
from donate.services.runtime import Runtime

ROLES = ("owner", "admin", "campaigner", "finance")
API_KEY_ROLES = ("admin", "finance", "campaigner")
INVITATION_VALIDITY = timedelta(days=7)
LAST_OWNER = "An association keeps at least one owner."


async def invite(
    rt: Runtime, org_id: UUID, actor_id: UUID, email: str, role: str, *, actor_role: str
) -> UUID:
    email = " ".join(email.split()).lower()
    errors: dict[str, str] = {}
    if not identity.email_valid(email):
        errors["email"] = "Enter a valid e-mail address."
    if role not in ROLES:
        errors["role"] = "Choose one of the options."
    elif role == "owner" and actor_role != "owner":
        errors["role"] = "Only an owner can make someone an owner."
    if errors:
        raise InvalidRequest(errors)
    async with rt.pool.acquire() as conn, conn.transaction():
        members = await users_db.members(conn, org_id)
        if any(m.email.lower() == email for m in members):
            raise InvalidRequest({"email": "This person is already a member."})
        inv_id = await users_db.open_invitation(
            conn, org_id, email, role, actor_id, datetime.now(UTC) + INVITATION_VALIDITY
        )
        await outbox.add(
            conn, EMAIL_TASK, {"kind": "invite", "invitation_id": str(inv_id)},
            organization_id=org_id,
        )  # fmt: skip
        await audit_db.record(conn, org_id, f"user:{actor_id}", "member.invited", "invitation",
                            str(inv_id), {"email": email, "role": role})  # fmt: skip
    return inv_id


async def revoke_invitation(rt: Runtime, org_id: UUID, actor_id: UUID, inv_id: UUID) -> None:
    async with rt.pool.acquire() as conn, conn.transaction():
        if not await users_db.revoke_invitation(conn, org_id, inv_id):
            raise NotFound("invitation")
        await audit_db.record(conn, org_id, f"user:{actor_id}", "invitation.revoked",
                            "invitation", str(inv_id))  # fmt: skip


@dataclass(frozen=True, slots=True)
class InvitationView:
    org_slug: str
    org_name: str
    email: str
    role: str
    has_account: bool


async def look_up_invitation(rt: Runtime, token: str) -> InvitationView | None:
    async with rt.pool.acquire() as conn:
        inv = await users_db.invitation_by_token(conn, token_hash(token), lock=False)
        if inv is None:
            return None
        user = await users_db.find_user_by_email(conn, inv.email)
    return InvitationView(inv.org_slug, inv.org_name, inv.email, inv.role, user is not None)


async def accept_invitation(
    rt: Runtime,
    token: str,
    *,
    signed_in: UUID | None,
    full_name: str = "",
    password: str = "",
    confirm: str = "",
) -> tuple[UUID, str]:
    """Attach the signed-in user, or create the invited address's account (verified: the
    link proves it). Returns (user id, association slug). ``NotFound`` for a used, revoked or
    expired link; ``InvalidRequest`` for a bad new account, or a signed-in user whose address
    is not the invited one."""
    errors: dict[str, str] = {}
    pw_hash = ""
    if signed_in is None:
        full_name = " ".join(full_name.split())
        if not full_name:
            errors["full_name"] = REQUIRED
        problem = identity.password_problem(password)
        if problem:
            errors["password"] = problem
        elif password != confirm:
            errors["password_confirm"] = PASSWORDS_DIFFER
        if errors:
            raise InvalidRequest(errors)
        pw_hash = await hash_password_async(password)
    async with rt.pool.acquire() as conn, conn.transaction():
        inv = await users_db.invitation_by_token(conn, token_hash(token), lock=True)
        if inv is None:
            raise NotFound("invitation")
        existing = await users_db.find_user_by_email(conn, inv.email)
        if signed_in is not None:
            if existing is None or existing.id != signed_in:
                raise InvalidRequest({"email": "This invitation is for another e-mail address."})
            user_id = signed_in
        elif existing is not None:
            raise InvalidRequest({"email": "Log in to accept this invitation."})
        else:
            user_id = await users_db.create_user(
                conn, inv.email, full_name, pw_hash, "fr", verified=True
            )
        await users_db.add_membership(conn, inv.organization_id, user_id, inv.role)
        await users_db.accept_invitation(conn, inv.id, user_id)
        await audit_db.record(conn, inv.organization_id, f"user:{user_id}", "member.joined",
                            "user", str(user_id), {"role": inv.role})  # fmt: skip
    return user_id, inv.org_slug


async def change_role(
    rt: Runtime, org_id: UUID, actor_id: UUID, actor_role: str, user_id: UUID, role: str
) -> None:
    if role not in ROLES:
        raise InvalidRequest({"role": "Choose one of the options."})
    async with rt.pool.acquire() as conn, conn.transaction():
        roles = await users_db.lock_roles(conn, org_id)
        old = roles.get(user_id)
        if old is None:
            raise NotFound("member")
        if actor_role != "owner" and "owner" in (old, role):
            raise InvalidRequest({"role": "Only an owner can make someone an owner."})
        owners = [u for u, r in roles.items() if r == "owner"]
        if old == "owner" and role != "owner" and len(owners) <= 1:
            raise Conflict(LAST_OWNER)
        await users_db.update_role(conn, org_id, user_id, role)
        await audit_db.record(conn, org_id, f"user:{actor_id}", "member.role_changed", "user",
                            str(user_id), {"from": old, "to": role})  # fmt: skip


async def remove_member(
    rt: Runtime, org_id: UUID, actor_id: UUID, actor_role: str, user_id: UUID
) -> None:
    async with rt.pool.acquire() as conn, conn.transaction():
        roles = await users_db.lock_roles(conn, org_id)
        old = roles.get(user_id)
        if old is None:
            raise NotFound("member")
        if old == "owner" and actor_role != "owner":
            raise InvalidRequest({"role": "Only an owner can remove an owner."})
        if old == "owner" and sum(1 for r in roles.values() if r == "owner") <= 1:
            raise Conflict(LAST_OWNER)
        await users_db.delete_membership(conn, org_id, user_id)
        await audit_db.record(conn, org_id, f"user:{actor_id}", "member.removed", "user",
                            str(user_id), {"role": old})  # fmt: skip


# --- API keys ------------------------------------------------------------------------------------


async def create_api_key(
    rt: Runtime, org_id: UUID, actor_id: UUID, name: str, role: str
) -> tuple[str, UUID]:
    """(the full key, shown once and never stored, its id)."""
    name = " ".join(name.split())
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = REQUIRED
    elif len(name) > 100:
        errors["name"] = "This field is too long."
    if role not in API_KEY_ROLES:
        errors["role"] = "Choose one of the options."
    if errors:
        raise InvalidRequest(errors)
    key, prefix, digest = new_api_key()
    async with rt.pool.acquire() as conn, conn.transaction():
        key_id = await keys_db.create_key(conn, org_id, name, prefix, digest, role)
        data = {"name": name, "role": role, "prefix": prefix}
        await audit_db.record(
            conn, org_id, f"user:{actor_id}", "api_key.created", "api_key", str(key_id), data
        )
    return key, key_id


async def revoke_api_key(rt: Runtime, org_id: UUID, actor_id: UUID, key_id: UUID) -> None:
    async with rt.pool.acquire() as conn, conn.transaction():
        if not await keys_db.revoke_key(conn, org_id, key_id):
            raise NotFound("api key")
        await audit_db.record(conn, org_id, f"user:{actor_id}", "api_key.revoked", "api_key",
                            str(key_id))  # fmt: skip
