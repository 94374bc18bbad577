"""Stored answers for requests sent with an ``Idempotency-Key`` header."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from donate.db.types import Conn


@dataclass(frozen=True, slots=True)
class Claim:
    fresh: bool  # True: this request owns the key and must store its answer
    request_hash: str
    status_code: int | None
    response: Any


async def claim(conn: Conn, scope: str, key: str, request_hash: str) -> Claim:
    # A claim left unanswered for 5 minutes belongs to a request that died: take it over.
    inserted = await conn.fetchval(
        """INSERT INTO idempotency_keys (scope, key, request_hash) VALUES ($1, $2, $3)
           ON CONFLICT (scope, key) DO UPDATE
               SET request_hash = EXCLUDED.request_hash, created_at = now()
               WHERE idempotency_keys.status_code IS NULL
                 AND idempotency_keys.created_at < now() - interval '5 minutes'
           RETURNING true""",
        scope,
        key,
        request_hash,
    )
    if inserted:
        return Claim(True, request_hash, None, None)
    row = await conn.fetchrow(
        "SELECT request_hash, status_code, response FROM idempotency_keys "
        "WHERE scope = $1 AND key = $2",
        scope,
        key,
    )
    assert row is not None
    return Claim(False, row["request_hash"], row["status_code"], row["response"])


async def complete(conn: Conn, scope: str, key: str, status_code: int, response: Any) -> None:
    await conn.execute(
        "UPDATE idempotency_keys SET status_code = $3, response = $4 WHERE scope = $1 AND key = $2",
        scope,
        key,
        status_code,
        response,
    )


async def release(conn: Conn, scope: str, key: str) -> None:
    """Forget a key whose request failed on our side, so the client may retry with it."""
    await conn.execute(
        "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status_code IS NULL",
        scope,
        key,
    )


async def purge(conn: Conn, older_than_hours: int = 24) -> int:
    """Forget answers older than a day (Stripe keeps its keys 24 h too)."""
    done: str = await conn.execute(
        "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1)",
        older_than_hours,
    )
    return int(done.split()[-1])
