"""The application factory."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from donate import redis_client
from donate.bootstrap import build_runtime, freeze_startup_objects
from donate.services.runtime import Runtime
from donate.settings import Settings
from donate.web import (
    api_exports,
    api_org,
    api_payouts,
    api_public,
    api_receipts,
    api_recurring,
    api_webhooks,
    assets,
    backoffice,
    campaign_pages,
    donor_space,
    embed,
    health,
    metrics_endpoint,
    openapi,
    recurring_webhooks,
    return_page,
    webhook_routes,
)
from donate.web.edge import EdgeMiddleware
from donate.web.problems import EXCEPTION_HANDLERS
from donate.web.state import AppState
from donate.webhooks.ingest import EventBatcher


def hot_routes() -> list[BaseRoute]:
    """The public routes that take the traffic, first: Starlette tries the routes in order
    (a regex each), so a page would otherwise pay for the hundred back-office and API
    routes before it. None of them overlaps another route (tests/web/test_route_order.py),
    so their place changes no answer."""
    return [
        *campaign_pages.routes,
        *embed.routes,
        *assets.routes,
        *webhook_routes.routes,
        *recurring_webhooks.routes,
        *api_public.routes,
    ]


def all_routes() -> list[BaseRoute]:
    return [
        *hot_routes(),
        *health.routes,
        *metrics_endpoint.routes,
        *api_org.routes,
        *api_payouts.routes,
        *api_exports.routes,
        *api_receipts.routes,
        *api_webhooks.routes,
        *api_recurring.routes,
        *donor_space.routes,
        *return_page.routes,
        *openapi.routes,
        *backoffice.routes,
    ]


def create_app(
    settings: Settings, *, runtime: Runtime | None = None, freeze_gc: bool = False
) -> Starlette:
    """Build the ASGI app. Without ``runtime`` the lifespan builds one whose pool connects
    lazily, so the app starts (``/healthz`` 200, ``/readyz`` 503) while PostgreSQL or Redis
    are down and recovers by itself when they return. ``freeze_gc`` (the production server):
    see ``freeze_startup_objects``."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        rt = runtime or await build_runtime(settings, pool_min=0)
        redis = redis_client.connect(settings, for_web=True)
        events = EventBatcher(rt.pool)
        if freeze_gc:
            freeze_startup_objects()
        try:
            yield {"app": AppState(runtime=rt, redis=redis, events=events)}
        finally:
            await events.close()
            await redis.aclose()
            if runtime is None:
                await rt.pool.close()

    return Starlette(
        routes=all_routes(),
        middleware=[
            # Request id, security headers and latency in one layer (see web.edge).
            Middleware(EdgeMiddleware, hsts=settings.public_url.lower().startswith("https://")),
        ],
        exception_handlers={**EXCEPTION_HANDLERS, **backoffice.EXCEPTION_HANDLERS},
        lifespan=lifespan,
    )
