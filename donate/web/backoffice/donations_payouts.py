"""Payouts in the back-office (finance, admin, owner): the list and the report downloads.

The files are produced by the same code as the association API (``web.api_payouts``),
with the signed-in member's association in place of the API key's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from donate.reports import fec
from donate.services import payout_reports
from donate.services.errors import NotFound
from donate.web.api_payouts import _WRITERS as WRITERS
from donate.web.api_payouts import MAX_DAYS, Spec
from donate.web.auth import Principal
from donate.web.backoffice.guard import FINANCE, Member, PageError, require_member
from donate.web.backoffice.render import render
from donate.web.state import app_state

FORMATS = ("csv", "xlsx", "pdf")


def _principal(member: Member) -> Principal:
    return Principal(member.organization_id, member.org_slug, member.role, member.actor)


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


async def list_page(request: Request) -> Response:
    member = await require_member(request, FINANCE)
    rows = await payout_reports.list_payouts(app_state(request).runtime, member.organization_id)
    today = datetime.now(UTC).date()
    ctx = {
        "payouts": rows,
        "formats": FORMATS,
        "fec_from": date(today.year - 1, 1, 1).isoformat(),
        "fec_to": date(today.year - 1, 12, 31).isoformat(),
        "error": request.query_params.get("error", ""),
        "area": "payouts",
    }
    return render(request, "admin/donation_payouts.html", ctx)


async def report(request: Request) -> Response:
    member = await require_member(request, FINANCE)
    fmt = str(request.path_params["fmt"])
    if fmt not in FORMATS:
        raise PageError(404)
    try:
        payout_id = UUID(str(request.path_params["payout_id"]))
        row = await payout_reports.require_payout(
            app_state(request).runtime, member.organization_id, payout_id
        )
    except (ValueError, NotFound):
        raise PageError(404) from None
    spec = Spec("report", payout_id=payout_id)
    name = f"versement-{row.provider_payout_id}"
    return await WRITERS[fmt](request, _principal(member), spec, name)


async def fec_export(request: Request) -> Response:
    member = await require_member(request, FINANCE)
    start = _day(request.query_params.get("from", ""))
    end = _day(request.query_params.get("to", ""))
    if start is None or end is None or start > end or end - start > timedelta(days=MAX_DAYS):
        return render(
            request, "admin/donation_payouts.html",
            {"payouts": [], "formats": FORMATS, "fec_from": request.query_params.get("from", ""),
             "fec_to": request.query_params.get("to", ""), "area": "payouts",
             "error": "Choose a period of at most three years, start before end."},
            status=400,
        )  # fmt: skip
    rt = app_state(request).runtime
    org = await payout_reports.organization(rt, member.organization_id)
    lang = "en" if request.query_params.get("lang") == "en" else "fr"
    writer = fec.FecWriter(org.chart, "\t", lang)

    def encode(text: str) -> bytes:
        return text.encode(fec.ENCODING, "replace")

    async def body() -> AsyncIterator[bytes]:
        yield encode(writer.header())
        async with payout_reports.session(rt, member.organization_id) as s:
            async for chunk in s.lines(line_start=start, line_end=end, order="time"):
                yield encode(writer.movements(chunk, end))
            yield encode(writer.transfers(await s.headers(start=start, end=end)))

    return StreamingResponse(
        body(), media_type=f"text/plain; charset={fec.ENCODING}",
        headers={"Content-Disposition": f'attachment; filename="{fec.file_name(org.siren, end)}"',
                 "Cache-Control": "no-store"},
    )  # fmt: skip


_P = "/admin/{org}/payouts"
routes = [
    Route(_P, list_page, methods=["GET"]),
    Route(f"{_P}/fec", fec_export, methods=["GET"]),
    Route(f"{_P}/{{payout_id}}/report.{{fmt}}", report, methods=["GET"]),
]
