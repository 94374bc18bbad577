"""Outbox rows: work to do after a commit, written in the same transaction as the change.

Life of a row: pending → enqueued (handed to arq, ``attempts`` + 1) → done, or back to
pending with a later ``available_at`` after a failure, or failed after the last attempt.
An enqueued row that stays enqueued too long (Redis lost it, a worker died) is claimed
again by the sweeper: handlers are idempotent, so running twice is safe; never running is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from donate.db.types import Conn


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    task: str
    payload: dict[str, Any]
    organization_id: str | None
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime


def _row(r: asyncpg.Record) -> OutboxRow:
    org = r["organization_id"]
    return OutboxRow(
        id=r["id"],
        task=r["task"],
        payload=r["payload"],
        organization_id=str(org) if org else None,
        status=r["status"],
        attempts=r["attempts"],
        last_error=r["last_error"],
        created_at=r["created_at"],
    )


async def add(
    conn: Conn,
    task: str,
    payload: dict[str, Any],
    *,
    organization_id: Any = None,
    dedup_key: str | None = None,
    delay_s: float = 0,
) -> int | None:
    """Insert a row; with a ``dedup_key`` already present, do nothing and return None."""
    row_id: int | None = await conn.fetchval(
        """INSERT INTO outbox (task, payload, organization_id, dedup_key, available_at)
           VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
           ON CONFLICT (dedup_key) DO NOTHING
           RETURNING id""",
        task,
        payload,
        organization_id,
        dedup_key,
        float(delay_s),
    )
    return row_id


async def claim(conn: Conn, *, limit: int, stale_after_s: float) -> list[OutboxRow]:
    """Mark due rows as enqueued and return them: pending ones whose time has come, and
    enqueued ones older than ``stale_after_s`` (lost by Redis or by a dead worker)."""
    rows = await conn.fetch(
        """UPDATE outbox SET status = 'enqueued', enqueued_at = now(), attempts = attempts + 1
           WHERE id IN (
               SELECT id FROM outbox
               WHERE (status = 'pending' AND available_at <= now())
                  OR (status = 'enqueued' AND enqueued_at < now() - make_interval(secs => $2))
               ORDER BY available_at
               LIMIT $1
               FOR UPDATE SKIP LOCKED)
           RETURNING *""",
        limit,
        float(stale_after_s),
    )
    return [_row(r) for r in rows]


async def mark_done(conn: Conn, row_id: int) -> None:
    await conn.execute(
        "UPDATE outbox SET status = 'done', done_at = now(), last_error = NULL WHERE id = $1",
        row_id,
    )


async def mark_retry(conn: Conn, row_id: int, error: str, delay_s: float) -> None:
    await conn.execute(
        """UPDATE outbox SET status = 'pending', last_error = $2,
               available_at = now() + make_interval(secs => $3)
           WHERE id = $1 AND status <> 'done'""",
        row_id,
        error[:2000],
        float(delay_s),
    )


async def mark_failed(conn: Conn, row_id: int, error: str) -> None:
    await conn.execute(
        "UPDATE outbox SET status = 'failed', last_error = $2 WHERE id = $1 AND status <> 'done'",
        row_id,
        error[:2000],
    )


async def stats(conn: Conn) -> dict[str, Any]:
    """Depth and age of the queue, by status (for /metrics and the back-office)."""
    rows = await conn.fetch(
        """SELECT status, count(*) AS n, extract(epoch FROM now() - min(created_at)) AS oldest_s
           FROM outbox WHERE status <> 'done' GROUP BY status"""
    )
    return {r["status"]: {"count": r["n"], "oldest_s": float(r["oldest_s"] or 0)} for r in rows}


@dataclass(frozen=True, slots=True)
class Backlog:
    """Rows of one task in one live state, for /metrics."""

    status: str  # pending (waiting, or in retry backoff) or enqueued (handed to arq)
    task: str
    count: int
    oldest_s: float  # age of the oldest row (since it was written)
    due_lag_s: float  # how long the most overdue pending row has been due (0: none due)


async def backlog(conn: Conn, *, wait_s: float | None = None) -> list[Backlog]:
    """Pending and enqueued rows by task. Reads only the ``outbox_todo`` partial index's
    rows, so the cost follows the backlog, not the table (done rows are never looked at)."""
    rows = await conn.fetch(
        """SELECT status, task, count(*) AS n,
                  extract(epoch FROM now() - min(created_at))::float8 AS oldest_s,
                  coalesce(extract(epoch FROM now() - min(available_at)
                      FILTER (WHERE status = 'pending' AND available_at <= now())), 0)::float8
                      AS due_lag_s
           FROM outbox WHERE status IN ('pending', 'enqueued')
           GROUP BY status, task""",
        timeout=wait_s,
    )
    return [
        Backlog(r["status"], r["task"], r["n"], max(r["oldest_s"], 0.0), max(r["due_lag_s"], 0.0))
        for r in rows
    ]
