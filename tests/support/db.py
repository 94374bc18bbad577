"""Database helpers shared by the fixtures and the tests that need their own databases."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from donate.settings import Settings


def with_database(url: str, dbname: str) -> str:
    """Same server, another database (works for host:port and ?host=/socket URLs)."""
    head, sep, query = url.partition("?")
    scheme_auth, _, _ = head.rpartition("/")
    if "://" not in scheme_auth or scheme_auth.endswith(":/"):
        scheme_auth = head.rstrip("/")
    return f"{scheme_auth}/{dbname}{sep}{query}"


async def clone_database(services: dict[str, str], template: str) -> tuple[str, str]:
    name = f"donate_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(services["database"])
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await admin.close()
    return name, with_database(services["database"], name)


async def drop_database(services: dict[str, str], name: str) -> None:
    admin = await asyncpg.connect(services["database"])
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def make_settings(db_url: str, redis_url: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": db_url,
        "redis_url": redis_url,
        "secret_key": "test-secret",
        "outbox_stale_after_s": 5,
        "outbox_max_attempts": 3,
        # Every test client is 127.0.0.1: tests/security/test_checkout_limits.py turns it on.
        "checkout_rate_limits": False,
        **extra,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]
