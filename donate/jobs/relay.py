"""Moves outbox rows to arq, and re-enqueues rows that went stale (the sweeper).

Job ids are deterministic per row and attempt (``outbox:{id}:{attempt}``): arq refuses a
duplicate while the first is queued, and a re-enqueue after a Redis loss gets a new id.
If Redis is down after a row was claimed, the row stays ``enqueued`` until it is stale,
then is claimed again: nothing is lost, at worst delayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg
from arq.connections import ArqRedis

from donate.db import outbox
from donate.jobs.tasks import LONG_TASKS

log = logging.getLogger(__name__)

JOB_NAME = "run_outbox"
LONG_JOB_NAME = "run_outbox_long"  # the same runner, for ``tasks.LONG_TASKS``
QUEUE = "donate:queue"


def job_id(row_id: int, attempt: int) -> str:
    return f"outbox:{row_id}:{attempt}"


async def relay_once(
    pool: asyncpg.Pool[Any], arq: ArqRedis, *, stale_after_s: float, batch: int = 200
) -> int:
    """Claim due rows and enqueue them; return how many were handed to arq."""
    async with pool.acquire() as conn:
        rows = await outbox.claim(conn, limit=batch, stale_after_s=stale_after_s)
    for row in rows:
        name = LONG_JOB_NAME if row.task in LONG_TASKS else JOB_NAME
        await arq.enqueue_job(name, row.id, _job_id=job_id(row.id, row.attempts), _queue_name=QUEUE)
    return len(rows)


async def relay_forever(
    pool: asyncpg.Pool[Any],
    arq: ArqRedis,
    *,
    stale_after_s: float,
    idle_poll_s: float = 0.1,
    stop: asyncio.Event | None = None,
) -> None:
    """Run the relay until cancelled or ``stop`` is set, polling every ``idle_poll_s``.

    Polling rather than LISTEN/NOTIFY: a NOTIFY in every writing transaction serialises
    commits in PostgreSQL and halved webhook ingest in load_tests/bench_webhooks.py; an idle
    poll is one cheap index probe. Database or Redis outages are waited out with backoff.
    """
    backoff = 0.5
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            while await relay_once(pool, arq, stale_after_s=stale_after_s):
                pass
            backoff = 0.5
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), idle_poll_s)
        except asyncio.CancelledError:
            break
        except Exception:
            log.warning(
                "outbox relay: store unavailable, retrying in %.1fs", backoff, exc_info=True
            )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)
