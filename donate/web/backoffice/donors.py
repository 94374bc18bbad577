"""Donors for finance staff: list and search, the donor's record, and their GDPR rights
(export as JSON or CSV, erasure after an explicit confirmation)."""

from __future__ import annotations

from urllib.parse import urlencode
from uuid import UUID

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from donate.services import donor_privacy
from donate.services.errors import Conflict, NotFound
from donate.web.backoffice.campaigns import campaign_id_of, who
from donate.web.backoffice.guard import FINANCE, Member, PageError, field, read_form, require_member
from donate.web.backoffice.render import render
from donate.web.state import app_state


async def list_page(request: Request) -> Response:
    member = await require_member(request, FINANCE)
    q = request.query_params.get("q", "")[:200]
    rows, next_cursor = await donor_privacy.search(
        app_state(request).runtime, member.organization_id, q,
        request.query_params.get("after", "")[:100],
    )  # fmt: skip
    base = urlencode({"q": q}) if q else ""
    ctx = {
        "rows": rows,
        "q": q,
        "next_url": f"?{base}&after={next_cursor}" if next_cursor else None,
        "area": "donors",
    }
    return render(request, "admin/donor_list.html", ctx)


async def _record(
    request: Request, member: Member, *, problem: str = "", status: int = 200,
    confirm_error: bool = False,
) -> Response:  # fmt: skip
    donor_id = campaign_id_of(request, "donor_id")
    try:
        data = await donor_privacy.record(
            app_state(request).runtime, member.organization_id, donor_id
        )
    except NotFound:
        raise PageError(404) from None
    ctx = {
        **data,
        "problem": problem,
        "errors": {"confirm": "Tick the box to confirm the erasure."} if confirm_error else {},
        "done": request.query_params.get("done", ""),
        "area": "donors",
    }
    return render(request, "admin/donor_detail.html", ctx, status=status)


async def record_page(request: Request) -> Response:
    return await _record(request, await require_member(request, FINANCE))


async def export(request: Request) -> Response:
    member = await require_member(request, FINANCE)
    donor_id: UUID = campaign_id_of(request, "donor_id")
    fmt = str(request.path_params["fmt"])
    if fmt not in ("json", "csv"):
        raise PageError(404)
    try:
        data = await donor_privacy.export(
            app_state(request).runtime, member.organization_id, donor_id, who(request, member)
        )
    except NotFound:
        raise PageError(404) from None
    name = f"donateur-{donor_id}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"',
               "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}  # fmt: skip
    if fmt == "json":
        body = donor_privacy.export_json(data)
        return Response(body, media_type="application/json", headers=headers)
    body = donor_privacy.export_csv(data)
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


async def erase(request: Request) -> Response:
    member = await require_member(request, FINANCE)
    donor_id = campaign_id_of(request, "donor_id")
    form = await read_form(request)
    if field(form, "confirm") != "yes":
        return await _record(request, member, confirm_error=True, status=400)
    try:
        await donor_privacy.erase(
            app_state(request).runtime, member.organization_id, donor_id, who(request, member)
        )
    except NotFound:
        raise PageError(404) from None
    except Conflict as exc:
        return await _record(request, member, problem=str(exc), status=409)
    return RedirectResponse(f"{member.base}/donors/{donor_id}?done=erased", status_code=303)


_D = "/admin/{org}/donors"
routes = [
    Route(_D, list_page, methods=["GET"]),
    Route(f"{_D}/{{donor_id}}", record_page, methods=["GET"]),
    Route(f"{_D}/{{donor_id}}/export.{{fmt}}", export, methods=["GET"]),
    Route(f"{_D}/{{donor_id}}/erase", erase, methods=["POST"]),
]
