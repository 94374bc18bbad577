"""The checkout guard as the checkout routes use it: fail open, answer 429.

``services.checkout_guard`` decides; this module finds the client, turns a refusal into an
answer, and makes sure a Redis outage never costs a gift: the error is logged, the checkout
goes through, and Redis is left alone for a few seconds (one timeout per pause, not one per
donor).
"""

from __future__ import annotations

import logging
import time
from uuid import UUID

from redis.exceptions import RedisError
from starlette.requests import Request

from donate.services import checkout_guard
from donate.services.checkout_guard import Refusal
from donate.web.client_ip import client_ip
from donate.web.problems import Problem
from donate.web.state import app_state

log = logging.getLogger(__name__)

PAUSE_AFTER_ERROR_S = 5.0
CLIENT_KEY = "donate.checkout_guard.client"


def _client(request: Request) -> str:
    found = request.scope.get(CLIENT_KEY)
    if found is None:
        found = checkout_guard.client_key(app_state(request).runtime.settings, client_ip(request))
        request.scope[CLIENT_KEY] = found
    return str(found)


def _paused(request: Request) -> bool:
    state = app_state(request)
    return not state.runtime.settings.checkout_rate_limits or (
        time.monotonic() < state.guard_paused_until
    )


def _redis_failed(request: Request, exc: Exception) -> None:
    app_state(request).guard_paused_until = time.monotonic() + PAUSE_AFTER_ERROR_S
    log.warning("checkout guard: Redis unavailable, checkouts not limited (%s)", exc)


async def admit(request: Request, campaign_id: UUID, amount_minor: int) -> Refusal | None:
    """None when the checkout may go ahead (also when Redis is down)."""
    if _paused(request):
        return None
    state = app_state(request)
    try:
        refusal = await checkout_guard.admit(
            state.redis, state.runtime.settings,
            client=_client(request), campaign_id=campaign_id, amount_minor=amount_minor,
        )  # fmt: skip
    except (RedisError, OSError) as exc:
        _redis_failed(request, exc)
        return None
    if refusal is not None:
        # Stable message: alerting counts these lines.
        log.warning(
            "checkout refused: %s (campaign %s, client %s, retry in %ss)",
            refusal.reason, campaign_id, _client(request)[:12], refusal.retry_after_s,
        )  # fmt: skip
    return refusal


async def note(request: Request, campaign_id: UUID, donation_id: UUID, amount_minor: int) -> None:
    """After a checkout started: remember its client if its payment failing would count."""
    if _paused(request):
        return
    state = app_state(request)
    try:
        await checkout_guard.note_checkout(
            state.redis, state.runtime.settings, client=_client(request),
            campaign_id=campaign_id, donation_id=donation_id, amount_minor=amount_minor,
        )  # fmt: skip
    except (RedisError, OSError) as exc:
        _redis_failed(request, exc)


def problem(refusal: Refusal) -> Problem:
    """The API's answer: 429, with how long to wait."""
    if refusal.card_testing:
        detail = (
            "Too many small payments failed recently. Please try again later "
            "or contact the association."
        )
    else:
        detail = "Too many checkouts in a short time. Please try again in a moment."
    return Problem(
        429, "too-many-requests", "Too many requests", detail,
        headers={"Retry-After": str(refusal.retry_after_s)},
    )  # fmt: skip
