"""Members of an association: list, invite, change role, remove; accepting an invitation."""

from __future__ import annotations

from uuid import UUID

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from donate.db import users as users_db
from donate.services import accounts_members
from donate.services.errors import Conflict, InvalidRequest, NotFound
from donate.web.backoffice import session as cookies
from donate.web.backoffice.guard import (
    MANAGERS,
    Member,
    PageError,
    field,
    load_current,
    read_form,
    require_member,
)
from donate.web.backoffice.render import render
from donate.web.state import app_state


def _uuid(request: Request, name: str) -> UUID:
    try:
        return UUID(request.path_params[name])
    except ValueError:
        raise PageError(404) from None


async def _page(
    request: Request, member: Member, *, errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None, status: int = 200,
) -> Response:  # fmt: skip
    async with app_state(request).runtime.pool.acquire() as conn:
        people = await users_db.members(conn, member.organization_id)
        pending = await users_db.pending_invitations(conn, member.organization_id)
    ctx = {
        "people": people,
        "invitations": pending,
        "roles": accounts_members.ROLES,
        "errors": errors or {},
        "values": values or {},
    }
    return render(request, "admin/members.html", ctx, status=status)


async def members_page(request: Request) -> Response:
    return await _page(request, await require_member(request, MANAGERS))


async def invite(request: Request) -> Response:
    member = await require_member(request, MANAGERS)
    form = await read_form(request)
    email, role = field(form, "email"), field(form, "role")
    try:
        await accounts_members.invite(
            app_state(request).runtime, member.organization_id, member.user_id, email, role,
            actor_role=member.role,
        )  # fmt: skip
    except InvalidRequest as exc:
        values = {"email": email, "role": role}
        return await _page(request, member, errors=exc.errors, values=values, status=400)
    return RedirectResponse(f"{member.base}/members?notice=invited", status_code=303)


async def change_role(request: Request) -> Response:
    member = await require_member(request, MANAGERS)
    form = await read_form(request)
    try:
        await accounts_members.change_role(
            app_state(request).runtime, member.organization_id, member.user_id, member.role,
            _uuid(request, "user_id"), field(form, "role"),
        )  # fmt: skip
    except NotFound:
        raise PageError(404) from None
    except InvalidRequest as exc:
        return await _page(request, member, errors=exc.errors, status=400)
    except Conflict as exc:
        return await _page(request, member, errors={"role": str(exc)}, status=409)
    return RedirectResponse(f"{member.base}/members?notice=saved", status_code=303)


async def remove(request: Request) -> Response:
    member = await require_member(request, MANAGERS)
    await read_form(request)
    try:
        await accounts_members.remove_member(
            app_state(request).runtime, member.organization_id, member.user_id, member.role,
            _uuid(request, "user_id"),
        )  # fmt: skip
    except NotFound:
        raise PageError(404) from None
    except InvalidRequest as exc:
        return await _page(request, member, errors=exc.errors, status=400)
    except Conflict as exc:
        return await _page(request, member, errors={"role": str(exc)}, status=409)
    return RedirectResponse(f"{member.base}/members?notice=removed", status_code=303)


async def revoke_invitation(request: Request) -> Response:
    member = await require_member(request, MANAGERS)
    await read_form(request)
    try:
        await accounts_members.revoke_invitation(
            app_state(request).runtime, member.organization_id, member.user_id,
            _uuid(request, "invitation_id"),
        )  # fmt: skip
    except NotFound:
        raise PageError(404) from None
    return RedirectResponse(f"{member.base}/members?notice=saved", status_code=303)


async def _signed_in(request: Request) -> UUID | None:
    cur = await load_current(request)
    if cur is None or cur.session.mfa_pending:
        request.scope.pop("donate.backoffice.current", None)
        return None
    return cur.user.id


async def accept_page(request: Request) -> Response:
    token = request.query_params.get("token", "")
    signed_in = await _signed_in(request)
    view = await accounts_members.look_up_invitation(app_state(request).runtime, token)
    if view is None:
        return render(request, "admin/message.html", {"kind": "bad_link"}, status=400)
    ctx = {"invitation": view, "token": token, "signed_in": signed_in is not None, "errors": {}}
    return render(request, "admin/invitation.html", ctx)


async def accept_submit(request: Request) -> Response:
    signed_in = await _signed_in(request)
    form = await read_form(request)
    token = field(form, "token")
    rt = app_state(request).runtime
    try:
        user_id, slug = await accounts_members.accept_invitation(
            rt, token, signed_in=signed_in, full_name=field(form, "full_name"),
            password=field(form, "password"), confirm=field(form, "password_confirm"),
        )  # fmt: skip
    except NotFound:
        return render(request, "admin/message.html", {"kind": "bad_link"}, status=400)
    except InvalidRequest as exc:
        view = await accounts_members.look_up_invitation(rt, token)
        ctx = {"invitation": view, "token": token, "signed_in": signed_in is not None,
               "errors": exc.errors}  # fmt: skip
        return render(request, "admin/invitation.html", ctx, status=400)
    if signed_in is not None:
        return RedirectResponse(f"/admin/{slug}?notice=joined", status_code=303)
    # A new account: log in with the password just chosen (a fresh session, no fixation).
    response = RedirectResponse(
        f"/admin/login?next=/admin/{slug}&notice=account_created", status_code=303
    )
    cookies.clear_session(request, response)
    assert user_id
    return response


routes = [
    Route("/admin/invitations/accept", accept_page, methods=["GET"]),
    Route("/admin/invitations/accept", accept_submit, methods=["POST"]),
    Route("/admin/{org}/members", members_page, methods=["GET"]),
    Route("/admin/{org}/members/invite", invite, methods=["POST"]),
    Route("/admin/{org}/members/{user_id}/role", change_role, methods=["POST"]),
    Route("/admin/{org}/members/{user_id}/remove", remove, methods=["POST"]),
    Route("/admin/{org}/invitations/{invitation_id}/revoke", revoke_invitation, methods=["POST"]),
]
