"""``GET /openapi.json``: the OpenAPI 3.1 document of ``/api/v1``, schemas from pydantic."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from donate.web import api_exports, api_payouts, api_receipts, api_recurring, api_webhooks
from donate.web.schemas import CheckoutBody, RefundBody


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


def build_document() -> dict[str, Any]:
    _, defs = models_json_schema(
        [(CheckoutBody, "validation"), (RefundBody, "validation")],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = defs.get("$defs", {})
    schemas["Problem"] = {
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
    bearer: list[dict[str, list[str]]] = [{"apiKey": []}]
    org = {"name": "org", "in": "path", "required": True, "schema": {"type": "string"}}
    donation = {
        "name": "donation_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "format": "uuid"},
    }
    json_ok = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "donate API", "version": "1"},
        "components": {
            "schemas": schemas,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/api/v1/campaigns/{campaign_id}": {
                "get": {
                    "summary": "A public campaign with its live totals",
                    "parameters": [
                        {
                            "name": "campaign_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "format": "uuid"},
                        }
                    ],
                    "responses": {"200": json_ok, "404": _problem("Unknown campaign")},
                }
            },
            "/api/v1/checkouts": {
                "post": {
                    "summary": "Start a gift: returns the hosted checkout URL",
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string", "maxLength": 255},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/CheckoutBody"}
                            }
                        },
                    },
                    "responses": {
                        "201": json_ok,
                        "422": _problem("Invalid fields"),
                        "502": _problem("The provider refused"),
                        "503": _problem("The provider is unavailable"),
                    },
                }
            },
            "/api/v1/donations/{donation_id}": {
                "get": {
                    "summary": "A donation's status",
                    "parameters": [donation],
                    "responses": {"200": json_ok, "404": _problem("Unknown")},
                }
            },
            "/api/v1/orgs/{org}/donations": {
                "get": {
                    "summary": "The association's donations, newest first",
                    "security": bearer,
                    "parameters": [org]
                    + [
                        {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                        for n in ("status", "campaign_id", "from", "to", "cursor", "limit")
                    ],
                    "responses": {
                        "200": json_ok,
                        "401": _problem("No key"),
                        "404": _problem("Other association"),
                    },
                }
            },
            "/api/v1/orgs/{org}/donations/{donation_id}": {
                "get": {
                    "summary": "One donation with donor, refunds and history",
                    "security": bearer,
                    "parameters": [org, donation],
                    "responses": {"200": json_ok, "404": _problem("Unknown")},
                }
            },
            "/api/v1/orgs/{org}/donations/{donation_id}/refund": {
                "post": {
                    "summary": "Refund all or part of a donation",
                    "security": bearer,
                    "parameters": [org, donation],
                    "requestBody": {
                        "required": False,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/RefundBody"}
                            }
                        },
                    },
                    "responses": {
                        "201": json_ok,
                        "202": json_ok,
                        "409": _problem("Not refundable"),
                        "422": _problem("Bad amount"),
                    },
                }
            },
        },
    }


_DOCUMENT = build_document()
_DOCUMENT["paths"].update(api_receipts.OPENAPI_PATHS)
_DOCUMENT["paths"].update(api_payouts.OPENAPI_PATHS)
_DOCUMENT["paths"].update(api_exports.OPENAPI_PATHS)
_DOCUMENT["paths"].update(api_webhooks.OPENAPI_PATHS)
_DOCUMENT["paths"].update(api_recurring.OPENAPI_PATHS)


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(_DOCUMENT)


routes = [Route("/openapi.json", openapi, methods=["GET"])]
