"""Donations for finance staff: search and filters, CSV export, detail with the full
history, refund (full or partial) and sending the receipt again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from donate.services import dashboard_donations as service
from donate.services.errors import Conflict, InvalidRequest, NotFound, ProviderDown
from donate.web.backoffice.campaigns import campaign_id_of, who
from donate.web.backoffice.guard import FINANCE, Member, PageError, field, read_form, require_member
from donate.web.backoffice.render import language, render
from donate.web.state import app_state

FILTERS = ("q", "status", "campaign", "from", "to")


def _filter_args(request: Request) -> dict[str, str]:
    return {k: request.query_params.get(k, "")[:200] for k in FILTERS}


async def list_page(request: Request) -> Response:
    member = await require_member(request, FINANCE)
    rt = app_state(request).runtime
    args = _filter_args(request)
    f, errors = service.make_filter(
        q=args["q"], status=args["status"], campaign=args["campaign"], start=args["from"],
        end=args["to"],
    )  # fmt: skip
    rows, next_cursor = await service.search(
        rt, member.organization_id, f, request.query_params.get("after", "")[:100]
    )
    query = urlencode({k: v for k, v in args.items() if v})
    ctx = {
        "rows": rows,
        "args": args,
        "errors": errors,
        "statuses": service.STATUSES,
        "campaigns": await service.campaign_choices(rt, member.organization_id),
        "next_url": f"?{query}&after={next_cursor}" if next_cursor else None,
        "first_url": f"?{query}" if request.query_params.get("after") else None,
        "export_url": f"{member.base}/donations/export.csv?{query}",
        "area": "donations",
    }
    return render(request, "admin/donation_list.html", ctx)


async def export(request: Request) -> Response:
    member = await require_member(request, FINANCE)
    args = _filter_args(request)
    f, _errors = service.make_filter(
        q=args["q"], status=args["status"], campaign=args["campaign"], start=args["from"],
        end=args["to"],
    )  # fmt: skip
    rt = app_state(request).runtime

    async def body() -> AsyncIterator[bytes]:
        async for chunk in service.export_csv(rt, member.organization_id, f):
            yield chunk.encode()

    name = f"dons-{member.org_slug}-{datetime.now(UTC).date().isoformat()}.csv"
    return StreamingResponse(
        body(), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"',
                 "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )  # fmt: skip


async def _detail(
    request: Request, member: Member, *, errors: dict[str, str] | None = None,
    problem: str = "", status: int = 200, amount: str = "",
) -> Response:  # fmt: skip
    donation_id = campaign_id_of(request, "donation_id")
    try:
        d = await service.detail(app_state(request).runtime, member.organization_id, donation_id)
    except NotFound:
        raise PageError(404) from None
    ctx: dict[str, Any] = {
        "d": d,
        "payment": next((p for p in reversed(d["payments"]) if p["status"] == "paid"), None),
        "errors": errors or {},
        "problem": problem,
        "amount": amount,
        "done": request.query_params.get("done", ""),
        "area": "donations",
    }
    return render(request, "admin/donation_detail.html", ctx, status=status)


async def detail_page(request: Request) -> Response:
    return await _detail(request, await require_member(request, FINANCE))


async def refund(request: Request) -> Response:
    member = await require_member(request, FINANCE)
    donation_id = campaign_id_of(request, "donation_id")
    form = await read_form(request)
    amount = field(form, "amount")
    try:
        await service.refund(
            app_state(request).runtime, member.organization_id, donation_id, amount,
            language(request), who(request, member),
        )  # fmt: skip
    except NotFound:
        raise PageError(404) from None
    except InvalidRequest as exc:
        return await _detail(request, member, errors=exc.errors, status=400, amount=amount)
    except Conflict as exc:
        return await _detail(request, member, problem=str(exc), status=409)
    except ProviderDown:
        problem = "The payment provider cannot be reached. Please try again."
        return await _detail(request, member, problem=problem, status=503)
    return RedirectResponse(f"{member.base}/donations/{donation_id}?done=refund", status_code=303)


async def resend_receipt(request: Request) -> Response:
    member = await require_member(request, FINANCE)
    donation_id: UUID = campaign_id_of(request, "donation_id")
    await read_form(request)
    try:
        await service.resend_receipt(
            app_state(request).runtime, member.organization_id, donation_id, who(request, member)
        )
    except NotFound:
        raise PageError(404) from None
    except Conflict as exc:
        return await _detail(request, member, problem=str(exc), status=409)
    return RedirectResponse(f"{member.base}/donations/{donation_id}?done=resent", status_code=303)


_D = "/admin/{org}/donations"
routes = [
    Route(_D, list_page, methods=["GET"]),
    Route(f"{_D}/export.csv", export, methods=["GET"]),
    Route(f"{_D}/{{donation_id}}", detail_page, methods=["GET"]),
    Route(f"{_D}/{{donation_id}}/refund", refund, methods=["POST"]),
    Route(f"{_D}/{{donation_id}}/resend-receipt", resend_receipt, methods=["POST"]),
]
