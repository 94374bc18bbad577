"""Recurring gifts for finance staff: plans per status with the monthly recurring revenue,
one plan with its payments and history, and canceling it on the donor's request (after an
explicit confirmation; nothing already paid is refunded)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from donate.services import recurring_admin as service
from donate.services.errors import Conflict, InvalidRequest, NotFound, ProviderDown
from donate.web.backoffice.actions import origin, path_uuid
from donate.web.backoffice.guard import FINANCE, Member, PageError, field, read_form, require_member
from donate.web.backoffice.render import render
from donate.web.state import app_state


async def list_page(request: Request) -> Response:
    member = await require_member(request, FINANCE)
    rt = app_state(request).runtime
    status = request.query_params.get("status", "")[:20]
    errors: dict[str, str] = {}
    try:
        rows, next_cursor = await service.plans(
            rt, member.organization_id, status or None, request.query_params.get("after", "")[:100]
        )
    except InvalidRequest as exc:
        errors = exc.errors
        rows, next_cursor = await service.plans(rt, member.organization_id, None)
    query = urlencode({"status": status} if status and not errors else {})
    ctx = {
        "s": await service.summary(rt, member.organization_id),
        "rows": rows,
        "status": status if not errors else "",
        "statuses": service.SHOWN_STATUSES,
        "errors": errors,
        "next_url": f"?{query}&after={next_cursor}" if next_cursor else None,
        "first_url": f"?{query}" if request.query_params.get("after") else None,
        "area": "recurring",
    }
    return render(request, "admin/recurring_list.html", ctx)


async def _detail(
    request: Request, member: Member, *, errors: dict[str, str] | None = None,
    problem: str = "", status: int = 200,
) -> Response:  # fmt: skip
    plan_id = path_uuid(request, "plan_id")
    try:
        d = await service.plan_detail(app_state(request).runtime, member.organization_id, plan_id)
    except NotFound:
        raise PageError(404) from None
    ctx: dict[str, Any] = {
        "d": d,
        "p": d["plan"],
        "errors": errors or {},
        "problem": problem,
        "done": request.query_params.get("done", ""),
        "area": "recurring",
    }
    return render(request, "admin/recurring_detail.html", ctx, status=status)


async def detail_page(request: Request) -> Response:
    return await _detail(request, await require_member(request, FINANCE))


async def cancel(request: Request) -> Response:
    member = await require_member(request, FINANCE)
    plan_id = path_uuid(request, "plan_id")
    form = await read_form(request)
    if field(form, "confirm") != "yes":
        errors = {"confirm": "Tick the box to confirm that the donor asked for it."}
        return await _detail(request, member, errors=errors, status=400)
    try:
        await service.cancel(
            app_state(request).runtime, member.organization_id, plan_id, member.actor,
            origin(request),
        )  # fmt: skip
    except NotFound:
        raise PageError(404) from None
    except Conflict as exc:
        return await _detail(request, member, problem=str(exc), status=409)
    except ProviderDown:
        problem = "The payment provider cannot be reached. Please try again."
        return await _detail(request, member, problem=problem, status=503)
    return RedirectResponse(f"{member.base}/recurring/{plan_id}?done=canceled", status_code=303)


_R = "/admin/{org}/recurring"
routes = [
    Route(_R, list_page, methods=["GET"]),
    Route(f"{_R}/{{plan_id}}", detail_page, methods=["GET"]),
    Route(f"{_R}/{{plan_id}}/cancel", cancel, methods=["POST"]),
]
