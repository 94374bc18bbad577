"""Counts and times every arq job (``donate_worker_jobs_total``, ``…_duration_seconds``).

arq's ``on_job_end`` hook is not told whether the job failed, so each function is wrapped
instead; ``functools.wraps`` keeps its name, which arq uses for crons' unique job ids.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from donate.metrics import WORKER_JOB_DURATION, WORKER_JOBS

R = TypeVar("R")


def instrumented(
    fn: Callable[..., Coroutine[Any, Any, R]], name: str | None = None
) -> Callable[..., Coroutine[Any, Any, R]]:
    """``fn`` recording its outcome (ok, error, cancelled: timed out or stopped) and time
    under ``name`` (default: the function's name)."""
    label = name or fn.__name__
    duration = WORKER_JOB_DURATION.labels(label)

    @functools.wraps(fn)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> R:
        start = time.perf_counter()
        outcome = "error"
        try:
            result = await fn(ctx, *args, **kwargs)
            outcome = "ok"
            return result
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            duration.observe(time.perf_counter() - start)
            WORKER_JOBS.labels(label, outcome).inc()

    return run
