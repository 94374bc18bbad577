"""Campaign totals stay exact when many gifts, duplicated and shuffled webhooks, refunds and
two workers race each other."""

from __future__ import annotations

import asyncio

from arq.connections import ArqRedis

from donate.jobs.relay import relay_once
from tests.support.jobs import run_worker_burst
from tests.support.platform import Checkout, Platform


async def test_totals_exact_under_concurrent_processing(pf: Platform, redis: ArqRedis) -> None:
    campaign = pf.seeded["campaigns"][1]["id"]  # the crowdfunding campaign, for clean totals
    before = await pf.totals(campaign)
    amounts = [500 + 137 * i for i in range(20)]
    providers = ["stripe" if i % 2 else "mollie" for i in range(20)]
    checkouts: list[Checkout] = list(
        await asyncio.gather(
            *(
                pf.checkout(p, a, campaign_id=campaign)
                for p, a in zip(providers, amounts, strict=True)
            )
        )
    )
    # Every fifth gift fails; every seventh is paid then partly refunded at the dashboard.
    outcomes = ["failed" if i % 5 == 4 else "paid" for i in range(20)]
    await pf.faults(webhook_duplicates=2, webhook_shuffle=True, seed=11)
    settled = await asyncio.gather(
        *(pf.settle(co.checkout_id, o) for co, o in zip(checkouts, outcomes, strict=True))
    )
    refunded: dict[int, int] = {}
    for i, (co, o, s) in enumerate(zip(checkouts, outcomes, settled, strict=True)):
        if o == "paid" and i % 7 == 0:
            ref = s["payment_intent"] if co.checkout_id.startswith("cs_") else co.checkout_id
            r = await pf.sandbox.post(
                "/control/refund-external", json={"payment_id": ref, "amount_minor": 200}
            )
            assert r.status_code == 200, r.text
            refunded[i] = 200
    await pf.deliver()

    # Two workers take the same queue at once; then whatever follows is drained.
    assert await relay_once(pf.runtime.pool, redis, stale_after_s=3600) > 0
    await asyncio.gather(
        run_worker_burst(pf.runtime, pf.redis_url), run_worker_burst(pf.runtime, pf.redis_url)
    )
    await pf.process(redis)

    expected_raised = sum(
        a - refunded.get(i, 0) for i, (a, o) in enumerate(zip(amounts, outcomes, strict=True))
        if o == "paid"
    )  # fmt: skip
    expected_donors = outcomes.count("paid")
    statuses = [await pf.status(co.donation_id) for co in checkouts]
    # A declined card leaves a Stripe Checkout Session open for another try: still pending.
    assert statuses == [
        ("pending" if providers[i] == "stripe" else "failed") if o == "failed"
        else "partially_refunded" if i in refunded else "paid"
        for i, o in enumerate(outcomes)
    ]  # fmt: skip
    raised, donors = await pf.totals(campaign)
    assert (raised - before[0], donors - before[1]) == (expected_raised, expected_donors)
    assert raised == await pf.sql_sum_counted(campaign)
