"""Association API for recurring gifts (``/api/v1/orgs/{org}/recurring-plans``): the plans
(active, failing, lapsed, canceled…), one plan with its cycles and history, canceling one on
the donor's request, and the monthly recurring revenue. Scoped by the key's association."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from donate.db import recurring as recurring_db
from donate.db.recurring import PLAN_STATUSES, PlanRow
from donate.services import recurring_admin, recurring_manage
from donate.services.errors import ServiceError
from donate.web.auth import require_org
from donate.web.errors import to_problem
from donate.web.problems import Problem
from donate.web.state import app_state


def _plan_id(request: Request) -> UUID:
    try:
        return UUID(request.path_params["plan_id"])
    except ValueError:
        raise Problem(404, "not-found", "Not found", "No such recurring plan.") from None


def _method(p: PlanRow) -> dict[str, Any] | None:
    if not p.method_kind:
        return None
    return {
        "kind": p.method_kind, "brand": p.card_brand, "last4": p.card_last4,
        "exp_month": p.card_exp_month, "exp_year": p.card_exp_year,
        "mandate_reference": p.mandate_reference,
    }  # fmt: skip


def plan_json(p: PlanRow, donor: Any) -> dict[str, Any]:
    return {
        "id": str(p.id),
        "status": p.status,
        "campaign_id": str(p.campaign_id),
        "first_donation_id": str(p.first_donation_id),
        "amount_minor": p.amount_minor,
        "tip_minor": p.tip_minor,
        "charged_minor": p.charged_minor,
        "currency": p.currency,
        "frequency": p.frequency,
        "provider": p.provider,
        "provider_subscription_id": p.provider_subscription_id,
        "failure_count": p.failure_count,
        "next_charge_date": p.next_charge_date.isoformat() if p.next_charge_date else None,
        "next_retry_at": p.next_retry_at.isoformat() if p.next_retry_at else None,
        "payment_method": _method(p),
        "donor": {k: donor[k] for k in ("email", "first_name", "last_name", "company_name")}
        if donor is not None
        else None,
        "created_at": p.created_at.isoformat(),
        "ended_at": p.ended_at.isoformat() if p.ended_at else None,
        "ended_by": p.ended_by if p.ended else None,
    }


async def _donors(request: Request, ids: list[UUID]) -> dict[UUID, Any]:
    async with app_state(request).runtime.pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM donors WHERE id = ANY($1::uuid[])", ids)
    return {r["id"]: r for r in rows}


async def list_plans(request: Request) -> JSONResponse:
    who = await require_org(request)
    q = request.query_params
    errors: dict[str, str] = {}
    status = q.get("status")
    if status is not None and status not in PLAN_STATUSES:
        errors["status"] = f"one of {', '.join(PLAN_STATUSES)}"
    try:
        limit = min(max(int(q.get("limit", "50")), 1), 200)
    except ValueError:
        errors["limit"] = "an integer between 1 and 200"
        limit = 50
    before = None
    if q.get("cursor"):
        try:
            raw_at, raw_id = q["cursor"].split("|")
            before = (datetime.fromisoformat(raw_at), UUID(raw_id))
        except ValueError:
            errors["cursor"] = "invalid"
    if errors:
        raise Problem(422, "validation", "Invalid request", errors=errors)
    async with app_state(request).runtime.pool.acquire() as conn:
        plans = await recurring_db.list_plans(
            conn, who.organization_id, status=status, limit=limit + 1, before=before
        )
    donors = await _donors(request, [p.donor_id for p in plans[:limit]])
    last = plans[limit - 1] if len(plans) > limit else None
    return JSONResponse(
        {
            "items": [plan_json(p, donors.get(p.donor_id)) for p in plans[:limit]],
            "next_cursor": f"{last.created_at.isoformat()}|{last.id}" if last else None,
        }
    )


async def get_plan(request: Request) -> JSONResponse:
    who = await require_org(request)
    plan_id = _plan_id(request)
    async with app_state(request).runtime.pool.acquire() as conn:
        plan = await recurring_db.get_plan(conn, plan_id, org_id=who.organization_id)
        if plan is None:
            raise Problem(404, "not-found", "Not found", "No such recurring plan.")
        cycles = await recurring_db.cycles(conn, plan.id)
        history = await recurring_db.history(conn, plan.id)
    donors = await _donors(request, [plan.donor_id])
    body = plan_json(plan, donors.get(plan.donor_id))
    body["donations"] = [
        {
            "id": str(c["id"]), "status": c["status"], "amount_minor": c["amount_minor"],
            "counted_minor": c["counted_minor"], "currency": c["currency"],
            "provider_payment_id": c["provider_payment_id"],
            "paid_at": c["paid_at"].isoformat() if c["paid_at"] else None,
        }
        for c in cycles
    ]  # fmt: skip
    body["collected_minor"] = sum(c["counted_minor"] for c in cycles)
    body["history"] = [
        {"at": h["at"].isoformat(), "from": h["from_status"], "status": h["to_status"],
         "source": h["source"]}
        for h in history
    ]  # fmt: skip
    return JSONResponse(body)


async def cancel_plan(request: Request) -> JSONResponse:
    """Cancel on the donor's request: no further payment; nothing already paid is refunded."""
    who = await require_org(request, roles=("admin",))
    plan_id = _plan_id(request)
    rt = app_state(request).runtime
    try:
        plan = await recurring_manage.plan_for_org(rt, plan_id, who.organization_id)
        await recurring_manage.cancel(rt, plan, source=recurring_manage.ASSOCIATION)
        plan = await recurring_manage.plan_for_org(rt, plan_id, who.organization_id)
    except ServiceError as exc:
        raise to_problem(exc) from exc
    donors = await _donors(request, [plan.donor_id])
    return JSONResponse(plan_json(plan, donors.get(plan.donor_id)))


async def summary(request: Request) -> JSONResponse:
    """Monthly recurring revenue (yearly plans count a twelfth) and plans per status."""
    who = await require_org(request)
    s = await recurring_admin.summary(app_state(request).runtime, who.organization_id)
    return JSONResponse(
        {
            "currency": s.currency,
            "mrr_minor": s.mrr_minor,
            "at_risk_mrr_minor": s.at_risk_minor,
            "counts": s.counts,
            "by_currency": [
                {"currency": c, "mrr_minor": mrr, "at_risk_minor": risk}
                for c, mrr, risk in s.by_currency
            ],
        }
    )


routes = [
    Route("/api/v1/orgs/{org}/recurring-plans", list_plans, methods=["GET"]),
    Route("/api/v1/orgs/{org}/recurring-plans/summary", summary, methods=["GET"]),
    Route("/api/v1/orgs/{org}/recurring-plans/{plan_id}", get_plan, methods=["GET"]),
    Route("/api/v1/orgs/{org}/recurring-plans/{plan_id}/cancel", cancel_plan, methods=["POST"]),
]


def _op(summary: str, *params: str, post: bool = False) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": "org", "in": "path", "required": True, "schema": {"type": "string"}}
    ]
    for name in params:
        where = "path" if name == "plan_id" else "query"
        schema: dict[str, Any] = {"type": "string"}
        if name == "plan_id":
            schema["format"] = "uuid"
        if name == "status":
            schema["enum"] = list(PLAN_STATUSES)
        parameters.append({"name": name, "in": where, "required": where == "path",
                           "schema": schema})  # fmt: skip
    problem = {
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        }
    }
    responses: dict[str, Any] = {
        "200": {"description": "OK", "content": {"application/json": {"schema": {}}}},
        "401": {"description": "No key", **problem},
        "404": {"description": "Unknown, or another association's", **problem},
    }
    if post:
        responses["409"] = {"description": "The plan has not started", **problem}
        responses["503"] = {"description": "The provider is unavailable", **problem}
    return {
        ("post" if post else "get"): {
            "summary": summary,
            "security": [{"apiKey": []}],
            "parameters": parameters,
            "responses": responses,
        }
    }


OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/orgs/{org}/recurring-plans": _op(
        "Recurring plans, newest first", "status", "cursor", "limit"
    ),
    "/api/v1/orgs/{org}/recurring-plans/summary": _op(
        "Monthly recurring revenue and plans per status"
    ),
    "/api/v1/orgs/{org}/recurring-plans/{plan_id}": _op(
        "One plan with its payments and status history", "plan_id"
    ),
    "/api/v1/orgs/{org}/recurring-plans/{plan_id}/cancel": _op(
        "Cancel a plan on the donor's request (never refunds)", "plan_id", post=True
    ),
}
