"""Sign-up of an association and its owner, e-mail verification, password reset.

Messages in ``InvalidRequest.errors`` are English message ids the pages translate.
E-mails (verification, reset, invitation) are outbox rows (task ``account.email``): the job
mints the link's token when it sends, so no usable token ever rests in the database.
A reset request for an unknown address does the same database work and answers the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from donate.db import audit_log as audit_db
from donate.db import org_profile, outbox
from donate.db import sessions as sessions_db
from donate.db import users as users_db
from donate.domain import identity
from donate.security.passwords import hash_password_async
from donate.security.tokens import token_hash
from donate.services.accounts_images import ImageRejected, reencode_png
from donate.services.errors import InvalidRequest
from donate.services.runtime import Runtime

EMAIL_TASK = "account.email"

FISCAL_QUALIFICATIONS: dict[str, int] = {
    "interet_general": 6600,
    "utilite_publique": 6600,
    "fondation_utilite_publique": 6600,
    "culte": 6600,
    "enseignement": 6600,
    "aide_personnes_difficulte": 7500,
    "none": 0,
}
REQUIRED = "This field is required."
PASSWORDS_DIFFER = "The two passwords differ."
_LIMITS = {
    "legal_name": 200, "address_line1": 200, "address_line2": 200, "city": 100,
    "object": 2000, "utilite_publique_decree": 200, "receipt_signatory_name": 120,
    "receipt_signatory_role": 120, "full_name": 120,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Upload:
    """An uploaded file: what the form field carried (empty = nothing chosen)."""

    data: bytes
    too_large: bool = False


def _text(raw: Mapping[str, str], name: str) -> str:
    return " ".join(str(raw.get(name, "")).split())


def clean_org(
    raw: Mapping[str, str],
    uploads: Mapping[str, Upload],
    *,
    current: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Validated organization columns and field errors. ``current`` is the stored profile
    when editing: identifiers kept unchanged are not re-checked (older rows predate the
    SIREN checksum rule), and files left empty keep the stored image."""
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    for name in ("legal_name", "address_line1", "postal_code", "city", "object"):
        out[name] = _text(raw, name)
        if not out[name]:
            errors[name] = REQUIRED
    for name in ("address_line2", "utilite_publique_decree", "receipt_signatory_name",
                 "receipt_signatory_role"):  # fmt: skip
        out[name] = _text(raw, name) or None
    for name, limit in _LIMITS.items():
        if name in out and out[name] and len(out[name]) > limit:
            errors[name] = "This field is too long."
    country = (_text(raw, "country") or "FR").upper()
    out["country"] = country
    if len(country) != 2 or not country.isalpha():
        errors["country"] = "Choose a country."
    if out["postal_code"] and not identity.postal_code_valid(out["postal_code"], country):
        errors["postal_code"] = "Enter a valid postal code."
    siren = _text(raw, "siren").replace(" ", "")
    rna = _text(raw, "rna").upper()
    unchanged = current is not None and siren == (current.get("siren") or "")
    if siren and not unchanged and not identity.siren_valid(siren):
        errors["siren"] = "This SIREN number is not valid (9 digits with a valid checksum)."
    if rna and not identity.rna_valid(rna):
        errors["rna"] = "An RNA number is W followed by 9 digits or letters."
    if country == "FR" and not siren and not rna:
        errors["siren"] = "A French association needs a SIREN or RNA number."
    out["siren"], out["rna"] = siren or None, rna or None
    qualification = _text(raw, "fiscal_qualification") or "interet_general"
    if qualification not in FISCAL_QUALIFICATIONS:
        errors["fiscal_qualification"] = "Choose one of the options."
    else:
        out["fiscal_qualification"] = qualification
        out["tax_reduction_bps"] = FISCAL_QUALIFICATIONS[qualification]
        if qualification == "utilite_publique" and not out["utilite_publique_decree"]:
            errors["utilite_publique_decree"] = "Give the date of the decree."
    for name, default in (("color_primary", "#1f6f4a"), ("color_accent", "#f2b705")):
        color = (_text(raw, name) or default).lower()
        out[name] = color
        if not identity.color_valid(color):
            errors[name] = "Use a colour like #1f6f4a."
    for field, column, side in (
        ("logo", "logo_png", 512),
        ("signature", "receipt_signature_png", 600),
    ):
        upload = uploads.get(field)
        if upload is None or (not upload.data and not upload.too_large):
            continue
        try:
            if upload.too_large:
                raise ImageRejected("The image is too large (2 MB at most).")
            out[column] = reencode_png(upload.data, max_side=side)
        except ImageRejected as exc:
            errors[field] = str(exc)
    return out, errors


def clean_owner(raw: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    errors: dict[str, str] = {}
    full_name = _text(raw, "full_name")
    email = _text(raw, "email").lower()
    password = str(raw.get("password", ""))
    if not full_name:
        errors["full_name"] = REQUIRED
    elif len(full_name) > _LIMITS["full_name"]:
        errors["full_name"] = "This field is too long."
    if not identity.email_valid(email):
        errors["email"] = "Enter a valid e-mail address."
    problem = identity.password_problem(password)
    if problem:
        errors["password"] = problem
    elif password != str(raw.get("password_confirm", "")):
        errors["password_confirm"] = PASSWORDS_DIFFER
    return {"full_name": full_name, "email": email, "password": password}, errors


def clean_slug(raw: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    slug = _text(raw, "slug").lower() or identity.slugify(_text(raw, "legal_name"))
    if not identity.slug_valid(slug):
        return slug, {"slug": "Use lowercase letters, digits and hyphens (not a reserved word)."}
    return slug, {}


@dataclass(frozen=True, slots=True)
class SignedUp:
    org_slug: str
    user_id: UUID | None  # None: the address already had an account (it was e-mailed)


async def sign_up(
    rt: Runtime,
    raw: Mapping[str, str],
    uploads: Mapping[str, Upload],
    *,
    existing_user: UUID | None = None,
    lang: str = "fr",
) -> SignedUp:
    """Create the association and make its owner: ``existing_user`` (a signed-in user), or a
    new unverified account that gets a verification e-mail. Nothing is written when any
    field is invalid (``InvalidRequest``). When the address already has an account nothing is
    created either and the address gets an e-mail instead: the answer does not tell."""
    fields, errors = clean_org(raw, uploads)
    slug, slug_errors = clean_slug(raw)
    errors.update(slug_errors)
    owner: dict[str, str] = {}
    if existing_user is None:
        owner, owner_errors = clean_owner(raw)
        errors.update(owner_errors)
    if str(raw.get("accept", "")) != "yes":
        errors["accept"] = "Please confirm that you may act for the association."
    if errors:
        raise InvalidRequest(errors)
    pw_hash = await hash_password_async(owner["password"]) if owner else ""
    async with rt.pool.acquire() as conn, conn.transaction():
        if existing_user is None:
            found = await users_db.find_user_by_email(conn, owner["email"])
            if found is not None:
                await outbox.add(conn, EMAIL_TASK, {"kind": "exists", "user_id": str(found.id)})
                return SignedUp(slug, None)
        org_id = await org_profile.create(conn, slug, fields)
        if org_id is None:
            raise InvalidRequest({"slug": "This address is taken; choose another one."})
        if existing_user is None:
            try:
                user_id = await users_db.create_user(
                    conn, owner["email"], owner["full_name"], pw_hash, lang, verified=False
                )
            except asyncpg.UniqueViolationError:  # a concurrent sign-up with the same address
                raise InvalidRequest({"email": "Enter a valid e-mail address."}) from None
            await outbox.add(conn, EMAIL_TASK, {"kind": "verify", "user_id": str(user_id)})
        else:
            user_id = existing_user
        await users_db.add_membership(conn, org_id, user_id, "owner")
        await audit_db.record(conn, org_id, f"user:{user_id}", "organization.created",
                             "organization", str(org_id))  # fmt: skip
    return SignedUp(slug, user_id)


async def verify_email(rt: Runtime, token: str) -> bool:
    async with rt.pool.acquire() as conn, conn.transaction():
        user_id = await users_db.consume_token(conn, "verify_email", token_hash(token))
        if user_id is None:
            return False
        await users_db.mark_verified(conn, user_id)
    return True


async def resend_verification(rt: Runtime, email: str) -> None:
    async with rt.pool.acquire() as conn, conn.transaction():
        user = await users_db.find_user_by_email(conn, email)
        if user is not None and user.email_verified_at is None:
            await outbox.add(conn, EMAIL_TASK, {"kind": "verify", "user_id": str(user.id)})


async def request_password_reset(rt: Runtime, email: str) -> None:
    """Queue a reset e-mail when the address has an account; silent otherwise."""
    async with rt.pool.acquire() as conn, conn.transaction():
        user = await users_db.find_user_by_email(conn, email.strip())
        if user is not None:
            await outbox.add(conn, EMAIL_TASK, {"kind": "reset", "user_id": str(user.id)})


async def reset_token_valid(rt: Runtime, token: str) -> bool:
    async with rt.pool.acquire() as conn:
        return await users_db.token_is_valid(conn, "reset_password", token_hash(token))


async def reset_password(rt: Runtime, token: str, password: str, confirm: str) -> UUID:
    """Set a new password with a single-use token; every session of the user ends.
    Raises ``InvalidRequest`` (field ``token`` when the link is used up or expired)."""
    problem = identity.password_problem(password)
    if problem:
        raise InvalidRequest({"password": problem})
    if password != confirm:
        raise InvalidRequest({"password_confirm": PASSWORDS_DIFFER})
    pw_hash = await hash_password_async(password)
    async with rt.pool.acquire() as conn, conn.transaction():
        user_id = await users_db.consume_token(conn, "reset_password", token_hash(token))
        if user_id is None:
            raise InvalidRequest({"token": "This link has expired or was already used."})
        await users_db.set_password(conn, user_id, pw_hash)
        # Whoever could open the mailbox could read the link: it proves the address too.
        await users_db.mark_verified(conn, user_id)
        await sessions_db.revoke_all(conn, user_id)
        for m in await users_db.memberships(conn, user_id):
            await audit_db.record(conn, m.organization_id, f"user:{user_id}",
                                 "user.password_reset", "user", str(user_id))  # fmt: skip
    return user_id


async def update_profile(
    rt: Runtime, org_id: UUID, actor: str, raw: Mapping[str, str], uploads: Mapping[str, Upload]
) -> None:
    """Save the association's identity; ``InvalidRequest`` (nothing saved) on a bad field."""
    async with rt.pool.acquire() as conn, conn.transaction():
        stored = await org_profile.get(conn, org_id)
        fields, errors = clean_org(raw, uploads, current=stored)
        if errors:
            raise InvalidRequest(errors)
        await org_profile.update(conn, org_id, fields)
        await audit_db.record(conn, org_id, actor, "organization.updated", "organization",
                             str(org_id), {"fields": sorted(fields)})  # fmt: skip
