"""The asyncpg connection pool."""

from __future__ import annotations

import json
from typing import Any

import asyncpg


async def _init_connection(conn: asyncpg.Connection[Any]) -> None:
    # jsonb in and out as Python objects, so queries never hand-serialise.
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _light_reset(conn: asyncpg.Connection[Any]) -> None:
    """On release asyncpg has already rolled back and dropped listeners; skip its full
    RESET ALL/UNLISTEN/advisory-unlock round trip. Nothing of ours leaves session state on
    a pooled connection (migrations take their lock on a connection of their own)."""


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool[Any]:
    """A pool whose connections speak jsonb as Python objects. Raises OSError when unreachable."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_light_reset,
        command_timeout=30,
        server_settings={"application_name": "donate"},
    )
    assert pool is not None
    return pool
