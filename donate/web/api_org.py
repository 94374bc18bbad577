"""Association API (``/api/v1/orgs/{org}/…``): every query is scoped by the key's association."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from donate.db import donations as donations_db
from donate.services.errors import ServiceError
from donate.services.refunds import request_refund
from donate.web.api_public import read_json
from donate.web.auth import require_org
from donate.web.errors import to_problem
from donate.web.problems import Problem, validation_errors
from donate.web.schemas import RefundBody
from donate.web.state import app_state

PARIS = ZoneInfo("Europe/Paris")
STATUSES = {"pending", "paid", "failed", "canceled", "refunded", "partially_refunded", "disputed"}


def _day(value: str | None, field: str, *, end: bool = False) -> datetime | None:
    if value is None:
        return None
    try:
        d = date.fromisoformat(value)
    except ValueError:
        raise Problem(
            422, "validation", "Invalid request", errors={field: "use YYYY-MM-DD"}
        ) from None
    return datetime.combine(d, time.max if end else time.min, PARIS)


async def list_donations(request: Request) -> JSONResponse:
    who = await require_org(request)
    q = request.query_params
    errors: dict[str, str] = {}
    status = q.get("status")
    if status is not None and status not in STATUSES:
        errors["status"] = f"one of {', '.join(sorted(STATUSES))}"
    try:
        limit = min(max(int(q.get("limit", "50")), 1), 200)
    except ValueError:
        errors["limit"] = "an integer between 1 and 200"
        limit = 50
    campaign = q.get("campaign_id")
    try:
        campaign_id = UUID(campaign) if campaign else None
    except ValueError:
        errors["campaign_id"] = "not a campaign id"
        campaign_id = None
    cursor = q.get("cursor")
    if errors:
        raise Problem(422, "validation", "Invalid request", errors=errors)
    rows = await _query(
        request,
        who.organization_id,
        status,
        campaign_id,
        _day(q.get("from"), "from"),
        _day(q.get("to"), "to", end=True),
        cursor,
        limit,
    )
    items = [_summary(r) for r in rows[:limit]]
    next_cursor = (
        f"{rows[limit - 1]['created_at'].isoformat()}|{rows[limit - 1]['id']}"
        if len(rows) > limit
        else None
    )
    return JSONResponse({"items": items, "next_cursor": next_cursor})


async def _query(
    request: Request,
    org_id: UUID,
    status: str | None,
    campaign_id: UUID | None,
    start: datetime | None,
    end: datetime | None,
    cursor: str | None,
    limit: int,
) -> list[Any]:
    after_at, after_id = None, None
    if cursor:
        try:
            raw_at, raw_id = cursor.split("|")
            after_at, after_id = datetime.fromisoformat(raw_at), UUID(raw_id)
        except ValueError:
            raise Problem(
                422, "validation", "Invalid request", errors={"cursor": "invalid"}
            ) from None
    async with app_state(request).runtime.pool.acquire() as conn:
        return list(
            await conn.fetch(
                """SELECT d.*, c.slug AS campaign_slug FROM donations d
                   JOIN campaigns c ON c.id = d.campaign_id
                   WHERE d.organization_id = $1
                     AND ($2::text IS NULL OR d.status = $2)
                     AND ($3::uuid IS NULL OR d.campaign_id = $3)
                     AND ($4::timestamptz IS NULL OR d.created_at >= $4)
                     AND ($5::timestamptz IS NULL OR d.created_at <= $5)
                     AND ($6::timestamptz IS NULL OR (d.created_at, d.id) < ($6, $7::uuid))
                   ORDER BY d.created_at DESC, d.id DESC LIMIT $8""",
                org_id,
                status,
                campaign_id,
                start,
                end,
                after_at,
                after_id,
                limit + 1,
            )
        )


def _summary(r: Any) -> dict[str, Any]:
    return {
        "id": str(r["id"]),
        "status": r["status"],
        "campaign_id": str(r["campaign_id"]),
        "amount_minor": r["amount_minor"],
        "currency": r["currency"],
        "frequency": r["frequency"],
        "tip_minor": r["tip_minor"],
        "provider": r["provider"],
        "created_at": r["created_at"].isoformat(),
    }


async def get_donation(request: Request) -> JSONResponse:
    who = await require_org(request)
    try:
        donation_id = UUID(request.path_params["donation_id"])
    except ValueError:
        raise Problem(404, "not-found", "Not found", "No such donation.") from None
    async with app_state(request).runtime.pool.acquire() as conn:
        d = await conn.fetchrow(
            "SELECT * FROM donations WHERE id = $1 AND organization_id = $2",
            donation_id,
            who.organization_id,
        )
        if d is None:
            raise Problem(404, "not-found", "Not found", "No such donation.")
        donor = await conn.fetchrow("SELECT * FROM donors WHERE id = $1", d["donor_id"])
        payments = await donations_db.payments_of(conn, donation_id)
        history = await donations_db.history(conn, donation_id)
        receipt_ids = await conn.fetch(
            "SELECT receipt_id FROM receipt_donations WHERE donation_id = $1", donation_id
        )
        refunds = await conn.fetch(
            "SELECT * FROM refunds WHERE donation_id = $1 ORDER BY created_at", donation_id
        )
        subscription_id = await conn.fetchval(
            "SELECT provider_subscription_id FROM recurring_plans WHERE id = $1",
            d["recurring_plan_id"],
        )
    payment = payments[-1] if payments else None
    assert donor is not None
    return JSONResponse(
        {
            **_summary(d),
            "fee_minor": payment.fee_minor if payment else None,
            "fee_cover_minor": d["fee_cover_minor"],
            "platform_fee_minor": d["platform_fee_minor"],
            "counted_minor": d["counted_minor"],
            "provider_payment_id": payment.provider_payment_id if payment else None,
            "provider_checkout_id": payment.checkout_id if payment else None,
            "provider_subscription_id": subscription_id,
            "recurring_plan_id": str(d["recurring_plan_id"]) if d["recurring_plan_id"] else None,
            "method": payment.method if payment else None,
            "wants_receipt": d["wants_receipt"],
            "anonymous": d["anonymous"],
            "donor": {
                k: donor[k]
                for k in (
                    "email",
                    "first_name",
                    "last_name",
                    "company_name",
                    "siren",
                    "address_line1",
                    "address_line2",
                    "postal_code",
                    "city",
                    "country",
                )
            },
            "receipt_ids": [str(r["receipt_id"]) for r in receipt_ids],
            "refunds": [
                {
                    "id": str(r["id"]),
                    "amount_minor": r["amount_minor"],
                    "status": r["status"],
                    "origin": r["origin"],
                    "provider_refund_id": r["provider_refund_id"],
                }
                for r in refunds
            ],
            "history": [
                {
                    "at": h["at"].isoformat(),
                    "status": h["to_status"],
                    "from": h["from_status"],
                    "source": h["source"],
                    "provider_event_id": h["provider_event_id"],
                }
                for h in history
            ],
        }
    )


async def refund_donation(request: Request) -> JSONResponse:
    who = await require_org(request, roles=("admin", "finance"))
    raw = await read_json(request) if await request.body() else {}
    try:
        body = RefundBody.model_validate(raw)
        donation_id = UUID(request.path_params["donation_id"])
    except ValidationError as exc:
        raise Problem(422, "validation", "Invalid request", errors=validation_errors(exc)) from None
    except ValueError:
        raise Problem(404, "not-found", "Not found", "No such donation.") from None
    try:
        result = await request_refund(
            app_state(request).runtime,
            who.organization_id,
            donation_id,
            body.amount_minor,
            actor=who.actor,
        )
    except ServiceError as exc:
        raise to_problem(exc) from exc
    return JSONResponse(
        {
            "refund_id": str(result.refund_id),
            "amount_minor": result.amount_minor,
            "currency": result.currency,
            "status": result.status,
            "donation_status": result.donation_status,
        },
        201 if result.status != "requested" else 202,
    )


routes = [
    Route("/api/v1/orgs/{org}/donations", list_donations, methods=["GET"]),
    Route("/api/v1/orgs/{org}/donations/{donation_id}", get_donation, methods=["GET"]),
    Route("/api/v1/orgs/{org}/donations/{donation_id}/refund", refund_donation, methods=["POST"]),
]
