"""The arq job that executes one outbox row, with retries owned by the outbox (not Redis)."""

from __future__ import annotations

import logging
from typing import Any

import sentry_sdk

from donate.db import outbox
from donate.jobs.tasks import TASKS
from donate.services.runtime import Runtime

log = logging.getLogger(__name__)


def retry_delay_s(attempt: int) -> float:
    """Exponential backoff: 2, 4, 8 … seconds, capped at 10 minutes."""
    return float(min(2**attempt, 600))


async def run_outbox(ctx: dict[str, Any], row_id: int) -> str:
    """Run the handler of one outbox row. Never raises: a failure is recorded on the row,
    retried later with backoff, and after ``outbox_max_attempts`` marked ``failed``."""
    rt: Runtime = ctx["runtime"]
    async with rt.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT id, task, payload, status, attempts FROM outbox WHERE id = $1", row_id
        )
    if row is None or row["status"] in ("done", "failed"):
        return "skipped"
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
