"""arq worker configuration: the outbox job, the relay/sweeper loop, and crons."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import Any

from arq import Worker, cron, func
from arq.connections import ArqRedis
from arq.cron import CronJob

from donate.db import idempotency
from donate.jobs import (
    account_tasks,
    export_tasks,
    handlers,
    integrator_tasks,
    payouts,
    receipt_tasks,
    recurring_tasks,
    relay,
)
from donate.jobs.job_metrics import instrumented
from donate.jobs.runner import run_outbox
from donate.services import donor_privacy, receipts_annual, receipts_batch
from donate.services.runtime import Runtime
from donate.webhooks.reconcile import reconcile

assert handlers  # registers the outbox tasks
assert account_tasks
assert receipt_tasks
assert payouts
assert integrator_tasks
assert recurring_tasks
assert export_tasks


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

    async def receipts_catch_up_cron(ctx: dict[str, Any]) -> int:
        # Gifts a per-gift job did not receipt (failed for good, data fixed since).
        return await receipts_batch.queue_catch_up(ctx["runtime"])

    async def january_receipts_cron(ctx: dict[str, Any]) -> int:
        # Mid-January: late December payments have settled; queued once per association.
        return await receipts_annual.queue_january_run(ctx["runtime"])

    async def donor_erasure_cron(ctx: dict[str, Any]) -> int:
        # Completes GDPR erasures once the receipts' 6-year retention has ended.
        return await donor_privacy.purge_due(ctx["runtime"])

    async def purge_idempotency_cron(ctx: dict[str, Any]) -> int:
        rt: Runtime = ctx["runtime"]
        async with rt.pool.acquire() as conn:
            return await idempotency.purge(conn)

    crons = [
        cron(reconcile_cron, minute=None, second=17, unique=True),
        cron(purge_idempotency_cron, minute=41, second=0, unique=True),
        cron(donor_erasure_cron, hour=4, minute=31, second=0, unique=True),
        cron(payouts.daily_sync, hour=5, minute=7, second=0, unique=True),
        cron(january_receipts_cron, month=1, day=15, hour=3, minute=0, second=0, unique=True),
        cron(receipts_catch_up_cron, minute=47, second=0, unique=True),
        cron(recurring_tasks.reconcile_plans_cron, minute=23, second=0, unique=True),
        cron(recurring_tasks.reminders_cron, hour=8, minute=13, second=0, unique=True),
        cron(
            export_tasks.restart_stalled_cron, minute=set(range(2, 60, 5)), second=37, unique=True
        ),
        cron(export_tasks.purge_expired_cron, hour=3, minute=37, second=0, unique=True),
    ]
    return Worker(
        functions=[
            func(
                instrumented(run_outbox, relay.JOB_NAME),
                name=relay.JOB_NAME,
                timeout=120,
                max_tries=1,
            ),
            func(
                instrumented(run_outbox, relay.LONG_JOB_NAME),
                name=relay.LONG_JOB_NAME,
                timeout=runtime.settings.report_export_timeout_s,
                max_tries=1,
            ),
        ],
        cron_jobs=[] if burst else [_instrument_cron(c) for c in crons],
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


def _instrument_cron(job: CronJob) -> CronJob:
    """The same cron (name, schedule, unique id) with its runs counted and timed."""
    return dataclasses.replace(job, coroutine=instrumented(job.coroutine))
