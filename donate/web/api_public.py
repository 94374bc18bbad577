"""Public JSON API: campaigns, checkouts, a donation's status."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from donate.db import campaigns as campaigns_db
from donate.db import donations as donations_db
from donate.db import idempotency
from donate.services.checkout import CheckoutInput, DonorInput, start_checkout
from donate.services.errors import ServiceError
from donate.web import checkout_limits
from donate.web.errors import to_problem
from donate.web.problems import Problem, validation_errors
from donate.web.schemas import CheckoutBody
from donate.web.state import app_state

MAX_JSON_BODY = 64 * 1024


def _uuid(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise Problem(404, "not-found", "Not found", "No such object.") from None


async def read_json(request: Request, limit: int = MAX_JSON_BODY) -> Any:
    if "application/json" not in request.headers.get("content-type", ""):
        raise Problem(415, "unsupported-media-type", "Unsupported media type", "Send JSON.")
    body = await read_limited(request, limit)
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Problem(
            400, "malformed-json", "Malformed JSON", "The body is not valid JSON."
        ) from None


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it grows past ``limit`` (never fully buffered)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise Problem(413, "payload-too-large", "Payload too large", f"Limit is {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, "payload-too-large", "Payload too large", f"Limit is {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def campaign_json(c: campaigns_db.Campaign) -> dict[str, Any]:
    return {
        "id": str(c.id),
        "slug": c.slug,
        "kind": c.kind,
        "title": c.title,
        "organization": {"slug": c.org_slug, "name": c.org_name},
        "currency": c.currency,
        "goal_minor": c.goal_minor,
        "raised_minor": c.raised_minor,
        "donors_count": c.donors_count,
        "starts_at": c.starts_at.isoformat() if c.starts_at else None,
        "ends_at": c.ends_at.isoformat() if c.ends_at else None,
        "status": c.status,
        "min_amount_minor": c.min_amount_minor,
        "max_amount_minor": c.max_amount_minor,
        "suggested_amounts_minor": c.suggested_amounts_minor,
        "frequencies": c.frequencies,
        "tiers": [
            {
                "id": str(t.id),
                "title": t.title,
                "description": t.description,
                "amount_minor": t.amount_minor,
                "quantity_limit": t.quantity_limit,
                "remaining": t.remaining,
            }
            for t in c.tiers
        ],
        "receipt_eligible": c.receipt_eligible,
    }


async def get_campaign(request: Request) -> JSONResponse:
    async with app_state(request).runtime.pool.acquire() as conn:
        campaign = await campaigns_db.get_campaign(conn, _uuid(request.path_params["campaign_id"]))
    if campaign is None or campaign.status == "draft":
        raise Problem(404, "not-found", "Not found", "No such campaign.")
    return JSONResponse(campaign_json(campaign), headers={"Cache-Control": "public, max-age=1"})


async def create_checkout(request: Request) -> Response:
    rt = app_state(request).runtime
    raw = await read_json(request)
    try:
        body = CheckoutBody.model_validate(raw)
    except ValidationError as exc:
        raise Problem(
            422, "validation", "Invalid request", "Some fields are invalid.", validation_errors(exc)
        ) from None
    refusal = await checkout_limits.admit(request, body.campaign_id, body.amount_minor)
    if refusal is not None:
        raise checkout_limits.problem(refusal)
    key = request.headers.get("idempotency-key")
    request_hash = hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()
    if key is not None:
        if not 1 <= len(key) <= 255:
            raise Problem(
                400, "bad-idempotency-key", "Bad request", "Idempotency-Key: 1 to 255 chars."
            )
        async with rt.pool.acquire() as conn:
            claim = await idempotency.claim(conn, "checkout", key, request_hash)
        if not claim.fresh:
            if claim.request_hash != request_hash:
                raise Problem(
                    422, "idempotency-key-reused", "Idempotency-Key reused",
                    "This Idempotency-Key was used with another request body.",
                )  # fmt: skip
            if claim.status_code is None:
                raise Problem(
                    409, "request-in-progress", "Conflict", "The first request is still running."
                )
            return JSONResponse(
                claim.response,
                claim.status_code,
                headers={"Idempotent-Replayed": "true"},
                # A replayed refusal is still a problem document, like the first answer.
                media_type="application/problem+json" if claim.status_code >= 400 else None,
            )
    d = body.donor
    inp = CheckoutInput(
        campaign_id=body.campaign_id,
        amount_minor=body.amount_minor,
        currency=body.currency,
        donor=DonorInput(**d.model_dump()),
        frequency=body.frequency,
        provider=body.provider,
        wants_receipt=body.wants_receipt,
        anonymous=body.anonymous,
        hide_amount=body.hide_amount,
        tip_minor=body.tip_minor,
        cover_fees=body.cover_fees,
        tier_id=body.tier_id,
        message=body.message,
        locale=body.locale,
        method_hint=body.method,
    )
    try:
        result = await start_checkout(rt, inp)
    except ServiceError as exc:
        problem = to_problem(exc)
        if key is not None:
            async with rt.pool.acquire() as conn:
                if problem.status < 500:  # the same request would fail the same way
                    await idempotency.complete(
                        conn, "checkout", key, problem.status, problem.body()
                    )
                else:
                    await idempotency.release(conn, "checkout", key)
        raise problem from exc
    except BaseException:
        if key is not None:
            async with rt.pool.acquire() as conn:
                await idempotency.release(conn, "checkout", key)
        raise
    await checkout_limits.note(request, body.campaign_id, result.donation_id, body.amount_minor)
    answer = {k: str(v) if isinstance(v, UUID) else v for k, v in asdict(result).items()}
    if key is not None:
        async with rt.pool.acquire() as conn:
            await idempotency.complete(conn, "checkout", key, 201, answer)
    return JSONResponse(answer, 201)


async def get_donation(request: Request) -> JSONResponse:
    """What the widget polls after the checkout: no personal data, only the status."""
    async with app_state(request).runtime.pool.acquire() as conn:
        d = await donations_db.get_donation(conn, _uuid(request.path_params["donation_id"]))
    if d is None:
        raise Problem(404, "not-found", "Not found", "No such donation.")
    return JSONResponse(
        {
            "id": str(d.id),
            "status": d.status,
            "amount_minor": d.amount_minor,
            "currency": d.currency,
            "frequency": d.frequency,
            "campaign_id": str(d.campaign_id),
        }
    )


routes = [
    Route("/api/v1/campaigns/{campaign_id}", get_campaign, methods=["GET"]),
    Route("/api/v1/checkouts", create_checkout, methods=["POST"]),
    Route("/api/v1/donations/{donation_id}", get_donation, methods=["GET"]),
]
