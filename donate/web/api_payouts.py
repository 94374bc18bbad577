"""Payouts and their reports for finance staff (finance and admin API keys only), scoped to
the key's association: the list, a sync request, each payout's report as CSV (streamed),
XLSX and PDF, the period and in-transit reports, and the FEC export."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import anyio.to_thread
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from donate.domain.payouts import PayoutHeader, ReportLine
from donate.reports import fec
from donate.reports.csv_report import CsvReport
from donate.reports.pdf_report import PdfSummary
from donate.reports.xlsx_report import XlsxReport
from donate.services import payout_reports, payouts
from donate.services.errors import ServiceError
from donate.web.auth import Principal, require_org
from donate.web.errors import to_problem
from donate.web.problems import Problem
from donate.web.state import app_state

FINANCE = ("admin", "finance")
MAX_DAYS = 3 * 366  # a FEC or period report spans at most a few fiscal years
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_CSV_SEPARATORS = {",": ",", ";": ";", "semicolon": ";", "tab": "\t", "\t": "\t"}
_FEC_SEPARATORS = {"tab": "\t", "\t": "\t", "|": "|", "pipe": "|"}


def _invalid(field: str, message: str) -> Problem:
    return Problem(422, "validation", "Invalid request", errors={field: message})


def _day(request: Request, field: str, *, required: bool) -> date | None:
    value = request.query_params.get(field)
    if value is None or value == "":
        if required:
            raise _invalid(field, "required, YYYY-MM-DD")
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _invalid(field, "use YYYY-MM-DD") from None


def _range(request: Request, *, required: bool) -> tuple[date | None, date | None]:
    start = _day(request, "from", required=required)
    end = _day(request, "to", required=required)
    if start and end:
        if start > end:
            raise _invalid("to", "must not be before from")
        if (end - start).days > MAX_DAYS:
            raise _invalid("to", f"at most {MAX_DAYS} days after from")
    return start, end


def _period(request: Request) -> tuple[date, date]:
    """``?month=YYYY-MM`` or ``?year=YYYY`` (the back-office's buttons), else ``from``/``to``."""
    month, year = request.query_params.get("month"), request.query_params.get("year")
    try:
        if month:
            first = date.fromisoformat(f"{month}-01")
            after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
            return first, after - timedelta(days=1)
        if year:
            if not (year.isdigit() and len(year) == 4):
                raise ValueError(year)
            return date(int(year), 1, 1), date(int(year), 12, 31)
    except ValueError:
        field = "month" if month else "year"
        raise _invalid(field, "use YYYY-MM" if month else "use YYYY") from None
    start, end = _range(request, required=True)
    assert start is not None and end is not None
    return start, end


def _locale(request: Request) -> str:
    return "en" if request.query_params.get("lang") == "en" else "fr"


def _separator(request: Request, choices: dict[str, str], default: str) -> str:
    raw = request.query_params.get("sep")
    if raw is None:
        return default
    if raw not in choices:
        raise _invalid("sep", f"one of {', '.join(sorted(k for k in choices if k.isprintable()))}")
    return choices[raw]


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@dataclass(frozen=True, slots=True)
class Spec:
    """Which report: one payout, the payouts of a period, or the gifts in transit."""

    title: str
    payout_id: UUID | None = None
    start: date | None = None
    end: date | None = None

    @property
    def period(self) -> str:
        if self.payout_id is not None or not (self.start or self.end):
            return ""
        return f"{self.start or '…'} → {self.end or '…'}"

    async def headers(self, s: payout_reports.ReportSession) -> list[PayoutHeader]:
        if self.title == "in_transit":
            return []
        return await s.headers(payout_id=self.payout_id, start=self.start, end=self.end)

    def lines(self, s: payout_reports.ReportSession) -> AsyncGenerator[list[ReportLine], None]:
        if self.title == "in_transit":
            return s.in_transit(start=self.start, end=self.end)
        if self.payout_id is not None:
            return s.lines(payout_id=self.payout_id)
        return s.lines(payout_start=self.start, payout_end=self.end)


async def _csv(request: Request, who: Principal, spec: Spec, name: str) -> Response:
    rt = app_state(request).runtime
    report = CsvReport(_separator(request, _CSV_SEPARATORS, ","), _locale(request))

    async def body() -> AsyncIterator[bytes]:
        async with payout_reports.session(rt, who.organization_id) as s:
            org = await s.organization()
            headers = await spec.headers(s)
            yield report.start(spec.title, org.name, headers, spec.period).encode()
            # Closed with the response (client gone): the cursor's batch in flight is awaited.
            async with contextlib.aclosing(spec.lines(s)) as chunks:
                async for chunk in chunks:
                    yield report.lines(chunk).encode()
            yield report.end().encode()

    return StreamingResponse(
        body(), media_type="text/csv; charset=utf-8", headers=_attachment(f"{name}.csv")
    )


async def _xlsx(request: Request, who: Principal, spec: Spec, name: str) -> Response:
    rt = app_state(request).runtime
    fd, path = tempfile.mkstemp(prefix="donate-report-", suffix=".xlsx")
    os.close(fd)
    try:
        report = XlsxReport(path, _locale(request))
        async with payout_reports.session(rt, who.organization_id) as s:
            org = await s.organization()
            headers = await spec.headers(s)
            report.start(spec.title, org.name, headers, spec.period)
            async with contextlib.aclosing(spec.lines(s)) as chunks:
                async for chunk in chunks:
                    await anyio.to_thread.run_sync(report.lines, chunk)
        await anyio.to_thread.run_sync(report.close)
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
    summary = PdfSummary(_locale(request))
    async with payout_reports.session(rt, who.organization_id) as s:
        org = await s.organization()
        headers = await spec.headers(s)
        async with contextlib.aclosing(spec.lines(s)) as chunks:
            async for chunk in chunks:
                summary.lines(chunk)
    pdf = await anyio.to_thread.run_sync(
        lambda: summary.render(spec.title, org.name, headers, spec.period)
    )
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
    sep = _separator(request, _FEC_SEPARATORS, "\t")
    rt = app_state(request).runtime
    org = await payout_reports.organization(rt, who.organization_id)
    writer = fec.FecWriter(org.chart, sep, _locale(request))

    def encode(text: str) -> bytes:
        return text.encode(fec.ENCODING, "replace")

    async def body() -> AsyncIterator[bytes]:
        yield encode(writer.header())
        async with payout_reports.session(rt, who.organization_id) as s:
            lines = s.lines(line_start=start, line_end=end, order="time")
            async with contextlib.aclosing(lines) as chunks:
                async for chunk in chunks:
                    yield encode(writer.movements(chunk, end))
            yield encode(writer.transfers(await s.headers(start=start, end=end)))

    return StreamingResponse(
        body(),
        media_type=f"text/plain; charset={fec.ENCODING}",
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


_FMT = ("fmt",)  # csv (streamed; sep "," ";" or tab; lang fr or en), xlsx, pdf
_OUT = ("sep", "lang")
OPENAPI_PATHS: dict[str, Any] = {
    f"{_ORG}/payouts": {
        "get": _op("Payouts, newest first (arrival from/to)", ("org",), ("from", "to"))
    },
    f"{_ORG}/payouts/sync": {
        "post": _op("Sync the payouts of every connected account now (202)", ("org",))
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
