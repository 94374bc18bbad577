"""The arq job that executes one outbox row, with retries owned by the outbox (not Redis)."""

from __future__ import annotations

import logging
import time
from typing import Any

import asyncpg
import sentry_sdk

from donate.db import outbox
from donate.jobs.tasks import TASKS
from donate.metrics import OUTBOX_JOB_DURATION, OUTBOX_JOBS
from donate.services.runtime import Runtime

log = logging.getLogger(__name__)


def retry_delay_s(attempt: int) -> float:
    """Exponential backoff: 2, 4, 8 … seconds, capped at 10 minutes."""
    return float(min(2**attempt, 600))


async def run_outbox(ctx: dict[str, Any], row_id: int) -> str:
    """Run the handler of one outbox row. Never raises: a failure is recorded on the row,
    retried later with backoff, and after ``outbox_max_attempts`` marked ``failed``."""
    rt: Runtime = ctx["runtime"]
    start = time.perf_counter()
    async with rt.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT id, task, payload, status, attempts FROM outbox WHERE id = $1", row_id
        )
    # Label by registered task names only: the series stay as few as the handlers.
    label = "unknown" if row is None or row["task"] not in TASKS else row["task"]
    outcome = await _run(rt, row)
    OUTBOX_JOBS.labels(label, outcome).inc()
    OUTBOX_JOB_DURATION.labels(label).observe(time.perf_counter() - start)
    return outcome


async def _run(rt: Runtime, row: asyncpg.Record | None) -> str:
    if row is None or row["status"] in ("done", "failed"):
        return "skipped"
    row_id: int = row["id"]
    handler = TASKS.get(row["task"])
    try:
        if handler is None:
            raise LookupError(f"no handler for outbox task {row['task']!r}")
        await handler(rt, row["payload"])
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        async with rt.pool.acquire() as conn:
            if row["attempts"] >= rt.settings.outbox_max_attempts:
                await outbox.mark_failed(conn, row_id, error)
                log.error("outbox %s (%s) failed for good: %s", row_id, row["task"], error)
                sentry_sdk.capture_exception(exc)
                return "failed"
            delay = retry_delay_s(row["attempts"])
            await outbox.mark_retry(conn, row_id, error, delay)
        log.warning("outbox %s (%s) failed, retry in %.0fs: %s", row_id, row["task"], delay, error)
        return "retry"
    async with rt.pool.acquire() as conn:
        await outbox.mark_done(conn, row_id)
    return "done"
