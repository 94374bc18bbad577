"""Association API authentication: ``Authorization: Bearer <api key>``, scoped to one org."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from starlette.requests import Request

from donate.db import orgs as orgs_db
from donate.security.crypto import api_key_prefix, hash_api_key, same_hash
from donate.web.problems import Problem
from donate.web.state import app_state


@dataclass(frozen=True, slots=True)
class Principal:
    organization_id: UUID
    org_slug: str
    role: str
    actor: str


async def require_org(
    request: Request, *, roles: tuple[str, ...] = ("admin", "finance", "campaigner")
) -> Principal:
    """The association the API key belongs to, which must be the ``{org}`` of the URL.
    Another association's URL answers 404, like its objects: nothing leaks that it exists."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    prefix = api_key_prefix(key.strip()) if scheme.lower() == "bearer" else None
    unauthorized = Problem(
        401, "unauthorized", "Unauthorized", "A valid API key is required.",
        headers={"WWW-Authenticate": 'Bearer realm="donate"'},
    )  # fmt: skip
    if prefix is None:
        raise unauthorized
    async with app_state(request).runtime.pool.acquire() as conn:
        row = await orgs_db.find_api_key(conn, prefix)
        if row is None or not same_hash(row.key_hash, hash_api_key(key.strip())):
            raise unauthorized
        await conn.execute(
            "UPDATE api_keys SET last_used_at = now() WHERE id = $1 "
            "AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
            row.id,
        )
    if row.org_slug != request.path_params.get("org"):
        raise Problem(404, "not-found", "Not found", "No such association.")
    if row.role not in roles:
        raise Problem(403, "forbidden", "Forbidden", "This API key may not do that.")
    return Principal(row.organization_id, row.org_slug, row.role, f"api_key:{row.id}")
