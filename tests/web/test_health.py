"""Probes: /healthz always, /readyz only with both stores, and recovery without restart."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from donate.embedded import _redis_binary, free_port
from donate.web.app import create_app
from tests.support.db import drop_database, make_settings, with_database
from tests.support.server import serve


async def test_ready_when_both_stores_answer(db_url: str, services: dict[str, str]) -> None:
    app = create_app(make_settings(db_url, services["redis"]))
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:
        r = await http.get("/readyz")
        assert r.status_code == 200, r.text
        assert r.json()["checks"] == {"database": "ok", "redis": "ok"}
        assert "x-request-id" in r.headers
        assert (await http.get("/nope")).headers["content-type"] == "application/problem+json"


async def test_stores_down_at_start_then_recover(services: dict[str, str]) -> None:
    missing_db = "donate_comes_later"
    redis_port = free_port()
    settings = make_settings(
        with_database(services["database"], missing_db), f"redis://127.0.0.1:{redis_port}/0"
    )
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/healthz")).status_code == 200
        r = await http.get("/readyz")
        assert r.status_code == 503
        assert r.json()["checks"]["database"].startswith("unavailable")
        assert r.json()["checks"]["redis"].startswith("unavailable")
        # Both come back: no restart needed.
        admin = await asyncpg.connect(services["database"])
        await admin.execute(f'CREATE DATABASE "{missing_db}"')
        await admin.close()
        redis_proc = await asyncio.create_subprocess_exec(
            _redis_binary(), "--port", str(redis_port), "--save", "", "--bind", "127.0.0.1",
            stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            for _ in range(100):
                r = await http.get("/readyz")
                if r.status_code == 200:
                    break
                await asyncio.sleep(0.1)
            assert r.status_code == 200, r.text
        finally:
            redis_proc.terminate()
            await redis_proc.wait()
    await drop_database(services, missing_db)


async def test_production_server_freezes_startup_objects(
    db_url: str, services: dict[str, str]
) -> None:
    """``donate serve`` keeps start-up objects out of full collections (tail latency)."""
    import gc

    gc.unfreeze()
    try:
        app = create_app(make_settings(db_url, services["redis"]), freeze_gc=True)
        async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:
            assert (await http.get("/readyz")).status_code == 200
            assert gc.get_freeze_count() > 10_000  # modules, SDKs, templates, the pool
    finally:
        gc.unfreeze()
