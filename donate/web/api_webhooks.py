"""Integrator webhook endpoints over the association API (admin keys), docs/webhooks.md.

``/api/v1/orgs/{org}/webhook-endpoints`` and below: endpoints (CRUD), their secret (read,
rotate), their delivery log (paginated), replays and test events. Another association's
endpoint or delivery answers 404.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationError,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from donate.db.webhook_deliveries import DeliveryRow
from donate.services import integrator_endpoints as svc
from donate.services.errors import ServiceError
from donate.services.integrator_events import EVENT_TYPES
from donate.services.runtime import Runtime
from donate.web.api_public import read_json
from donate.web.auth import Principal, require_org
from donate.web.errors import to_problem
from donate.web.problems import Problem, validation_errors
from donate.web.state import app_state

_ROLES = ("admin",)  # endpoints receive donors' data and hold a signing secret
_BASE = "/api/v1/orgs/{org}/webhook-endpoints"

Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
EventTypes = Annotated[list[str], Field(min_length=1, max_length=len(EVENT_TYPES))]


class EndpointCreateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url
    event_types: EventTypes
    description: Description = ""
    enabled: StrictBool = True


class EndpointUpdateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    enabled: StrictBool | None = None


class RotateSecretBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_period_s: Annotated[StrictInt, Field(ge=0, le=svc.MAX_ROTATION_GRACE_S)] = (
        svc.DEFAULT_ROTATION_GRACE_S
    )


def _uuid(request: Request, name: str, what: str) -> UUID:
    try:
        return UUID(request.path_params[name])
    except ValueError:
        raise Problem(404, "not-found", "Not found", f"No such {what}.") from None


async def _body(request: Request, model: type[BaseModel], *, optional: bool = False) -> Any:
    # An optional body may be absent; never buffer it unbounded to find out (read_json
    # enforces the size limit).
    empty = request.headers.get("content-length", "0") == "0"
    if optional and empty and "transfer-encoding" not in request.headers:
        raw: Any = {}
    else:
        raw = await read_json(request)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise Problem(422, "validation", "Invalid request", errors=validation_errors(exc)) from None


async def _ctx(request: Request) -> tuple[Runtime, Principal]:
    return app_state(request).runtime, await require_org(request, roles=_ROLES)


def _endpoint(e: svc.Endpoint) -> dict[str, Any]:
    return {
        "id": str(e.id),
        "url": e.url,
        "description": e.description,
        "event_types": e.event_types,
        "enabled": e.enabled,
        "created_at": e.created_at.isoformat(),
        "updated_at": e.updated_at.isoformat(),
        "previous_secret_expires_at": (
            e.previous_secret_expires_at.isoformat() if e.previous_secret_expires_at else None
        ),
    }


def _delivery(d: DeliveryRow, *, with_payload: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(d.id),
        "endpoint_id": str(d.endpoint_id),
        "event_id": d.event_id,
        "event_type": d.event_type,
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at.isoformat() if d.next_attempt_at else None,
        "last_attempt_at": d.last_attempt_at.isoformat() if d.last_attempt_at else None,
        "last_response_status": d.last_response_status,
        "last_response_body": d.last_response_body,
        "last_error": d.last_error,
        "replay_of": str(d.replay_of) if d.replay_of else None,
        "created_at": d.created_at.isoformat(),
        "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
    }
    if with_payload:
        out["payload"] = d.payload
    return out


async def list_endpoints(request: Request) -> JSONResponse:
    rt, who = await _ctx(request)
    items = await svc.list_endpoints(rt, who.organization_id)
    return JSONResponse({"items": [_endpoint(e) for e in items]})


async def create_endpoint(request: Request) -> JSONResponse:
    rt, who = await _ctx(request)
    body: EndpointCreateBody = await _body(request, EndpointCreateBody)
    try:
        endpoint, secret = await svc.create_endpoint(
            rt, who.organization_id, url=body.url, event_types=body.event_types,
            description=body.description, enabled=body.enabled, actor=who.actor,
        )  # fmt: skip
    except ServiceError as exc:
        raise to_problem(exc) from exc
    return JSONResponse({**_endpoint(endpoint), "secret": secret}, 201)


async def get_endpoint(request: Request) -> JSONResponse:
    rt, who = await _ctx(request)
    endpoint_id = _uuid(request, "endpoint_id", "webhook endpoint")
    try:
        endpoint = await svc.get_endpoint(rt, who.organization_id, endpoint_id)
    except ServiceError as exc:
        raise to_problem(exc) from exc
    return JSONResponse(_endpoint(endpoint))


async def update_endpoint(request: Request) -> JSONResponse:
    rt, who = await _ctx(request)
    endpoint_id = _uuid(request, "endpoint_id", "webhook endpoint")
    body: EndpointUpdateBody = await _body(request, EndpointUpdateBody)
    try:
        endpoint = await svc.update_endpoint(
            rt, who.organization_id, endpoint_id, url=body.url, event_types=body.event_types,
            description=body.description, enabled=body.enabled, actor=who.actor,
        )  # fmt: skip
    except ServiceError as exc:
        raise to_problem(exc) from exc
    return JSONResponse(_endpoint(endpoint))


async def delete_endpoint(request: Request) -> Response:
    rt, who = await _ctx(request)
    endpoint_id = _uuid(request, "endpoint_id", "webhook endpoint")
    try:
        await svc.delete_endpoint(rt, who.organization_id, endpoint_id, actor=who.actor)
    except ServiceError as exc:
        raise to_problem(exc) from exc
    return Response(status_code=204)


async def get_secret(request: Request) -> JSONResponse:
    rt, who = await _ctx(request)
    endpoint_id = _uuid(request, "endpoint_id", "webhook endpoint")
    try:
        secret = await svc.reveal_secret(rt, who.organization_id, endpoint_id, actor=who.actor)
    except ServiceError as exc:
        raise to_problem(exc) from exc
    return JSONResponse({"secret": secret}, headers={"Cache-Control": "no-store"})


async def rotate_secret(request: Request) -> JSONResponse:
    rt, who = await _ctx(request)
    endpoint_id = _uuid(request, "endpoint_id", "webhook endpoint")
    body: RotateSecretBody = await _body(request, RotateSecretBody, optional=True)
    try:
        endpoint, secret = await svc.rotate_secret(
            rt, who.organization_id, endpoint_id, grace_s=body.grace_period_s, actor=who.actor
        )
    except ServiceError as exc:
        raise to_problem(exc) from exc
    return JSONResponse(
        {**_endpoint(endpoint), "secret": secret}, headers={"Cache-Control": "no-store"}
    )


async def list_deliveries(request: Request) -> JSONResponse:
    rt, who = await _ctx(request)
    endpoint_id = _uuid(request, "endpoint_id", "webhook endpoint")
    q = request.query_params
    try:
        limit = int(q.get("limit", "50"))
    except ValueError:
        raise Problem(
            422, "validation", "Invalid request", errors={"limit": "an integer from 1 to 200"}
        ) from None
    try:
        page = await svc.list_deliveries(
            rt, who.organization_id, endpoint_id, status=q.get("status"),
            event_type=q.get("event_type"), cursor=q.get("cursor"), limit=limit,
        )  # fmt: skip
    except ServiceError as exc:
        raise to_problem(exc) from exc
    return JSONResponse(
        {"items": [_delivery(d) for d in page.items], "next_cursor": page.next_cursor}
    )


async def get_delivery(request: Request) -> JSONResponse:
    rt, who = await _ctx(request)
    endpoint_id = _uuid(request, "endpoint_id", "delivery")
    delivery_id = _uuid(request, "delivery_id", "delivery")
    try:
        row = await svc.get_delivery(rt, who.organization_id, endpoint_id, delivery_id)
    except ServiceError as exc:
        raise to_problem(exc) from exc
    return JSONResponse(_delivery(row, with_payload=True))


async def replay_delivery(request: Request) -> JSONResponse:
    rt, who = await _ctx(request)
    endpoint_id = _uuid(request, "endpoint_id", "delivery")
    delivery_id = _uuid(request, "delivery_id", "delivery")
    try:
        row = await svc.replay_delivery(
            rt, who.organization_id, endpoint_id, delivery_id, actor=who.actor
        )
    except ServiceError as exc:
        raise to_problem(exc) from exc
    return JSONResponse(_delivery(row), 202)


async def send_test(request: Request) -> JSONResponse:
    rt, who = await _ctx(request)
    endpoint_id = _uuid(request, "endpoint_id", "webhook endpoint")
    try:
        row = await svc.send_test(rt, who.organization_id, endpoint_id, actor=who.actor)
    except ServiceError as exc:
        raise to_problem(exc) from exc
    return JSONResponse(_delivery(row), 202)


routes = [
    Route(_BASE, list_endpoints, methods=["GET"]),
    Route(_BASE, create_endpoint, methods=["POST"]),
    Route(_BASE + "/{endpoint_id}", get_endpoint, methods=["GET"]),
    Route(_BASE + "/{endpoint_id}", update_endpoint, methods=["PATCH"]),
    Route(_BASE + "/{endpoint_id}", delete_endpoint, methods=["DELETE"]),
    Route(_BASE + "/{endpoint_id}/secret", get_secret, methods=["GET"]),
    Route(_BASE + "/{endpoint_id}/rotate-secret", rotate_secret, methods=["POST"]),
    Route(_BASE + "/{endpoint_id}/test", send_test, methods=["POST"]),
    Route(_BASE + "/{endpoint_id}/deliveries", list_deliveries, methods=["GET"]),
    Route(_BASE + "/{endpoint_id}/deliveries/{delivery_id}", get_delivery, methods=["GET"]),
    Route(
        _BASE + "/{endpoint_id}/deliveries/{delivery_id}/replay", replay_delivery, methods=["POST"]
    ),
]


def _op(
    summary: str,
    *params: str,
    body: type[BaseModel] | None = None,
    ok: str = "200",
    query: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One OpenAPI operation of these routes (merged into /openapi.json)."""
    parameters: list[dict[str, Any]] = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
        for p in ("org", *params)
    ]
    parameters += [
        {"name": q, "in": "query", "required": False, "schema": {"type": "string"}} for q in query
    ]
    op: dict[str, Any] = {
        "summary": summary,
        "tags": ["webhooks"],
        "security": [{"apiKey": []}],
        "parameters": parameters,
        "responses": {
            ok: {"description": "OK" if ok != "204" else "Deleted"},
            "401": {"description": "No valid API key"},
            "403": {"description": "The key is not an admin key"},
            "404": {"description": "Unknown, or another association's"},
        },
    }
    if body is not None:
        schema = body.model_json_schema()
        if schema.get("properties", {}).get("event_types"):
            schema["properties"]["event_types"]["items"] = {
                "type": "string",
                "enum": list(EVENT_TYPES),
            }
        op["requestBody"] = {
            "required": body is not RotateSecretBody,
            "content": {"application/json": {"schema": schema}},
        }
        op["responses"]["422"] = {"description": "Invalid fields (errors: field → message)"}
    return op


_E = "endpoint_id"
OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/orgs/{org}/webhook-endpoints": {
        "get": _op("The association's webhook endpoints"),
        "post": _op(
            "Register a webhook endpoint (answers its signing secret)",
            body=EndpointCreateBody,
            ok="201",
        ),
    },
    "/api/v1/orgs/{org}/webhook-endpoints/{endpoint_id}": {
        "get": _op("A webhook endpoint", _E),
        "patch": _op("Change a webhook endpoint (fields given only)", _E, body=EndpointUpdateBody),
        "delete": _op("Delete a webhook endpoint and its delivery log", _E, ok="204"),
    },
    "/api/v1/orgs/{org}/webhook-endpoints/{endpoint_id}/secret": {
        "get": _op("The endpoint's signing secret", _E)
    },
    "/api/v1/orgs/{org}/webhook-endpoints/{endpoint_id}/rotate-secret": {
        "post": _op(
            "New signing secret; the old one also signs for grace_period_s (default 1 day)",
            _E,
            body=RotateSecretBody,
        )
    },
    "/api/v1/orgs/{org}/webhook-endpoints/{endpoint_id}/test": {
        "post": _op("Send a webhook.test event to this endpoint", _E, ok="202")
    },
    "/api/v1/orgs/{org}/webhook-endpoints/{endpoint_id}/deliveries": {
        "get": _op(
            "The endpoint's deliveries, newest first",
            _E,
            query=("status", "event_type", "cursor", "limit"),
        )
    },
    "/api/v1/orgs/{org}/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}": {
        "get": _op("One delivery, with the payload sent", _E, "delivery_id")
    },
    "/api/v1/orgs/{org}/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/replay": {
        "post": _op("Send the event again, as a new delivery", _E, "delivery_id", ok="202")
    },
}
