"""``POST /webhooks/stripe`` and ``/webhooks/mollie``: verify, store, acknowledge."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from donate.providers.base import WebhookInvalid
from donate.web.api_public import read_limited
from donate.web.problems import Problem
from donate.web.state import app_state

MAX_WEBHOOK_BODY = 1024 * 1024  # 1 MB: Stripe events are far smaller


def _endpoint(provider: str) -> Route:
    async def receive(request: Request) -> JSONResponse:
        rt = app_state(request).runtime
        body = await read_limited(request, MAX_WEBHOOK_BODY)
        if provider not in rt.providers:
            raise Problem(404, "not-found", "Not found", f"{provider} is not configured.")
        try:
            notice = rt.provider(provider).parse_webhook(body, request.headers)
        except WebhookInvalid as exc:
            raise Problem(400, "invalid-webhook", "Invalid webhook", str(exc)) from None
        result = await app_state(request).events.store(notice, body)
        return JSONResponse({"received": True, "duplicate": result.duplicate})

    return Route(f"/webhooks/{provider}", receive, methods=["POST"], name=f"webhook_{provider}")


routes = [_endpoint("stripe"), _endpoint("mollie")]
