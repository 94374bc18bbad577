"""``POST /webhooks/mollie/plans/{plan_id}``: the ``webhookUrl`` of a Mollie subscription.

Mollie posts a bare ``id=tr_…`` for each renewal, with no account and no signature; a
payment we have never seen can only be fetched with its association's credentials. The plan
in the URL names that account; the event is then stored and processed like any other (the
payment is re-fetched, so a forged post changes nothing). Unknown plans still answer 200.
"""

from __future__ import annotations

import dataclasses
from uuid import UUID

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from donate.db import recurring as recurring_db
from donate.providers.base import WebhookInvalid
from donate.web.api_public import read_limited
from donate.web.problems import Problem
from donate.web.state import app_state

MAX_BODY = 4096


async def mollie_plan_webhook(request: Request) -> JSONResponse:
    rt = app_state(request).runtime
    body = await read_limited(request, MAX_BODY)
    if "mollie" not in rt.providers:
        raise Problem(404, "not-found", "Not found", "mollie is not configured.")
    try:
        notice = rt.provider("mollie").parse_webhook(body, request.headers)
    except WebhookInvalid as exc:
        raise Problem(400, "invalid-webhook", "Invalid webhook", str(exc)) from None
    try:
        plan_id = UUID(request.path_params["plan_id"])
    except ValueError:
        plan_id = None
    if plan_id is not None:
        async with rt.pool.acquire() as conn:
            plan = await recurring_db.get_plan(conn, plan_id)
        if plan is not None and plan.provider == "mollie":
            notice = dataclasses.replace(notice, account=plan.provider_account_id)
    result = await app_state(request).events.store(notice, body)
    return JSONResponse({"received": True, "duplicate": result.duplicate})


routes = [
    Route(
        "/webhooks/mollie/plans/{plan_id}",
        mollie_plan_webhook,
        methods=["POST"],
        name="webhook_mollie_plan",
    )
]
