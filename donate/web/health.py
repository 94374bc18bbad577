"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from donate.web.state import app_state


async def healthz(request: Request) -> JSONResponse:
    """200 while the process lives: no dependency is checked."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """200 when PostgreSQL and Redis both answer within a second, else 503 with which one failed."""
    state = app_state(request)
    checks: dict[str, str] = {}

    async def database() -> None:
        async with state.runtime.pool.acquire(timeout=1) as conn:
            await conn.fetchval("SELECT 1")

    async def redis() -> None:
        await state.redis.ping()

    for name, probe in (("database", database), ("redis", redis)):
        try:
            await asyncio.wait_for(probe(), 1.5)
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"unavailable: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503
    )


routes = [Route("/healthz", healthz), Route("/readyz", readyz)]
