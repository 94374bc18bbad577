"""Fiscal receipts over HTTP: the association's API and the donor's signed download link."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from donate.db.receipts import ReceiptRow
from donate.services import receipt_mail, receipts, receipts_annual
from donate.services.errors import ServiceError
from donate.web.api_public import read_json
from donate.web.auth import require_org
from donate.web.errors import to_problem
from donate.web.problems import Problem
from donate.web.state import app_state

_ROLES = ("admin", "finance")  # receipts carry donors' names and addresses
_NOT_FOUND = Problem(404, "not-found", "Not found", "No such receipt.")
_GONE_DETAIL = "This receipt was deleted at the end of its legal retention period."


def purged(row: ReceiptRow) -> bool:
    """Six years on, ``donor_privacy.purge_due`` erases the donor section of an erased
    donor's receipts: the document no longer exists and cannot be re-rendered."""
    donor = row.snapshot.get("donor")
    return isinstance(donor, dict) and donor.get("type") == "erased"


def _not_purged(row: ReceiptRow) -> ReceiptRow:
    if purged(row):
        raise Problem(410, "gone", "Gone", _GONE_DETAIL)
    return row


def _receipt_id(request: Request) -> UUID:
    try:
        return UUID(request.path_params["receipt_id"])
    except ValueError:
        raise _NOT_FOUND from None


def _year(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).isdigit():
        raise Problem(422, "validation", "Invalid request", errors={"year": "a year, e.g. 2026"})
    return int(raw)


def _item(r: Any) -> dict[str, Any]:
    return {
        "id": str(r["id"]),
        "number": r["number"],
        "status": r["status"],
        "kind": r["kind"],
        "form": r["form"],
        "donation_ids": [str(d) for d in r["donation_ids"] or []],
        "amount_minor": r["amount_minor"],
        "currency": r["currency"],
        "fiscal_year": r["fiscal_year"],
        "issued_at": r["issued_at"].isoformat(),
        "replaces": str(r["replaces"]) if r["replaces"] else None,
        "replaces_number": r["replaces_number"],
        "canceled_at": r["canceled_at"].isoformat() if r["canceled_at"] else None,
        "cancel_reason": r["cancel_reason"],
        "email_status": r["email_status"],
    }


async def list_receipts(request: Request) -> JSONResponse:
    who = await require_org(request, roles=_ROLES)
    q = request.query_params
    errors: dict[str, str] = {}
    status = q.get("status")
    if status is not None and status not in ("issued", "canceled"):
        errors["status"] = "issued or canceled"
    year = _year(q["year"]) if "year" in q else None
    try:
        limit = min(max(int(q.get("limit", "100")), 1), 500)
    except ValueError:
        errors["limit"] = "an integer between 1 and 500"
        limit = 100
    before: tuple[int, int] | None = None
    if q.get("cursor"):
        try:
            y, s = q["cursor"].split("-")
            before = (int(y), int(s))
        except ValueError:
            errors["cursor"] = "invalid"
    if errors:
        raise Problem(422, "validation", "Invalid request", errors=errors)
    rows = await receipts.list_receipts(
        app_state(request).runtime, who.organization_id, fiscal_year=year, status=status,
        limit=limit + 1, before=before,
    )  # fmt: skip
    last = rows[limit - 1] if len(rows) > limit else None
    return JSONResponse(
        {
            "items": [_item(r) for r in rows[:limit]],
            "next_cursor": f"{last['year']}-{last['seq']}" if last else None,
        }
    )


def _pdf(pdf: bytes, filename: str) -> Response:
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


async def receipt_pdf(request: Request) -> Response:
    who = await require_org(request, roles=_ROLES)
    try:
        row = await receipts.get_receipt(
            app_state(request).runtime, _receipt_id(request), who.organization_id
        )
    except ServiceError as exc:
        raise to_problem(exc) from exc
    return _pdf(receipts.receipt_pdf(_not_purged(row)), f"recu-fiscal-{row.number}.pdf")


async def cancellation_pdf(request: Request) -> Response:
    who = await require_org(request, roles=_ROLES)
    try:
        row = await receipts.get_receipt(
            app_state(request).runtime, _receipt_id(request), who.organization_id
        )
        pdf = receipts.cancellation_pdf(_not_purged(row))
    except ServiceError as exc:
        raise to_problem(exc) from exc
    return _pdf(pdf, f"annulation-recu-{row.number}.pdf")


async def annual(request: Request) -> JSONResponse:
    who = await require_org(request, roles=_ROLES)
    body = await read_json(request)
    if not isinstance(body, dict) or "year" not in body:
        raise Problem(422, "validation", "Invalid request", errors={"year": "required"})
    year = _year(body["year"])
    try:
        await receipts_annual.queue_annual(app_state(request).runtime, who.organization_id, year)
    except ServiceError as exc:
        raise to_problem(exc) from exc
    return JSONResponse({"year": year, "status": "queued"}, 202)


async def fiscal_declaration(request: Request) -> JSONResponse:
    who = await require_org(request, roles=_ROLES)
    year = _year(request.path_params["year"])
    data = await receipts.fiscal_declaration(app_state(request).runtime, who.organization_id, year)
    return JSONResponse(data)


async def donor_download(request: Request) -> Response:
    """The donor's link from the e-mail: no account, a signed and expiring token. A canceled
    receipt answers with its cancellation notice, never with the void receipt."""
    rt = app_state(request).runtime
    receipt_id = _receipt_id(request)
    token = request.query_params.get("token", "")
    if not receipt_mail.check_token(rt.settings, receipt_id, token, datetime.now(UTC)):
        raise Problem(403, "forbidden", "Forbidden", "This link is invalid or has expired.")
    try:
        row = _not_purged(await receipts.get_receipt(rt, receipt_id))
    except ServiceError as exc:
        raise to_problem(exc) from exc
    if row.status == "canceled":
        return _pdf(receipts.cancellation_pdf(row), f"annulation-recu-{row.number}.pdf")
    return _pdf(receipts.receipt_pdf(row), f"recu-fiscal-{row.number}.pdf")


routes = [
    Route("/api/v1/orgs/{org}/receipts", list_receipts, methods=["GET"]),
    Route("/api/v1/orgs/{org}/receipts/annual", annual, methods=["POST"]),
    Route("/api/v1/orgs/{org}/receipts/{receipt_id}.pdf", receipt_pdf, methods=["GET"]),
    Route(
        "/api/v1/orgs/{org}/receipts/{receipt_id}/cancellation.pdf",
        cancellation_pdf,
        methods=["GET"],
    ),
    Route("/api/v1/orgs/{org}/fiscal-declaration/{year}", fiscal_declaration, methods=["GET"]),
    Route("/receipts/{receipt_id}.pdf", donor_download, methods=["GET"]),
]


def _op(summary: str, *params: str, pdf: bool = False, body: bool = False) -> dict[str, Any]:
    """One OpenAPI operation of these routes (merged into /openapi.json)."""
    op: dict[str, Any] = {
        "summary": summary,
        "parameters": [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in params
        ],
        "responses": {
            "200": {"description": "OK"}
            if not pdf
            else {"description": "PDF", "content": {"application/pdf": {}}},
            "404": {"description": "Unknown, or another association's"},
        },
    }
    if pdf:
        op["responses"]["410"] = {"description": "Deleted at the end of its retention period"}
    if params and params[0] == "org":
        op["security"] = [{"apiKey": []}]
    if body:
        op["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["year"],
                        "properties": {"year": {"type": "integer"}},
                    }
                }
            },
        }
        op["responses"] = {"202": {"description": "Queued"}, "422": {"description": "Bad year"}}
    return op


OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/orgs/{org}/receipts": {
        "get": _op("Fiscal receipts, newest first (filters year, status; cursor, limit)", "org")
    },
    "/api/v1/orgs/{org}/receipts/annual": {
        "post": _op("Issue the annual summary receipts of a year", "org", body=True)
    },
    "/api/v1/orgs/{org}/receipts/{receipt_id}.pdf": {
        "get": _op("A receipt's PDF", "org", "receipt_id", pdf=True)
    },
    "/api/v1/orgs/{org}/receipts/{receipt_id}/cancellation.pdf": {
        "get": _op("The cancellation notice of a canceled receipt", "org", "receipt_id", pdf=True)
    },
    "/api/v1/orgs/{org}/fiscal-declaration/{year}": {
        "get": _op("CGI art. 222 bis: count and total of the year's live receipts", "org", "year")
    },
}
