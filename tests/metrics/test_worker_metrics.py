"""The worker's metrics port: jobs run and failed, by arq function and by outbox task."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from arq import Worker, func
from arq.connections import ArqRedis

from donate.embedded import free_port
from donate.jobs.job_metrics import instrumented
from donate.jobs.relay import relay_once
from donate.jobs.worker import build_worker
from donate.metrics import start_metrics_server
from tests.support.jobs import run_worker_burst
from tests.support.platform import Platform, donor

from .helpers import scrape, value


@pytest.fixture
async def worker_metrics() -> AsyncIterator[httpx.AsyncClient]:
    """The worker's metrics server (what ``DONATE_WORKER_METRICS_PORT`` starts)."""
    port = free_port()
    stop = start_metrics_server(port, "127.0.0.1")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            yield client
    finally:
        stop()


async def test_outbox_retries_and_give_ups_are_counted(
    pf: Platform, redis: ArqRedis, worker_metrics: httpx.AsyncClient
) -> None:
    before = await scrape(worker_metrics)
    co = await pf.checkout("stripe", 1900, donor=donor(email="metrics-fail@example.org"))
    await pf.settle(co.checkout_id, "paid")
    await pf.deliver()
    await pf.faults(api_error_ratio=1.0)  # processing re-fetches the payment: it fails
    attempts = pf.runtime.settings.outbox_max_attempts
    async with pf.runtime.pool.acquire() as conn:
        rows = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE task = 'provider_event.process' "
            "AND status = 'pending'"
        )
    assert rows >= 1
    for _ in range(attempts):
        assert await relay_once(pf.runtime.pool, redis, stale_after_s=3600) >= rows
        await run_worker_burst(pf.runtime, pf.redis_url)
        async with pf.runtime.pool.acquire() as conn:
            # The backoff has passed (instead of sleeping through it).
            await conn.execute(
                "UPDATE outbox SET available_at = now() WHERE status = 'pending' "
                "AND task = 'provider_event.process'"
            )
    async with pf.runtime.pool.acquire() as conn:
        failed = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE task = 'provider_event.process' "
            "AND status = 'failed'"
        )
    assert failed == rows
    after = await scrape(worker_metrics)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    jobs = "donate_outbox_jobs_total"
    assert delta(jobs, task="provider_event.process", outcome="retry") == rows * (attempts - 1)
    assert delta(jobs, task="provider_event.process", outcome="failed") == rows
    assert delta(jobs, task="provider_event.process", outcome="done") == 0
    timed = "donate_outbox_job_duration_seconds_count"
    assert delta(timed, task="provider_event.process") == rows * attempts
    # run_outbox itself never raises: the arq job succeeded, the task did not.
    arq_jobs = "donate_worker_jobs_total"
    assert delta(arq_jobs, function="run_outbox", outcome="ok") == rows * attempts
    assert delta(arq_jobs, function="run_outbox", outcome="error") == 0


async def test_arq_jobs_that_raise_are_counted_as_errors(
    redis: ArqRedis, worker_metrics: httpx.AsyncClient
) -> None:
    async def metrics_fine(ctx: dict[str, Any], n: int) -> int:
        return n + 1

    async def metrics_boom(ctx: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    queue = "donate:test-metrics"
    for name in ("metrics_fine", "metrics_fine", "metrics_boom"):
        args = (1,) if name == "metrics_fine" else ()
        assert await redis.enqueue_job(name, *args, _queue_name=queue) is not None
    worker = Worker(
        functions=[
            func(instrumented(metrics_fine), name="metrics_fine"),
            func(instrumented(metrics_boom), name="metrics_boom"),
        ],
        redis_pool=redis,
        queue_name=queue,
        burst=True,
        poll_delay=0.05,
        handle_signals=False,
        max_tries=1,
    )
    before = await scrape(worker_metrics)
    try:
        await worker.async_run()
    finally:
        await worker.close()
    after = await scrape(worker_metrics)
    assert worker.jobs_complete == 2 and worker.jobs_failed == 1

    def delta(function: str, outcome: str) -> float:
        labels = {"function": function, "outcome": outcome}
        return value(after, "donate_worker_jobs_total", **labels) - value(
            before, "donate_worker_jobs_total", **labels
        )

    assert delta("metrics_fine", "ok") == 2
    assert delta("metrics_boom", "error") == 1
    assert delta("metrics_boom", "ok") == 0
    timed = "donate_worker_job_duration_seconds_count"
    assert (
        value(after, timed, function="metrics_boom") - value(before, timed, function="metrics_boom")
        == 1
    )


async def test_crons_keep_their_names_once_instrumented(pf: Platform) -> None:
    worker = build_worker(pf.runtime, ArqRedis.from_url(pf.redis_url))
    try:
        names = {job.name for job in worker.cron_jobs}
        # arq derives a cron's unique job id from its name: a renamed cron would run twice
        # during a rolling deploy.
        assert "cron:build_worker.<locals>.reconcile_cron" in names
        assert "cron:daily_sync" in names
        assert all(hasattr(job.coroutine, "__wrapped__") for job in worker.cron_jobs)
    finally:
        await worker.close()


async def test_donate_worker_serves_its_metrics_on_the_configured_port(
    db_url: str, services: dict[str, str]
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DONATE_ENVIRONMENT": "test",
        "DONATE_DATABASE_URL": db_url,
        "DONATE_REDIS_URL": services["redis"],
        "DONATE_SECRET_KEY": "test-secret",
        "DONATE_WORKER_METRICS_PORT": str(port),
        "DONATE_WORKER_METRICS_HOST": "127.0.0.1",
        "DONATE_LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "donate.cli", "worker", env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(300):  # start-up: imports, pool, Redis
                try:
                    r = await client.get("/metrics")
                    break
                except httpx.TransportError:
                    assert proc.returncode is None, "the worker exited"
                    await asyncio.sleep(0.1)
            else:
                pytest.fail("the worker's metrics port never answered")
        assert r.status_code == 200
        assert "# TYPE donate_outbox_jobs_total counter" in r.text
        assert "process_resident_memory_bytes" in r.text
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = await proc.communicate()
    assert proc.returncode == 0, stderr.decode()[-2000:]
