"""Report exports in the back-office (finance, admin, owner): request a period, payout,
in-transit or FEC export, follow its progress (its page reloads itself while it runs, no
JavaScript), download the file. The worker builds it (``services.report_exports``), with the
same code as the streamed downloads of the payouts page."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from donate.services import payout_reports, report_exports
from donate.services.errors import Conflict, InvalidRequest, NotFound
from donate.web.api_exports import file_response
from donate.web.backoffice.actions import origin, path_uuid
from donate.web.backoffice.guard import FINANCE, Member, PageError, field, read_form, require_member
from donate.web.backoffice.render import language, render
from donate.web.state import app_state

REFRESH_S = 5  # seconds between two reloads of a queued or running export's page
# Form fields passed on as the export's params (the streaming routes' query names).
PARAMS = ("from", "to", "month", "year", "payout_id", "sep")


def _defaults() -> dict[str, str]:
    """The form's starting values: last year, whole."""
    year = datetime.now(UTC).year - 1
    return {"from": date(year, 1, 1).isoformat(), "to": date(year, 12, 31).isoformat()}


async def _page(
    request: Request, member: Member, *, errors: dict[str, str] | None = None,
    problem: str = "", form: dict[str, str] | None = None, status: int = 200,
) -> Response:  # fmt: skip
    rt = app_state(request).runtime
    rows = await report_exports.recent(rt, member.organization_id)
    ctx: dict[str, Any] = {
        "exports": [(r, report_exports.percent(r)) for r in rows],
        "payouts": await payout_reports.list_payouts(rt, member.organization_id),
        "values": {**_defaults(), **(form or {})},
        "errors": errors or {},
        "problem": problem,
        "done": request.query_params.get("done", ""),
        "retention": rt.settings.report_export_retention_days,
        "area": "exports",
    }
    return render(request, "admin/exports.html", ctx, status=status)


async def list_page(request: Request) -> Response:
    return await _page(request, await require_member(request, FINANCE))


def _params(form: FormData, lang: str) -> dict[str, str]:
    params = {k: field(form, k)[:64] for k in PARAMS if field(form, k)}
    params["lang"] = lang
    return params


async def request_export(request: Request) -> Response:
    member = await require_member(request, FINANCE)
    form = await read_form(request)
    kind, fmt = field(form, "kind")[:20], field(form, "format")[:10] or None
    params = _params(form, language(request))
    try:
        row = await report_exports.request(
            app_state(request).runtime, member.organization_id, member.actor, kind, fmt,
            params, origin(request),
        )  # fmt: skip
    except InvalidRequest as exc:
        values = {**params, "kind": kind}
        return await _page(request, member, errors=exc.errors, form=values, status=400)
    except Conflict:
        problem = "Too many exports are in progress; wait for one to end."
        return await _page(request, member, problem=problem, status=409)
    return RedirectResponse(f"{member.base}/exports/{row.id}", status_code=303)


async def progress_page(request: Request) -> Response:
    """One export: its progress, refreshed by the browser while it is queued or running
    (the list page, which holds the forms, never refreshes: it would wipe what is typed)."""
    member = await require_member(request, FINANCE)
    try:
        row = await report_exports.get(
            app_state(request).runtime, member.organization_id, path_uuid(request, "export_id")
        )
    except NotFound:
        raise PageError(404) from None
    live = row.status in ("queued", "running")
    ctx: dict[str, Any] = {
        "e": row,
        "percent": report_exports.percent(row),
        # WCAG 2.2.1: the person can stop the refresh (a link at the top of the page).
        "refresh": REFRESH_S if live and request.query_params.get("refresh") != "off" else 0,
        "live": live,
        "area": "exports",
    }
    return render(request, "admin/export_progress.html", ctx)


async def download(request: Request) -> Response:
    member = await require_member(request, FINANCE)
    export_id = path_uuid(request, "export_id")
    try:
        row, body = await report_exports.download(
            app_state(request).runtime, member.organization_id, export_id
        )
    except NotFound:
        raise PageError(404) from None
    except Conflict:  # not ready, failed or expired: its page says which
        return RedirectResponse(f"{member.base}/exports/{export_id}", status_code=303)
    return file_response(row, body)


_E = "/admin/{org}/exports"
routes = [
    Route(_E, list_page, methods=["GET"]),
    Route(_E, request_export, methods=["POST"]),
    Route(f"{_E}/{{export_id}}", progress_page, methods=["GET"]),
    Route(f"{_E}/{{export_id}}/download", download, methods=["GET"]),
]
