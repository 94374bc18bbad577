"""The typed state the lifespan hands to every request."""

from __future__ import annotations

from dataclasses import dataclass

from arq.connections import ArqRedis
from starlette.requests import Request

from donate.services.runtime import Runtime
from donate.webhooks.ingest import EventBatcher


@dataclass
class AppState:
    runtime: Runtime
    redis: ArqRedis
    events: EventBatcher
    # Monotonic time until which the checkout guard skips Redis after an outage
    # (web.checkout_limits): one slow timeout per pause, not one per gift.
    guard_paused_until: float = 0.0


def app_state(request: Request) -> AppState:
    state: AppState = request.state.app
    return state
