"""Many paid gifts, two workers at once, handlers racing each other: every paid gift ends
with exactly one live receipt and the numbers run 1..N without gap or duplicate."""

from __future__ import annotations

import asyncio
import random
import uuid

from arq.connections import ArqRedis

from donate.jobs.relay import relay_once
from donate.services import receipts as receipts_service
from tests.support.jobs import run_worker_burst
from tests.support.platform import Platform, donor

N = 24


async def _numbers_and_live(pf: Platform) -> tuple[list[int], dict[uuid.UUID, int]]:
    async with pf.runtime.pool.acquire() as conn:
        seqs = [r["seq"] for r in await conn.fetch("SELECT seq FROM receipts ORDER BY seq")]
        live = await conn.fetch(
            "SELECT donation_id, count(*) AS n FROM receipt_donations WHERE active "
            "GROUP BY donation_id"
        )
    return seqs, {r["donation_id"]: r["n"] for r in live}


async def test_two_workers_number_without_gaps(pf: Platform, redis: ArqRedis) -> None:
    donations = []
    for i in range(N):
        co = await pf.checkout(
            "stripe" if i % 2 else "mollie", 1000 + i, donor=donor(email=f"c{i}@example.org")
        )
        await pf.settle(co.checkout_id, "paid")
        donations.append(uuid.UUID(co.donation_id))
    await pf.deliver()

    for _ in range(20):  # relay, then two workers drain the same queue concurrently
        if not await relay_once(pf.runtime.pool, redis, stale_after_s=3600):
            break
        await asyncio.gather(
            run_worker_burst(pf.runtime, pf.redis_url), run_worker_burst(pf.runtime, pf.redis_url)
        )

    seqs, live = await _numbers_and_live(pf)
    assert seqs == list(range(1, N + 1))
    assert live == dict.fromkeys(donations, 1)


async def test_racing_handlers_issue_one_number_per_gift(pf: Platform, redis: ArqRedis) -> None:
    seqs_before, _ = await _numbers_and_live(pf)
    donations = []
    for i in range(8):
        co = await pf.checkout("stripe", 2000 + i, donor=donor(email=f"r{i}@example.org"))
        await pf.settle(co.checkout_id, "paid")
        donations.append(uuid.UUID(co.donation_id))
    # Settle the payments with the receipt wish off, so no job issues them; then race three
    # syncs per gift, in shuffled order, on a pool of parallel connections.
    async with pf.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE donations SET wants_receipt = false WHERE id = ANY($1::uuid[])", donations
        )
    await pf.deliver_and_process(redis)
    async with pf.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE donations SET wants_receipt = true WHERE id = ANY($1::uuid[])", donations
        )
    assert (await _numbers_and_live(pf))[0] == seqs_before
    calls = [d for d in donations for _ in range(3)]
    random.Random(7).shuffle(calls)
    results = await asyncio.gather(*(receipts_service.sync_donation(pf.runtime, d) for d in calls))

    assert sorted(r.action for r in results) == ["issued"] * 8 + ["unchanged"] * 16
    seqs, live = await _numbers_and_live(pf)
    assert seqs == list(range(1, len(seqs_before) + 9))
    assert all(live[d] == 1 for d in donations)
