"""Faults in the middle of a batch of 1,000 receipts, with real worker processes
(``python -m donate.cli worker``): a worker killed with ``kill -9``, then another started;
Redis flushed under a running worker. Afterwards every paid gift has exactly one live
receipt and the numbers run 1..N without gap or duplicate.

Both ways work reaches the worker are covered: one ``receipts.issue_pending`` row (batches
of 200 per transaction) and one ``donation.status_changed`` row per gift (the payment flow).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from arq.connections import ArqRedis

from donate.services import receipts_batch
from tests.support.platform import Platform

from .bulk import assert_one_live_receipt_each, org_and_campaign, seed_paid_gifts

ROOT = Path(__file__).resolve().parents[2]
N = 1000
STALE_S = 5  # the sweeper re-claims rows a dead worker or a lost Redis left enqueued


@contextmanager
def worker(pf: Platform, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "DONATE_ENVIRONMENT": "test",
        "DONATE_DATABASE_URL": str(pf.runtime.settings.database_url),
        "DONATE_REDIS_URL": pf.redis_url,
        "DONATE_SECRET_KEY": "test-secret",
        "DONATE_SMTP_URL": "",
        "DONATE_OUTBOX_STALE_AFTER_S": str(STALE_S),
        "DONATE_LOG_JSON": "false",
        "DONATE_LOG_LEVEL": "WARNING",
    }
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "donate.cli", "worker"], cwd=ROOT, env=env, stdout=out,
            stderr=out,
        )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def _issued(pf: Platform, gifts: list[uuid.UUID]) -> int:
    async with pf.runtime.pool.acquire() as conn:
        n: int = await conn.fetchval(
            "SELECT count(*) FROM receipt_donations WHERE active AND donation_id = ANY($1::uuid[])",
            gifts,
        )
    return n


async def _wait_for(
    pf: Platform, gifts: list[uuid.UUID], at_least: int, proc: subprocess.Popen[bytes], log: Path
) -> int:
    for _ in range(3000):  # up to 5 minutes on a busy machine; no timing is asserted
        done = await _issued(pf, gifts)
        if done >= at_least:
            return done
        assert proc.poll() is None, f"the worker exited, see {log}"
        await asyncio.sleep(0.1)
    raise AssertionError(f"{await _issued(pf, gifts)} of {at_least} receipts: {log}")


async def _queue(pf: Platform, how: str, org_id: uuid.UUID, gifts: list[uuid.UUID]) -> None:
    if how == "batch":
        await receipts_batch.queue(pf.runtime, org_id)
        return
    async with pf.runtime.pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO outbox (task, payload, organization_id)
               SELECT 'donation.status_changed',
                      jsonb_build_object('donation_id', id, 'from', 'pending', 'to', 'paid'), $2
               FROM unnest($1::uuid[]) AS id""",
            gifts,
            org_id,
        )


async def _seed(pf: Platform) -> tuple[uuid.UUID, list[uuid.UUID]]:
    async with pf.runtime.pool.acquire() as conn:
        org_id, campaign_id = await org_and_campaign(conn, pf.seeded)
        return org_id, await seed_paid_gifts(conn, org_id, campaign_id, N)


@pytest.mark.parametrize("how", ["batch", "per-gift"])
async def test_worker_killed_mid_batch_then_another_finishes(
    pf: Platform, redis: ArqRedis, tmp_path: Path, how: str
) -> None:
    org_id, gifts = await _seed(pf)
    await _queue(pf, how, org_id, gifts)
    log = tmp_path / "worker.log"
    with worker(pf, log) as first:
        at_kill = await _wait_for(pf, gifts, 1, first, log)
        first.send_signal(signal.SIGKILL)  # kill -9: no shutdown, transactions cut short
        first.wait()
    assert at_kill < N, "the worker finished before it could be killed"
    async with pf.runtime.pool.acquire() as conn:
        claimed = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE status = 'enqueued' AND task <> 'receipt.email'"
        )
    assert claimed > 0  # work the dead worker had taken, and which nobody else will run

    with worker(pf, log) as second:
        await _wait_for(pf, gifts, N, second, log)
    async with pf.runtime.pool.acquire() as conn:
        await assert_one_live_receipt_each(conn, org_id, gifts)


@pytest.mark.parametrize("how", ["batch", "per-gift"])
async def test_redis_flushed_mid_batch_the_sweeper_finishes(
    pf: Platform, redis: ArqRedis, tmp_path: Path, how: str
) -> None:
    org_id, gifts = await _seed(pf)
    await _queue(pf, how, org_id, gifts)
    log = tmp_path / "worker.log"
    with worker(pf, log) as proc:
        at_flush = await _wait_for(pf, gifts, 1, proc, log)
        await redis.flushdb()  # queued jobs, in-progress markers and results: all gone
        assert at_flush < N, "the worker finished before Redis could be flushed"
        await _wait_for(pf, gifts, N, proc, log)
    async with pf.runtime.pool.acquire() as conn:
        await assert_one_live_receipt_each(conn, org_id, gifts)
