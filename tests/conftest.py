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
import pytest
from arq.connections import ArqRedis

from donate.bootstrap import build_runtime
from donate.db.migrate import migrate
from donate.embedded import EmbeddedServices
from donate.services.runtime import Runtime
from donate.settings import Settings
from tests.support.db import clone_database, drop_database, make_settings, with_database

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
