"""Payouts and their reports for finance staff (finance and admin API keys only), scoped to
the key's association: the list, a sync request, each payout's report as CSV (streamed),
XLSX and PDF, the period and in-transit reports, and the FEC export."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from uuid import UUID

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from donate.reports import fec
from donate.services import payout_reports, payouts, report_files, report_specs
from donate.services.errors import InvalidRequest, ServiceError
from donate.services.report_files import Spec as Spec
from donate.web.auth import Principal, require_org
from donate.web.errors import to_problem
from donate.web.problems import Problem
from donate.web.state import app_state

T = TypeVar("T")

FINANCE = ("admin", "finance")
MAX_DAYS = report_specs.MAX_DAYS
XLSX = report_files.XLSX


def _checked(parse: Callable[[], T]) -> T:
    """The shared parameter checks (``services.report_specs``) as problem documents."""
    try:
        return parse()
    except InvalidRequest as exc:
        raise to_problem(exc) from exc


def _range(request: Request, *, required: bool) -> tuple[date | None, date | None]:
    return _checked(lambda: report_specs.parse_range(request.query_params, required=required))


def _period(request: Request) -> tuple[date, date]:
    """``?month=YYYY-MM`` or ``?year=YYYY`` (the back-office's buttons), else ``from``/``to``."""
    return _checked(lambda: report_specs.parse_period(request.query_params))


def _locale(request: Request) -> str:
    return report_specs.parse_locale(request.query_params)


def _separator(request: Request, choices: dict[str, str], default: str) -> str:
    return _checked(lambda: report_specs.parse_separator(request.query_params, choices, default))


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


async def _csv(request: Request, who: Principal, spec: Spec, name: str) -> Response:
    sep = _separator(request, report_specs.CSV_SEPARATORS, ",")
    body = report_files.csv_chunks(
        app_state(request).runtime, who.organization_id, spec, sep, _locale(request)
    )
    return StreamingResponse(
        body, media_type=report_files.CONTENT_TYPES["csv"], headers=_attachment(f"{name}.csv")
    )


async def _xlsx(request: Request, who: Principal, spec: Spec, name: str) -> Response:
    rt = app_state(request).runtime
    fd, path = tempfile.mkstemp(prefix="donate-report-", suffix=".xlsx")
    os.close(fd)
    try:
        await report_files.write_xlsx(rt, who.organization_id, spec, path, _locale(request))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    return FileResponse(
        path,
        media_type=XLSX,
        filename=f"{name}.xlsx",
        background=BackgroundTask(os.unlink, path),
    )


async def _pdf(request: Request, who: Principal, spec: Spec, name: str) -> Response:
    rt = app_state(request).runtime
    pdf = await report_files.pdf_bytes(rt, who.organization_id, spec, _locale(request))
    return Response(pdf, media_type="application/pdf", headers=_attachment(f"{name}.pdf"))


_WRITERS = {"csv": _csv, "xlsx": _xlsx, "pdf": _pdf}


def _format(request: Request, allowed: tuple[str, ...]) -> str:
    fmt = str(request.path_params["fmt"])
    if fmt not in allowed:
        raise Problem(404, "not-found", "Not found", f"formats: {', '.join(allowed)}")
    return fmt


async def list_payouts(request: Request) -> JSONResponse:
    who = await require_org(request, roles=FINANCE)
    start, end = _range(request, required=False)
    rows = await payout_reports.list_payouts(
        app_state(request).runtime, who.organization_id, start=start, end=end
    )
    items = [
        {
            "id": str(r.id),
            "provider": r.provider,
            "provider_payout_id": r.provider_payout_id,
            "amount_minor": r.amount_minor,
            "currency": r.currency.strip(),
            "arrival_date": r.arrival_date.isoformat() if r.arrival_date else None,
            "status": r.status,
            "synced_at": r.synced_at.isoformat() if r.synced_at else None,
        }
        for r in rows
    ]
    return JSONResponse({"items": items})


async def request_sync(request: Request) -> JSONResponse:
    who = await require_org(request, roles=FINANCE)
    added = await payouts.request_sync_now(app_state(request).runtime, who.organization_id)
    return JSONResponse({"requested": added}, status_code=202)


async def payout_report(request: Request) -> Response:
    who = await require_org(request, roles=FINANCE)
    fmt = _format(request, ("csv", "xlsx", "pdf"))
    try:
        payout_id = UUID(str(request.path_params["payout_id"]))
    except ValueError:
        raise Problem(404, "not-found", "Not found", "No such payout.") from None
    try:
        row = await payout_reports.require_payout(
            app_state(request).runtime, who.organization_id, payout_id
        )
    except ServiceError as exc:
        raise to_problem(exc) from exc
    spec = Spec("report", payout_id=payout_id)
    return await _WRITERS[fmt](request, who, spec, f"versement-{row.provider_payout_id}")


async def period_report(request: Request) -> Response:
    who = await require_org(request, roles=FINANCE)
    fmt = _format(request, ("csv", "xlsx", "pdf"))
    start, end = _period(request)
    spec = Spec("period_report", start=start, end=end)
    return await _WRITERS[fmt](request, who, spec, f"versements-{start}-{end}")


async def in_transit_report(request: Request) -> Response:
    who = await require_org(request, roles=FINANCE)
    fmt = _format(request, ("csv", "xlsx", "pdf"))
    start, end = _range(request, required=False)
    spec = Spec("in_transit", start=start, end=end)
    today = datetime.now(UTC).date()
    return await _WRITERS[fmt](request, who, spec, f"en-transit-{today}")


async def fec_export(request: Request) -> Response:
    who = await require_org(request, roles=FINANCE)
    start, end = _range(request, required=True)
    assert start is not None and end is not None
    sep = _separator(request, report_specs.FEC_SEPARATORS, "\t")
    rt = app_state(request).runtime
    org = await payout_reports.organization(rt, who.organization_id)
    body = report_files.fec_chunks(rt, who.organization_id, org, start, end, sep, _locale(request))
    return StreamingResponse(
        body,
        media_type=report_files.CONTENT_TYPES["txt"],
        headers=_attachment(fec.file_name(org.siren, end)),
    )


_ORG = "/api/v1/orgs/{org}"
routes = [
    Route(f"{_ORG}/payouts", list_payouts, methods=["GET"]),
    Route(f"{_ORG}/payouts/sync", request_sync, methods=["POST"]),
    Route(f"{_ORG}/payouts/{{payout_id}}/report.{{fmt}}", payout_report, methods=["GET"]),
    Route(f"{_ORG}/reports/period.{{fmt}}", period_report, methods=["GET"]),
    Route(f"{_ORG}/reports/in-transit.{{fmt}}", in_transit_report, methods=["GET"]),
    Route(f"{_ORG}/exports/fec", fec_export, methods=["GET"]),
]


def _op(summary: str, path: tuple[str, ...], query: tuple[str, ...] = ()) -> dict[str, Any]:
    """One OpenAPI operation of these routes (merged into /openapi.json)."""
    params = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in path
    ] + [{"name": q, "in": "query", "required": False, "schema": {"type": "string"}} for q in query]
    return {
        "summary": summary,
        "security": [{"apiKey": []}],
        "parameters": params,
        "responses": {
            "200": {"description": "OK"},
            "403": {"description": "Not a finance or admin key"},
            "404": {"description": "Unknown, or another association's"},
            "422": {"description": "Bad date range or option"},
        },
    }


def _sync_op() -> dict[str, Any]:
    op = _op("Sync the payouts of every connected account now", ("org",))
    op["responses"].pop("200")
    op["responses"]["202"] = {"description": "Sync requested, one job per connected account"}
    return op


_FMT = ("fmt",)  # csv (streamed; sep "," ";" or tab; lang fr or en), xlsx, pdf
_OUT = ("sep", "lang")
OPENAPI_PATHS: dict[str, Any] = {
    f"{_ORG}/payouts": {
        "get": _op("Payouts, newest first (arrival from/to)", ("org",), ("from", "to"))
    },
    f"{_ORG}/payouts/sync": {
        "post": _sync_op(),
    },
    f"{_ORG}/payouts/{{payout_id}}/report.{{fmt}}": {
        "get": _op("One payout's reconciled report", ("org", "payout_id", *_FMT), _OUT)
    },
    f"{_ORG}/reports/period.{{fmt}}": {
        "get": _op(
            "The payouts arrived in a period: from/to, month=YYYY-MM or year=YYYY",
            ("org", *_FMT),
            ("from", "to", "month", "year", *_OUT),
        )
    },
    f"{_ORG}/reports/in-transit.{{fmt}}": {
        "get": _op(
            "Gifts paid (from/to), not yet in a synced payout",
            ("org", *_FMT),
            ("from", "to", *_OUT),
        )
    },
    f"{_ORG}/exports/fec": {
        "get": _op("Accounting entries, French FEC (tab or |)", ("org",), ("from", "to", *_OUT))
    },
}
