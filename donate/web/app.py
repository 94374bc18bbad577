"""The application factory."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from arq.connections import ArqRedis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

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
from donate.web.middleware import RequestIdMiddleware
from donate.web.problems import EXCEPTION_HANDLERS
from donate.web.request_metrics import RequestMetricsMiddleware
from donate.web.security_headers import SecurityHeadersMiddleware
from donate.web.state import AppState
from donate.webhooks.ingest import EventBatcher


def all_routes() -> list[BaseRoute]:
    return [
        *health.routes,
        *metrics_endpoint.routes,
        *api_public.routes,
        *api_org.routes,
        *api_payouts.routes,
        *api_exports.routes,
        *api_receipts.routes,
        *api_webhooks.routes,
        *api_recurring.routes,
        *webhook_routes.routes,
        *recurring_webhooks.routes,
        *donor_space.routes,
        *return_page.routes,
        *campaign_pages.routes,
        *embed.routes,
        *assets.routes,
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
        assert settings.redis_url is not None
        redis = ArqRedis.from_url(
            settings.redis_url, socket_connect_timeout=1, socket_timeout=2, retry_on_timeout=False
        )
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
            Middleware(RequestMetricsMiddleware),  # first: the others' time counts too
            Middleware(RequestIdMiddleware),
            Middleware(
                SecurityHeadersMiddleware, hsts=settings.public_url.lower().startswith("https://")
            ),
        ],
        exception_handlers={**EXCEPTION_HANDLERS, **backoffice.EXCEPTION_HANDLERS},
        lifespan=lifespan,
    )
