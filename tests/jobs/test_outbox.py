"""The outbox relay, its sweeper and retries: Redis may lose everything, we lose nothing."""

from __future__ import annotations

from typing import Any

from arq.connections import ArqRedis

from donate.db import outbox
from donate.jobs.relay import relay_once
from donate.jobs.tasks import TASKS, task
from donate.services.runtime import Runtime
from tests.support.jobs import run_worker_burst

# Tasks that exist only for these tests: work that succeeds, and work that always fails.
if "noop" not in TASKS:

    @task("noop")
    async def noop(rt: Runtime, payload: dict[str, Any]) -> None:
        """Does nothing."""

    @task("fail")
    async def fail(rt: Runtime, payload: dict[str, Any]) -> None:
        """Always fails, with the message given."""
        raise RuntimeError(payload.get("message", "failing on purpose"))


async def _add(runtime: Runtime, task: str, payload: dict[str, Any], **kw: Any) -> int:
    async with runtime.pool.acquire() as conn, conn.transaction():
        row_id = await outbox.add(conn, task, payload, **kw)
    assert row_id is not None
    return row_id


async def _row(runtime: Runtime, row_id: int) -> Any:
    async with runtime.pool.acquire() as conn:
        return await conn.fetchrow("SELECT * FROM outbox WHERE id = $1", row_id)


async def test_row_written_in_rolled_back_transaction_never_runs(runtime: Runtime) -> None:
    async with runtime.pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        await outbox.add(conn, "noop", {}, dedup_key="rolled-back")
        await tx.rollback()
        assert (
            await conn.fetchval("SELECT count(*) FROM outbox WHERE dedup_key = 'rolled-back'") == 0
        )


async def test_dedup_key_makes_work_happen_once(runtime: Runtime) -> None:
    first = await _add(runtime, "noop", {}, dedup_key="receipt:donation:1")
    async with runtime.pool.acquire() as conn:
        assert await outbox.add(conn, "noop", {}, dedup_key="receipt:donation:1") is None
    assert first > 0


async def test_relay_then_worker_marks_done(
    runtime: Runtime, redis: ArqRedis, services: dict[str, str]
) -> None:
    row_id = await _add(runtime, "noop", {"n": 1})
    assert await relay_once(runtime.pool, redis, stale_after_s=60) >= 1
    await run_worker_burst(runtime, services["redis"])
    row = await _row(runtime, row_id)
    assert row["status"] == "done"
    assert row["attempts"] == 1


async def test_redis_flushed_after_enqueue_loses_nothing(
    runtime: Runtime, redis: ArqRedis, services: dict[str, str]
) -> None:
    row_id = await _add(runtime, "noop", {})
    await relay_once(runtime.pool, redis, stale_after_s=60)
    await redis.flushdb()  # the queued job is gone
    await run_worker_burst(runtime, services["redis"])
    assert (await _row(runtime, row_id))["status"] == "enqueued"
    # Not stale yet: the sweeper leaves it alone.
    assert await relay_once(runtime.pool, redis, stale_after_s=60) == 0
    # Once stale, the sweeper enqueues it again under a new job id, and it runs.
    assert await relay_once(runtime.pool, redis, stale_after_s=0) == 1
    await run_worker_burst(runtime, services["redis"])
    row = await _row(runtime, row_id)
    assert (row["status"], row["attempts"]) == ("done", 2)


async def test_enqueue_twice_same_attempt_runs_once(
    runtime: Runtime, redis: ArqRedis, services: dict[str, str]
) -> None:
    row_id = await _add(runtime, "noop", {})
    await relay_once(runtime.pool, redis, stale_after_s=60)
    # A second enqueue with the same deterministic job id is refused by arq.
    from donate.jobs.relay import JOB_NAME, QUEUE, job_id

    assert (
        await redis.enqueue_job(JOB_NAME, row_id, _job_id=job_id(row_id, 1), _queue_name=QUEUE)
        is None
    )


async def test_failing_work_is_retried_then_failed_and_visible(
    runtime: Runtime, redis: ArqRedis, services: dict[str, str]
) -> None:
    row_id = await _add(runtime, "fail", {"message": "smtp refused"})
    max_attempts = runtime.settings.outbox_max_attempts
    for attempt in range(1, max_attempts + 1):
        assert await relay_once(runtime.pool, redis, stale_after_s=60) == 1
        await run_worker_burst(runtime, services["redis"])
        row = await _row(runtime, row_id)
        assert row["attempts"] == attempt
        assert "smtp refused" in row["last_error"]
        if attempt < max_attempts:
            assert row["status"] == "pending"
            # Backoff: not due yet, so the relay leaves it; then time "passes".
            assert row["available_at"] > row["enqueued_at"]
            assert await relay_once(runtime.pool, redis, stale_after_s=60) == 0
            async with runtime.pool.acquire() as conn:
                await conn.execute("UPDATE outbox SET available_at = now() WHERE id = $1", row_id)
    row = await _row(runtime, row_id)
    assert row["status"] == "failed"
    async with runtime.pool.acquire() as conn:
        stats = await outbox.stats(conn)
    assert stats["failed"]["count"] >= 1
    # A failed row is never picked up again by the relay.
    await relay_once(runtime.pool, redis, stale_after_s=0)
    assert (await _row(runtime, row_id))["status"] == "failed"
