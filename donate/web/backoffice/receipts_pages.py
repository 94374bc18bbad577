"""Fiscal receipts for finance staff: the list (number, donor, amount, kind, status, e-mail
with failed sends), the PDF and cancellation notice (as the API serves them), e-mailing a
receipt again, the annual receipts of a year on demand (as ``donate receipts annual``), and
the CGI art. 222 bis figures of a year."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from donate.receipts.numbering import local_date_of
from donate.services import receipt_admin as service
from donate.services import receipts
from donate.services.errors import Conflict, InvalidRequest, NotFound
from donate.web.api_receipts import purged
from donate.web.backoffice.actions import origin, path_uuid
from donate.web.backoffice.guard import FINANCE, Member, PageError, field, read_form, require_member
from donate.web.backoffice.render import render
from donate.web.state import app_state

FILTERS = ("year", "status", "kind", "email")


def _this_year() -> int:
    return local_date_of(datetime.now(UTC)).year


async def _list(
    request: Request, member: Member, *, errors: dict[str, str] | None = None,
    problem: str = "", status: int = 200, annual_year: str = "",
) -> Response:  # fmt: skip
    rt = app_state(request).runtime
    org_id = member.organization_id
    args = {k: request.query_params.get(k, "")[:20] for k in FILTERS}
    f, filter_errors = service.make_filter(**args)
    rows, next_cursor = await service.search(
        rt, org_id, f, request.query_params.get("after", "")[:40]
    )
    # The declaration of the year filtered on, else of last year (what is declared now).
    declared_year = f.fiscal_year or _this_year() - 1
    query = urlencode({k: v for k, v in args.items() if v})
    ctx: dict[str, Any] = {
        "rows": rows,
        "args": args,
        "filter_errors": filter_errors,
        "errors": errors or {},
        "problem": problem,
        "years": await service.fiscal_years(rt, org_id),
        "declaration": await receipts.fiscal_declaration(rt, org_id, declared_year),
        "annual_year": annual_year or str(_this_year() - 1),
        "done": request.query_params.get("done", ""),
        "done_n": request.query_params.get("n", "")[:10],
        "next_url": f"?{query}&after={next_cursor}" if next_cursor else None,
        "first_url": f"?{query}" if request.query_params.get("after") else None,
        "area": "receipts",
    }
    return render(request, "admin/receipts_list.html", ctx, status=status)


async def list_page(request: Request) -> Response:
    return await _list(request, await require_member(request, FINANCE))


def _pdf(pdf: bytes, filename: str) -> Response:
    return Response(
        pdf, media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"',
                 "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )  # fmt: skip


async def receipt_pdf(request: Request) -> Response:
    member = await require_member(request, FINANCE)
    receipt_id = path_uuid(request, "receipt_id")
    try:
        row = await receipts.get_receipt(
            app_state(request).runtime, receipt_id, member.organization_id
        )
    except NotFound:
        raise PageError(404) from None
    if purged(row):
        raise PageError(410)
    return _pdf(receipts.receipt_pdf(row), f"recu-fiscal-{row.number}.pdf")


async def cancellation_pdf(request: Request) -> Response:
    member = await require_member(request, FINANCE)
    receipt_id = path_uuid(request, "receipt_id")
    try:
        row = await receipts.get_receipt(
            app_state(request).runtime, receipt_id, member.organization_id
        )
        if purged(row):
            raise PageError(410)
        pdf = receipts.cancellation_pdf(row)
    except NotFound:
        raise PageError(404) from None
    return _pdf(pdf, f"annulation-recu-{row.number}.pdf")


async def resend(request: Request) -> Response:
    member = await require_member(request, FINANCE)
    receipt_id = path_uuid(request, "receipt_id")
    await read_form(request)
    try:
        kind = await service.resend(
            app_state(request).runtime, member.organization_id, receipt_id, member.actor,
            origin(request),
        )  # fmt: skip
    except NotFound:
        raise PageError(404) from None
    except Conflict as exc:
        return await _list(request, member, problem=str(exc), status=409)
    done = "resent_cancellation" if kind == "cancellation" else "resent"
    return RedirectResponse(f"{member.base}/receipts?done={done}", status_code=303)


async def annual(request: Request) -> Response:
    member = await require_member(request, FINANCE)
    form = await read_form(request)
    raw = field(form, "year")[:10]
    try:
        result = await service.issue_annual(
            app_state(request).runtime, member.organization_id, raw, member.actor,
            origin(request),
        )  # fmt: skip
    except InvalidRequest as exc:
        return await _list(request, member, errors=exc.errors, status=400, annual_year=raw)
    query = urlencode({
        "done": "annual_queued" if result.queued else "annual", "n": result.issued,
        "year": result.year,
    })  # fmt: skip
    return RedirectResponse(f"{member.base}/receipts?{query}", status_code=303)


_B = "/admin/{org}/receipts"
routes = [
    Route(_B, list_page, methods=["GET"]),
    Route(f"{_B}/annual", annual, methods=["POST"]),
    Route(f"{_B}/{{receipt_id}}.pdf", receipt_pdf, methods=["GET"]),
    Route(f"{_B}/{{receipt_id}}/cancellation.pdf", cancellation_pdf, methods=["GET"]),
    Route(f"{_B}/{{receipt_id}}/resend", resend, methods=["POST"]),
]
