"""The whole payment path in the test's event loop: the real app and the provider sandbox on
free ports, wired to each other, over this module's own database, seeded like ``donate demo``.

Webhooks go from the sandbox to the app over HTTP and are stored; nothing processes them
until a test drains the outbox (relay + arq burst worker), so every step is explicit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from arq.connections import ArqRedis

from donate.bootstrap import build_runtime
from donate.demo import SANDBOX_KEY, sandbox_config
from donate.embedded import free_port
from donate.sandbox.app import create_sandbox_app
from donate.sandbox.config import demo_accounts
from donate.services.seed import seed_demo
from donate.web.app import create_app
from tests.payments.support import SEED_SECRET, WEBHOOK_SECRET, Platform
from tests.support.db import make_settings
from tests.support.server import serve


@pytest.fixture(scope="module")
async def platform(db_url: str, services: dict[str, str]) -> AsyncIterator[Platform]:
    app_port, sandbox_port = free_port(), free_port()
    while sandbox_port == app_port:
        sandbox_port = free_port()
    app_url = f"http://127.0.0.1:{app_port}"
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    settings = make_settings(
        db_url,
        services["redis"],
        stripe_secret_key=SANDBOX_KEY,
        stripe_api_base=f"{sandbox_url}/stripe",
        stripe_webhook_secret=WEBHOOK_SECRET,
        mollie_api_base=f"{sandbox_url}/mollie",
        public_url=app_url,
        sandbox_enabled=True,
    )
    runtime = await build_runtime(settings, pool_min=1)
    stripe_accts = [a for a in demo_accounts() if a.provider == "stripe"]
    mollie_accts = [a for a in demo_accounts() if a.provider == "mollie"]
    seeded = await seed_demo(
        runtime,
        secret=SEED_SECRET,
        stripe_accounts=(stripe_accts[0].account_id, stripe_accts[1].account_id),
        mollie_accounts=(
            (mollie_accts[0].account_id, mollie_accts[0].credentials[0]),
            (mollie_accts[1].account_id, mollie_accts[1].credentials[0]),
        ),
        admin_password="admin-" + SEED_SECRET,
        finance_password="finance-" + SEED_SECRET,
    )
    sandbox_app = create_sandbox_app(
        sandbox_config(sandbox_url, f"{app_url}/webhooks/stripe", WEBHOOK_SECRET)
    )
    try:
        async with (
            serve(create_app(settings, runtime=runtime), app_port),
            serve(sandbox_app, sandbox_port),
            httpx.AsyncClient(base_url=app_url, timeout=30) as app_http,
            httpx.AsyncClient(base_url=sandbox_url, timeout=90) as sandbox_http,
        ):
            yield Platform(
                app_url=app_url,
                sandbox_url=sandbox_url,
                redis_url=services["redis"],
                runtime=runtime,
                seeded=seeded,
                app=app_http,
                sandbox=sandbox_http,
            )
    finally:
        for provider in runtime.providers.values():
            close = getattr(provider, "aclose", None)
            if close is not None:
                await close()
        await runtime.pool.close()


@pytest.fixture
async def pf(platform: Platform, redis: ArqRedis) -> AsyncIterator[Platform]:
    """The platform with no sandbox faults, a clean Redis, and no webhook left in flight."""
    await platform.faults()
    yield platform
    await platform.faults()
    await platform.deliver()
