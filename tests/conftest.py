"""Test harness: real PostgreSQL and Redis.

``DONATE_TEST_DATABASE_URL`` (a server URL, any database) and ``DONATE_TEST_REDIS_URL``
point at running servers; without them, embedded ones are started under
``.donate-demo/test/``. A template database gets the migrations once per session and every
test module works in its own clone, so modules never see each other's rows.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from arq.connections import ArqRedis

from donate.bootstrap import build_runtime
from donate.db.migrate import migrate
from donate.demo import SANDBOX_KEY, sandbox_config
from donate.embedded import EmbeddedServices, free_port
from donate.mailsink import smtp_sink
from donate.sandbox.app import create_sandbox_app
from donate.sandbox.config import demo_accounts
from donate.services.runtime import Runtime
from donate.services.seed import seed_demo
from donate.settings import Settings
from donate.web.app import create_app
from tests.integrator_webhooks.helpers import Receiver
from tests.support.backoffice import close_clients
from tests.support.db import clone_database, drop_database, make_settings, with_database
from tests.support.platform import SEED_SECRET, WEBHOOK_SECRET, Platform, SmtpOutbox
from tests.support.server import serve

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def services() -> Iterator[dict[str, str]]:
    embedded = EmbeddedServices(ROOT / ".donate-demo" / "test")
    try:
        db = os.environ.get("DONATE_TEST_DATABASE_URL") or embedded.start_postgres("postgres")
        redis = os.environ.get("DONATE_TEST_REDIS_URL") or embedded.start_redis()
        yield {"database": db, "redis": redis}
    finally:
        embedded.close()


@pytest.fixture(scope="session")
async def template_db(services: dict[str, str]) -> AsyncIterator[str]:
    name = f"donate_tpl_{os.getpid()}"
    admin = await asyncpg.connect(services["database"])
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
        conn = await asyncpg.connect(with_database(services["database"], name))
        try:
            await migrate(conn)
        finally:
            await conn.close()
        yield name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="module")
async def db_url(services: dict[str, str], template_db: str) -> AsyncIterator[str]:
    name, url = await clone_database(services, template_db)
    yield url
    await drop_database(services, name)


@pytest.fixture(scope="module")
def settings(db_url: str, services: dict[str, str]) -> Settings:
    return make_settings(db_url, services["redis"])


@pytest.fixture(scope="module")
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = await build_runtime(settings, pool_min=1)
    yield rt
    await rt.pool.close()


@pytest.fixture
async def redis(services: dict[str, str]) -> AsyncIterator[ArqRedis]:
    """A clean Redis database for each test (tests flush it on purpose)."""
    r = ArqRedis.from_url(services["redis"])
    await r.flushdb()
    yield r
    await r.flushdb()
    await r.aclose()


@pytest.fixture(scope="session")
async def smtp_outbox(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SmtpOutbox]:
    """The demo's SMTP sink: every e-mail the platform sends lands here as a .eml file."""
    folder = tmp_path_factory.mktemp("smtp_outbox")
    async with smtp_sink(folder) as url:
        yield SmtpOutbox(url, folder)


# The whole platform (app + provider sandbox, seeded like `donate demo`), for end-to-end tests.
@pytest.fixture(scope="module")
async def platform(
    db_url: str, services: dict[str, str], smtp_outbox: SmtpOutbox
) -> AsyncIterator[Platform]:
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
        smtp_url=smtp_outbox.url,
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


@pytest.fixture(autouse=True)
async def _close_admin_clients() -> AsyncIterator[None]:
    """Back-office clients a test signed in are closed after it (open ones would warn)."""
    yield
    await close_clients()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A live integrator endpoint that records what it is sent."""
    rec = Receiver()
    async with serve(rec.app()) as base:
        rec.url = f"{base}/hook"
        yield rec
