"""A change that legitimately happens twice (disputed, won, disputed again; a second partial
refund that keeps the status) is a new integrator event each time, with its own id; the same
change brought twice (duplicated provider webhooks) is still one event. Found by the fault
drill (load_tests/fault_drill.py)."""

from __future__ import annotations

from typing import Any

from arq.connections import ArqRedis

from tests.integrator_webhooks.conftest import MakeEndpoint
from tests.integrator_webhooks.helpers import Receiver, fast, settle_until_final
from tests.support.platform import Checkout, Platform

DONATION_EVENTS = ["donation.paid", "donation.disputed", "donation.refunded"]


async def _paid(pf: Platform, redis: ArqRedis, amount: int) -> Checkout:
    co = await pf.checkout("mollie", amount)  # Mollie webhooks are never deduplicated at ingest
    await pf.settle(co.checkout_id, "paid")
    await pf.deliver_and_process(redis)
    assert await pf.status(co.donation_id) == "paid"
    return co


async def _control(pf: Platform, redis: ArqRedis, action: str, **body: Any) -> dict[str, Any]:
    """A change made at the provider, its webhooks delivered and processed."""
    r = await pf.sandbox.post(f"/control/{action}", json=body)
    assert r.status_code == 200, r.text
    await pf.deliver_and_process(redis)
    data: dict[str, Any] = r.json()
    return data


async def _events_of(
    pf: Platform, redis: ArqRedis, receiver: Receiver, endpoint_id: str, donation_id: str
) -> list[dict[str, Any]]:
    await settle_until_final(fast(pf.runtime), redis, pf.redis_url, endpoint_id)
    return [h.event for h in receiver.hits if h.event["data"]["id"] == donation_id]


async def test_dispute_win_dispute_again_is_three_events(
    pf: Platform, redis: ArqRedis, receiver: Receiver, make_endpoint: MakeEndpoint
) -> None:
    endpoint = await make_endpoint(receiver.url, DONATION_EVENTS)
    co = await _paid(pf, redis, 4400)
    dispute = await _control(pf, redis, "chargeback", payment_id=co.checkout_id)
    await _control(pf, redis, "dispute-close", dispute_id=dispute["id"], won=True)
    await _control(pf, redis, "chargeback", payment_id=co.checkout_id)
    assert await pf.status(co.donation_id) == "disputed"

    events = await _events_of(pf, redis, receiver, endpoint["id"], co.donation_id)
    assert [(e["type"], e["data"]["previous_status"], e["data"]["status"]) for e in events] == [
        ("donation.paid", "pending", "paid"),
        ("donation.disputed", "paid", "disputed"),
        ("donation.paid", "disputed", "paid"),
        ("donation.disputed", "paid", "disputed"),
    ]
    assert len({e["id"] for e in events}) == len(events)


async def test_a_second_partial_refund_is_an_event_with_the_new_amount(
    pf: Platform, redis: ArqRedis, receiver: Receiver, make_endpoint: MakeEndpoint
) -> None:
    endpoint = await make_endpoint(receiver.url, ["donation.refunded"])
    co = await _paid(pf, redis, 9000)
    await _control(pf, redis, "refund-external", payment_id=co.checkout_id, amount_minor=3000)
    await _control(pf, redis, "refund-external", payment_id=co.checkout_id, amount_minor=2000)

    events = await _events_of(pf, redis, receiver, endpoint["id"], co.donation_id)
    assert [(e["data"]["status"], e["data"]["refunded_minor"], e["data"]["counted_minor"])
            for e in events] == [("partially_refunded", 3000, 6000),
                                 ("partially_refunded", 5000, 4000)]  # fmt: skip
    assert events[0]["id"] != events[1]["id"]


async def test_duplicated_provider_webhooks_are_one_event_per_change(
    pf: Platform, redis: ArqRedis, receiver: Receiver, make_endpoint: MakeEndpoint
) -> None:
    endpoint = await make_endpoint(receiver.url, DONATION_EVENTS)
    await pf.faults(webhook_duplicates=2)  # every webhook three times
    co = await _paid(pf, redis, 5000)
    dispute = await _control(pf, redis, "chargeback", payment_id=co.checkout_id)
    await _control(pf, redis, "dispute-close", dispute_id=dispute["id"], won=True)
    await _control(pf, redis, "refund-external", payment_id=co.checkout_id, amount_minor=1200)
    r = await pf.sandbox.get("/control/webhooks", params={"provider": "mollie"})
    mine = [d for d in r.json()["deliveries"] if d["object_id"] == co.checkout_id]
    assert sum(d["duplicate"] for d in mine) == 2 * sum(not d["duplicate"] for d in mine) > 0
    async with pf.runtime.pool.acquire() as conn:
        processed = await conn.fetchval(
            "SELECT count(*) FROM provider_events WHERE provider = 'mollie' AND object_id = $1 "
            "AND processed_at IS NOT NULL",
            co.checkout_id,
        )
    assert processed == len(mine)  # every copy reached the payment state machine

    events = await _events_of(pf, redis, receiver, endpoint["id"], co.donation_id)
    assert [(e["type"], e["data"]["status"]) for e in events] == [
        ("donation.paid", "paid"),
        ("donation.disputed", "disputed"),
        ("donation.paid", "paid"),
        ("donation.refunded", "partially_refunded"),
    ]
    assert len({e["id"] for e in events}) == len(events)
