"""arq worker configuration: the outbox job, the relay/sweeper loop, and crons."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from arq import Worker, cron, func
from arq.connections import ArqRedis

from donate.jobs import handlers, relay
from donate.jobs.runner import run_outbox
from donate.services.runtime import Runtime
from donate.webhooks.reconcile import reconcile

assert handlers  # registers the outbox tasks


def build_worker(
    runtime: Runtime,
    arq_redis: ArqRedis,
    *,
    burst: bool = False,
    run_relay: bool = True,
    max_jobs: int = 20,
) -> Worker:
    """A worker over an existing runtime. ``run_relay`` also runs the outbox relay and
    sweeper in the same process (every worker may: claiming uses SKIP LOCKED)."""
    relay_task: asyncio.Task[None] | None = None

    async def on_startup(ctx: dict[str, Any]) -> None:
        nonlocal relay_task
        ctx["runtime"] = runtime
        if run_relay and not burst:
            relay_task = asyncio.create_task(
                relay.relay_forever(
                    runtime.pool, arq_redis, stale_after_s=runtime.settings.outbox_stale_after_s
                )
            )

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        if relay_task is not None:
            relay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay_task

    async def reconcile_cron(ctx: dict[str, Any]) -> dict[str, int]:
        return await reconcile(ctx["runtime"])

    return Worker(
        functions=[func(run_outbox, name=relay.JOB_NAME, timeout=120, max_tries=1)],
        cron_jobs=[] if burst else [cron(reconcile_cron, minute=None, second=17, unique=True)],
        redis_pool=arq_redis,
        queue_name=relay.QUEUE,
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        burst=burst,
        poll_delay=0.05 if burst else 0.25,
        max_jobs=max_jobs,
        handle_signals=False,
        keep_result=60,
    )
