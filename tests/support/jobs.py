"""Run the real job machinery (relay + arq worker in burst mode) from a test."""

from __future__ import annotations

from arq.connections import ArqRedis

from donate.jobs.relay import relay_once
from donate.jobs.worker import build_worker
from donate.services.runtime import Runtime


async def run_worker_burst(runtime: Runtime, redis_url: str) -> None:
    """Execute every job queued in Redis now, then return."""
    worker = build_worker(runtime, ArqRedis.from_url(redis_url), burst=True)
    try:
        await worker.async_run()
    finally:
        await worker.close()


async def drain(runtime: Runtime, redis: ArqRedis, redis_url: str, rounds: int = 20) -> None:
    """Relay and run until no outbox row is due (follow-up rows included)."""
    for _ in range(rounds):
        moved = await relay_once(runtime.pool, redis, stale_after_s=3600)
        if not moved:
            return
        await run_worker_burst(runtime, redis_url)
    raise AssertionError(f"outbox still busy after {rounds} rounds")
