"""A refund made at the provider whose re-fetch failed is still applied by the retry.
Found by load_tests/fault_drill.py: Mollie sends no webhook for a refund made through its
API, so the donation stayed ``paid`` with its receipt live although the money was gone."""

from __future__ import annotations

import random
import uuid

from arq.connections import ArqRedis

from tests.support.platform import Platform


def _seed_where_only_the_second_call_fails(ratio: float) -> int:
    """The sandbox draws one number per API call from ``Random(seed)``: the refund (first
    call) goes through, the re-fetch of the payment (second call) gets a 500."""
    for seed in range(10_000):
        rng = random.Random(seed)
        if rng.random() >= ratio and rng.random() < ratio:
            return seed
    raise AssertionError("no such seed")


async def test_refund_made_but_not_refetched_is_applied_by_the_retry(
    pf: Platform, redis: ArqRedis
) -> None:
    co = await pf.checkout("mollie", 4800)
    await pf.settle(co.checkout_id, "paid")
    await pf.deliver_and_process(redis)
    before = await pf.totals()

    await pf.faults(api_error_ratio=0.5, seed=_seed_where_only_the_second_call_fails(0.5))
    r = await pf.app.post(
        f"/api/v1/orgs/{pf.org}/donations/{co.donation_id}/refund",
        json={"amount_minor": 1800},
        headers=pf.auth(),
    )
    await pf.faults()
    assert r.status_code == 202, r.text
    [payment] = [p for p in (await pf.ledger())["payments"] if p["id"] == co.checkout_id]
    assert payment["refunded_minor"] == 1800  # made at the provider, not yet applied here
    assert await pf.status(co.donation_id) == "paid"
    async with pf.runtime.pool.acquire() as conn:
        # The retry's backoff is over (the checkout's expiry check stays an hour ahead).
        await conn.execute("UPDATE outbox SET available_at = now() WHERE task = 'refund.execute'")
    await pf.process(redis)

    assert await pf.status(co.donation_id) == "partially_refunded"
    assert await pf.totals() == (before[0] - 1800, before[1])
    async with pf.runtime.pool.acquire() as conn:
        live = await conn.fetch(
            "SELECT amount_minor FROM receipt_donations WHERE donation_id = $1 AND active",
            uuid.UUID(co.donation_id),
        )
        refunds = await conn.fetchval(
            "SELECT count(*) FROM refunds WHERE donation_id = $1", uuid.UUID(co.donation_id)
        )
    assert [x["amount_minor"] for x in live] == [3000]
    assert refunds == 1
