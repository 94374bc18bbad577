"""API keys of an association: create (shown once), list, revoke."""

from __future__ import annotations

from uuid import UUID

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from donate.db import api_keys as keys_db
from donate.services import accounts_members
from donate.services.errors import InvalidRequest, NotFound
from donate.web.backoffice.guard import (
    MANAGERS,
    Member,
    PageError,
    field,
    read_form,
    require_member,
)
from donate.web.backoffice.render import render
from donate.web.state import app_state


async def _page(
    request: Request, member: Member, *, new_key: str = "", errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:  # fmt: skip
    async with app_state(request).runtime.pool.acquire() as conn:
        keys = await keys_db.list_keys(conn, member.organization_id)
    ctx = {
        "keys": keys,
        "new_key": new_key,
        "roles": accounts_members.API_KEY_ROLES,
        "errors": errors or {},
        "api_base": app_state(request).runtime.settings.public_url.rstrip("/"),
    }
    return render(request, "admin/api_keys.html", ctx, status=status)


async def keys_page(request: Request) -> Response:
    return await _page(request, await require_member(request, MANAGERS))


async def create(request: Request) -> Response:
    member = await require_member(request, MANAGERS)
    form = await read_form(request)
    try:
        key, _key_id = await accounts_members.create_api_key(
            app_state(request).runtime, member.organization_id, member.user_id,
            field(form, "name"), field(form, "role"),
        )  # fmt: skip
    except InvalidRequest as exc:
        return await _page(request, member, errors=exc.errors, status=400)
    # Shown in this answer only: it is stored hashed, and a redirect would lose it.
    return await _page(request, member, new_key=key, status=201)


async def revoke(request: Request) -> Response:
    member = await require_member(request, MANAGERS)
    await read_form(request)
    try:
        key_id = UUID(request.path_params["key_id"])
        await accounts_members.revoke_api_key(
            app_state(request).runtime, member.organization_id, member.user_id, key_id
        )
    except (ValueError, NotFound):
        raise PageError(404) from None
    return RedirectResponse(f"{member.base}/api-keys?notice=revoked", status_code=303)


routes = [
    Route("/admin/{org}/api-keys", keys_page, methods=["GET"]),
    Route("/admin/{org}/api-keys", create, methods=["POST"]),
    Route("/admin/{org}/api-keys/{key_id}/revoke", revoke, methods=["POST"]),
]
