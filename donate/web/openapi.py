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


def _json(schema: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{schema}"}
    return {"description": "OK", "content": {"application/json": {"schema": ref}}}


def _obj(props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": list(props), "properties": props}


_INT, _STR = {"type": "integer"}, {"type": "string"}
_UUID = {"type": "string", "format": "uuid"}
_MAYBE_STR = {"type": ["string", "null"]}
# The answers of the public API (what the widget and integrators read).
PUBLIC_SCHEMAS: dict[str, Any] = {
    "Campaign": _obj({
        "id": _UUID, "slug": _STR, "kind": _STR, "title": _STR,
        "organization": _obj({"slug": _STR, "name": _STR}),
        "currency": _STR, "goal_minor": {"type": ["integer", "null"]}, "raised_minor": _INT,
        "donors_count": _INT, "starts_at": _MAYBE_STR, "ends_at": _MAYBE_STR, "status": _STR,
        "min_amount_minor": _INT, "max_amount_minor": _INT,
        "suggested_amounts_minor": {"type": "array", "items": _INT},
        "frequencies": {"type": "array", "items": _STR},
        "tiers": {"type": "array", "items": _obj({
            "id": _UUID, "title": _STR, "description": _MAYBE_STR, "amount_minor": _INT,
            "quantity_limit": {"type": ["integer", "null"]},
            "remaining": {"type": ["integer", "null"]},
        })},
        "receipt_eligible": {"type": "boolean"},
    }),
    "CheckoutStarted": _obj({
        "donation_id": _UUID, "checkout_url": _STR, "status": _STR, "amount_minor": _INT,
        "tip_minor": _INT, "fee_cover_minor": _INT, "provider": _STR,
    }),
    "DonationStatus": _obj({
        "id": _UUID, "status": _STR, "amount_minor": _INT, "currency": _STR,
        "frequency": _STR, "campaign_id": _UUID,
    }),
}  # fmt: skip


def build_document() -> dict[str, Any]:
    _, defs = models_json_schema(
        [(CheckoutBody, "validation"), (RefundBody, "validation")],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = defs.get("$defs", {})
    schemas.update(PUBLIC_SCHEMAS)
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
                    "responses": {"200": _json("Campaign"), "404": _problem("Unknown campaign")},
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
                        "201": _json("CheckoutStarted"),
                        "400": _problem("Malformed JSON, or a bad Idempotency-Key"),
                        "404": _problem("Unknown campaign"),
                        "409": _problem("Closed campaign, or the first request still running"),
                        "422": _problem("Invalid fields"),
                        "429": {
                            **_problem("Too many checkouts from this client or on this campaign"),
                            "headers": {
                                "Retry-After": {
                                    "description": "Seconds to wait",
                                    "schema": {"type": "integer", "minimum": 1},
                                }
                            },
                        },
                        "502": _problem("The provider refused"),
                        "503": _problem("The provider is unavailable"),
                    },
                }
            },
            "/api/v1/donations/{donation_id}": {
                "get": {
                    "summary": "A donation's status",
                    "parameters": [donation],
                    "responses": {"200": _json("DonationStatus"), "404": _problem("Unknown")},
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


# Answers every operation of a kind can give, whatever its own code does: the checks before
# it runs (API key, JSON body) and the association in its path.
_SECURED = {
    "401": "No valid API key",
    "403": "This key's role may not do that",
    "404": "Unknown, or another association's",
}
_JSON_BODY = {
    "400": "Malformed JSON",
    "413": "Body too large",
    "415": "Not a JSON body",
    "422": "Invalid fields",
}
_PARAMETERS = {"422": "Invalid parameter"}


def complete_responses(document: dict[str, Any]) -> None:
    """Add the answers shared by a kind of operation (as problem documents) where missing."""
    for item in document["paths"].values():
        for operation in item.values():
            common: dict[str, str] = {}
            if operation.get("security"):
                common |= _SECURED
            if "application/json" in operation.get("requestBody", {}).get("content", {}):
                common |= _JSON_BODY
            if any(p["in"] in ("query", "path") and p["name"] != "org"
                   for p in operation.get("parameters", [])):  # fmt: skip
                common |= _PARAMETERS
            responses = operation.setdefault("responses", {})
            for status, description in common.items():
                responses.setdefault(status, _problem(description))


_DOCUMENT = build_document()
_DOCUMENT["paths"].update(api_receipts.OPENAPI_PATHS)
_DOCUMENT["paths"].update(api_payouts.OPENAPI_PATHS)
_DOCUMENT["paths"].update(api_exports.OPENAPI_PATHS)
_DOCUMENT["paths"].update(api_webhooks.OPENAPI_PATHS)
_DOCUMENT["paths"].update(api_recurring.OPENAPI_PATHS)
complete_responses(_DOCUMENT)


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(_DOCUMENT)


routes = [Route("/openapi.json", openapi, methods=["GET"])]
