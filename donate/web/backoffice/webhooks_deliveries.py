"""An integrator endpoint's secret (shown on request, rotated), its test event, and its
delivery log: one delivery with the event sent and the receiver's answer, and replaying it
(the same event id and payload, a new delivery with its own attempts)."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from donate.services import integrator_endpoints as svc
from donate.services.errors import Conflict, InvalidRequest, NotFound
from donate.web.backoffice.actions import path_uuid
from donate.web.backoffice.guard import MANAGERS, PageError, field, read_form, require_member
from donate.web.backoffice.render import render
from donate.web.backoffice.webhooks_pages import endpoint_page
from donate.web.state import app_state

_E = "/admin/{org}/webhooks/{endpoint_id}"
# Rotation: how long the previous secret keeps signing too (a second v1), in seconds.
GRACE_CHOICES = (0, 3600, 86400, 7 * 86400)


async def reveal(request: Request) -> Response:
    """The secret, on an explicit request (each showing is audited; never in a GET)."""
    member = await require_member(request, MANAGERS)
    endpoint_id = path_uuid(request, "endpoint_id")
    await read_form(request)
    try:
        secret = await svc.reveal_secret(
            app_state(request).runtime, member.organization_id, endpoint_id, actor=member.actor
        )
    except NotFound:
        raise PageError(404) from None
    return await endpoint_page(request, member, endpoint_id, secret=secret)


async def rotate(request: Request) -> Response:
    member = await require_member(request, MANAGERS)
    endpoint_id = path_uuid(request, "endpoint_id")
    form = await read_form(request)
    raw = field(form, "grace_period_s")
    grace = (
        int(raw) if raw.isdigit() and int(raw) in GRACE_CHOICES else svc.DEFAULT_ROTATION_GRACE_S
    )
    try:
        _endpoint, secret = await svc.rotate_secret(
            app_state(request).runtime, member.organization_id, endpoint_id, grace_s=grace,
            actor=member.actor,
        )  # fmt: skip
    except NotFound:
        raise PageError(404) from None
    except InvalidRequest as exc:
        return await endpoint_page(request, member, endpoint_id, errors=exc.errors, status=400)
    return await endpoint_page(request, member, endpoint_id, secret=secret)


async def send_test(request: Request) -> Response:
    member = await require_member(request, MANAGERS)
    endpoint_id = path_uuid(request, "endpoint_id")
    await read_form(request)
    try:
        delivery = await svc.send_test(
            app_state(request).runtime, member.organization_id, endpoint_id, actor=member.actor
        )
    except NotFound:
        raise PageError(404) from None
    except Conflict:
        problem = "The endpoint is disabled: enable it first."
        return await endpoint_page(request, member, endpoint_id, problem=problem, status=409)
    return RedirectResponse(
        f"{member.base}/webhooks/{endpoint_id}/deliveries/{delivery.id}?done=test",
        status_code=303,
    )


async def delivery_page(request: Request) -> Response:
    member = await require_member(request, MANAGERS)
    endpoint_id = path_uuid(request, "endpoint_id")
    delivery_id = path_uuid(request, "delivery_id")
    rt = app_state(request).runtime
    try:
        endpoint = await svc.get_endpoint(rt, member.organization_id, endpoint_id)
        d = await svc.get_delivery(rt, member.organization_id, endpoint_id, delivery_id)
    except NotFound:
        raise PageError(404) from None
    ctx = {
        "e": endpoint,
        "d": d,
        "payload": json.dumps(d.payload, indent=2, ensure_ascii=False, sort_keys=True),
        "problem": request.query_params.get("problem", "") == "disabled",
        "done": request.query_params.get("done", ""),
        "area": "webhooks",
    }
    return render(request, "admin/webhooks_delivery.html", ctx)


async def replay(request: Request) -> Response:
    member = await require_member(request, MANAGERS)
    endpoint_id = path_uuid(request, "endpoint_id")
    delivery_id = path_uuid(request, "delivery_id")
    await read_form(request)
    page = f"{member.base}/webhooks/{endpoint_id}/deliveries"
    try:
        new = await svc.replay_delivery(
            app_state(request).runtime, member.organization_id, endpoint_id, delivery_id,
            actor=member.actor,
        )  # fmt: skip
    except NotFound:
        raise PageError(404) from None
    except Conflict:
        return RedirectResponse(f"{page}/{delivery_id}?problem=disabled", status_code=303)
    return RedirectResponse(f"{page}/{new.id}?done=replayed", status_code=303)


routes = [
    Route(f"{_E}/secret", reveal, methods=["POST"]),
    Route(f"{_E}/rotate", rotate, methods=["POST"]),
    Route(f"{_E}/test", send_test, methods=["POST"]),
    Route(f"{_E}/deliveries/{{delivery_id}}", delivery_page, methods=["GET"]),
    Route(f"{_E}/deliveries/{{delivery_id}}/replay", replay, methods=["POST"]),
]
