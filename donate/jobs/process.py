"""The ``donate worker`` process: runtime, Redis, arq worker, clean stop on signals."""

from __future__ import annotations

import asyncio
import signal

from donate import redis_client
from donate.bootstrap import build_runtime, freeze_startup_objects
from donate.jobs.worker import build_worker
from donate.metrics import start_metrics_server
from donate.observability import init_sentry, setup_logging
from donate.settings import Settings


async def run_worker_process(settings: Settings) -> None:
    setup_logging(settings.log_level, json_lines=settings.log_json)
    init_sentry(settings)
    runtime = await build_runtime(settings, pool_min=0)
    redis = redis_client.connect(settings, for_web=False)
    worker = build_worker(runtime, redis)
    stop_metrics = None
    if settings.worker_metrics_port is not None:
        # Each worker process is its own scrape target (no shared multiprocess registry).
        stop_metrics = start_metrics_server(
            settings.worker_metrics_port, settings.worker_metrics_host
        )
    freeze_startup_objects()  # long batches must not pay for walking start-up objects
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(worker.async_run())
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        pass
    finally:
        if stop_metrics is not None:
            stop_metrics()
        await worker.close()
        await runtime.pool.close()
        await redis.aclose()
