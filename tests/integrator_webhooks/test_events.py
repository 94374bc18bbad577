"""Events beyond the payment: payouts reconciled (once per result), failed payments, and
nothing at all written when no endpoint listens."""

from __future__ import annotations

from arq.connections import ArqRedis

from tests.integrator_webhooks.conftest import MakeEndpoint
from tests.integrator_webhooks.helpers import Receiver, fast, settle_until_final
from tests.support.jobs import drain
from tests.support.platform import Platform


async def test_no_endpoint_means_no_delivery_rows(pf: Platform, redis: ArqRedis) -> None:
    co = await pf.checkout("mollie", 1500)
    await pf.settle(co.checkout_id, "paid")
    await pf.deliver()
    await drain(pf.runtime, redis, pf.redis_url)
    assert await pf.status(co.donation_id) == "paid"
    async with pf.runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM webhook_deliveries") == 0


async def test_failed_payment_and_payout_reconciled(
    pf: Platform, redis: ArqRedis, receiver: Receiver, make_endpoint: MakeEndpoint
) -> None:
    endpoint = await make_endpoint(receiver.url, ["donation.failed", "payout.reconciled"])
    rt = fast(pf.runtime)
    failed = await pf.checkout("mollie", 1200)  # a failed Stripe card leaves the session open
    await pf.settle(failed.checkout_id, "failed")
    paid = await pf.checkout("stripe", 4000)
    await pf.settle(paid.checkout_id, "paid")
    await pf.deliver()
    await settle_until_final(rt, redis, pf.redis_url, endpoint["id"])
    [hit] = receiver.of_type("donation.failed")
    assert hit.event["data"]["id"] == failed.donation_id
    assert hit.event["data"]["status"] == "failed"

    r = await pf.sandbox.post("/control/payout", json={"provider": "stripe"})
    assert r.status_code == 200, r.text
    sent = {po["id"]: po["amount"] for po in r.json()["payouts"]}
    await pf.deliver()  # the payout webhooks → payouts.sync
    await settle_until_final(rt, redis, pf.redis_url, endpoint["id"])
    reconciled = receiver.of_type("payout.reconciled")
    assert reconciled, "no payout.reconciled"
    by_payout = {h.event["data"]["provider_payout_id"]: h.event["data"] for h in reconciled}
    assert set(by_payout) <= set(sent)
    ours = next(d for pid, d in by_payout.items() if sent[pid] > 0)
    assert ours["amount_minor"] == sent[ours["provider_payout_id"]]
    assert ours["currency"] == "EUR" and ours["provider"] == "stripe"
    assert ours["balanced"] is (ours["net_sum_minor"] == ours["amount_minor"])
    assert ours["balanced"] and ours["unmatched_count"] == 0

    # Syncing again changes nothing in the reconciliation: no second event.
    count = len(reconciled)
    r = await pf.app.post(f"/api/v1/orgs/{pf.org}/payouts/sync", headers=pf.auth())
    assert r.status_code == 202, r.text
    await settle_until_final(rt, redis, pf.redis_url, endpoint["id"])
    assert len(receiver.of_type("payout.reconciled")) == count
