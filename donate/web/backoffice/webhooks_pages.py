"""Integrator webhook endpoints for owners and admins: list, create (the signing secret is
shown at once), edit, enable or disable, delete. The endpoint's page also holds its secret,
test events and delivery log (``webhooks_deliveries``). Everything goes through
``services.integrator_endpoints``, the same functions as the association API."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from donate.services import integrator_endpoints as svc
from donate.services.errors import Conflict, InvalidRequest, NotFound
from donate.services.integrator_events import EVENT_TYPES
from donate.web.backoffice.actions import path_uuid
from donate.web.backoffice.guard import (
    MANAGERS,
    Member,
    PageError,
    field,
    read_form,
    require_member,
)
from donate.web.backoffice.render import render
from donate.web.state import app_state

_W = "/admin/{org}/webhooks"


def values_of(form: FormData) -> dict[str, Any]:
    return {
        "url": field(form, "url").strip()[:2048],
        "description": field(form, "description").strip()[:500],
        "event_types": [t for t in form.getlist("event_types") if isinstance(t, str)][:20],
        "enabled": field(form, "enabled") == "on",
    }


def _checked(values: dict[str, Any]) -> dict[str, str]:
    """Errors the service would report in its own words, in the page's words."""
    errors: dict[str, str] = {}
    if not values["url"]:
        errors["url"] = "Enter the URL that will receive the events."
    if not values["event_types"] or any(t not in EVENT_TYPES for t in values["event_types"]):
        errors["event_types"] = "Choose at least one event type from the list."
    return errors


async def _list(
    request: Request, member: Member, *, values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None, problem: str = "", status: int = 200,
) -> Response:  # fmt: skip
    endpoints = await svc.list_endpoints(app_state(request).runtime, member.organization_id)
    ctx = {
        "endpoints": endpoints,
        "values": values or {"url": "", "description": "", "event_types": [], "enabled": True},
        "event_types": EVENT_TYPES,
        "errors": errors or {},
        "problem": problem,
        "done": request.query_params.get("done", ""),
        "area": "webhooks",
    }
    return render(request, "admin/webhooks_list.html", ctx, status=status)


async def list_page(request: Request) -> Response:
    return await _list(request, await require_member(request, MANAGERS))


async def endpoint_page(
    request: Request, member: Member, endpoint_id: UUID, *, values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None, problem: str = "", secret: str = "",
    status: int = 200,
) -> Response:  # fmt: skip
    """The endpoint's page: edit form, secret, test event, delivery log."""
    rt = app_state(request).runtime
    q = request.query_params
    shown_status = q.get("status", "")[:20]
    try:
        endpoint = await svc.get_endpoint(rt, member.organization_id, endpoint_id)
        try:
            page = await svc.list_deliveries(
                rt, member.organization_id, endpoint_id, status=shown_status or None,
                cursor=q.get("after", "")[:100] or None, limit=30,
            )  # fmt: skip
        except InvalidRequest:  # an odd filter or cursor from the address bar: show all
            shown_status = ""
            page = await svc.list_deliveries(rt, member.organization_id, endpoint_id, limit=30)
    except NotFound:
        raise PageError(404) from None
    base = f"?status={shown_status}" if shown_status else "?"
    stored = {
        "url": endpoint.url, "description": endpoint.description,
        "event_types": endpoint.event_types, "enabled": endpoint.enabled,
    }  # fmt: skip
    ctx = {
        "e": endpoint,
        "values": values or stored,
        "event_types": EVENT_TYPES,
        "deliveries": page.items,
        "delivery_statuses": svc.DELIVERY_STATUSES,
        "shown_status": shown_status,
        "next_url": f"{base}&after={page.next_cursor}" if page.next_cursor else None,
        "first_url": base if q.get("after") else None,
        "errors": errors or {},
        "problem": problem,
        "secret": secret,
        "done": q.get("done", ""),
        "area": "webhooks",
    }
    return render(request, "admin/webhooks_endpoint.html", ctx, status=status)


async def create(request: Request) -> Response:
    member = await require_member(request, MANAGERS)
    values = values_of(await read_form(request))
    errors = _checked(values)
    if errors:
        return await _list(request, member, values=values, errors=errors, status=400)
    try:
        endpoint, secret = await svc.create_endpoint(
            app_state(request).runtime, member.organization_id, url=values["url"],
            event_types=values["event_types"], description=values["description"],
            enabled=values["enabled"], actor=member.actor,
        )  # fmt: skip
    except InvalidRequest as exc:
        return await _list(request, member, values=values, errors=exc.errors, status=400)
    except Conflict as exc:
        return await _list(request, member, values=values, problem=str(exc), status=409)
    # Shown in this answer (it can be shown again later, which is audited).
    return await endpoint_page(request, member, endpoint.id, secret=secret, status=201)


async def detail(request: Request) -> Response:
    member = await require_member(request, MANAGERS)
    return await endpoint_page(request, member, path_uuid(request, "endpoint_id"))


async def update(request: Request) -> Response:
    member = await require_member(request, MANAGERS)
    endpoint_id = path_uuid(request, "endpoint_id")
    values = values_of(await read_form(request))
    errors = _checked(values)
    if errors:
        return await endpoint_page(
            request, member, endpoint_id, values=values, errors=errors, status=400
        )
    try:
        await svc.update_endpoint(
            app_state(request).runtime, member.organization_id, endpoint_id,
            url=values["url"], event_types=values["event_types"],
            description=values["description"], enabled=values["enabled"], actor=member.actor,
        )  # fmt: skip
    except NotFound:
        raise PageError(404) from None
    except InvalidRequest as exc:
        return await endpoint_page(
            request, member, endpoint_id, values=values, errors=exc.errors, status=400
        )
    return RedirectResponse(f"{member.base}/webhooks/{endpoint_id}?done=saved", status_code=303)


async def _set_enabled(request: Request, enabled: bool) -> Response:
    member = await require_member(request, MANAGERS)
    endpoint_id = path_uuid(request, "endpoint_id")
    await read_form(request)
    try:
        await svc.update_endpoint(
            app_state(request).runtime, member.organization_id, endpoint_id, enabled=enabled,
            actor=member.actor,
        )  # fmt: skip
    except NotFound:
        raise PageError(404) from None
    done = "enabled" if enabled else "disabled"
    return RedirectResponse(f"{member.base}/webhooks/{endpoint_id}?done={done}", status_code=303)


async def enable(request: Request) -> Response:
    return await _set_enabled(request, True)


async def disable(request: Request) -> Response:
    return await _set_enabled(request, False)


async def delete(request: Request) -> Response:
    member = await require_member(request, MANAGERS)
    endpoint_id = path_uuid(request, "endpoint_id")
    form = await read_form(request)
    if field(form, "confirm") != "yes":
        errors = {"confirm": "Tick the box to confirm the deletion."}
        return await endpoint_page(request, member, endpoint_id, errors=errors, status=400)
    try:
        await svc.delete_endpoint(
            app_state(request).runtime, member.organization_id, endpoint_id, actor=member.actor
        )
    except NotFound:
        raise PageError(404) from None
    return RedirectResponse(f"{member.base}/webhooks?done=deleted", status_code=303)


routes = [
    Route(_W, list_page, methods=["GET"]),
    Route(_W, create, methods=["POST"]),
    Route(f"{_W}/{{endpoint_id}}", detail, methods=["GET"]),
    Route(f"{_W}/{{endpoint_id}}", update, methods=["POST"]),
    Route(f"{_W}/{{endpoint_id}}/enable", enable, methods=["POST"]),
    Route(f"{_W}/{{endpoint_id}}/disable", disable, methods=["POST"]),
    Route(f"{_W}/{{endpoint_id}}/delete", delete, methods=["POST"]),
]
