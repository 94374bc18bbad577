"""Duplicates, shuffled deliveries and a refund heard of before the payment: the final state
and the campaign totals are those of the same story told in order."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from arq.connections import ArqRedis

from donate.demo import SANDBOX_KEY
from tests.support.platform import Platform


@dataclass(frozen=True)
class Outcome:
    status: str
    raised_delta: int
    donors_delta: int
    counted_minor: int


async def _outcome(pf: Platform, donation_id: str, before: tuple[int, int]) -> Outcome:
    raised, donors = await pf.totals()
    detail = (
        await pf.app.get(f"/api/v1/orgs/{pf.org}/donations/{donation_id}", headers=pf.auth())
    ).json()
    assert await pf.sql_sum_counted() == raised
    return Outcome(
        detail["status"], raised - before[0], donors - before[1], detail["counted_minor"]
    )


def _payment_ref(provider: str, settled: dict[str, Any], checkout_id: str) -> str:
    return str(settled["payment_intent"]) if provider == "stripe" else checkout_id


async def _refund_external(pf: Platform, payment_ref: str, amount_minor: int | None) -> None:
    body: dict[str, Any] = {"payment_id": payment_ref}
    if amount_minor is not None:
        body["amount_minor"] = amount_minor
    r = await pf.sandbox.post("/control/refund-external", json=body)
    assert r.status_code == 200, r.text


async def _in_order(
    pf: Platform, redis: ArqRedis, provider: str, refund_minor: int | None
) -> Outcome:
    before = await pf.totals()
    co = await pf.checkout(provider, 5000)
    settled = await pf.settle(co.checkout_id, "paid")
    await pf.deliver_and_process(redis)
    await _refund_external(pf, _payment_ref(provider, settled, co.checkout_id), refund_minor)
    await pf.deliver_and_process(redis)
    return await _outcome(pf, co.donation_id, before)


@pytest.mark.parametrize("provider", ["stripe", "mollie"])
async def test_every_webhook_three_times_counts_once(
    pf: Platform, redis: ArqRedis, provider: str
) -> None:
    before = await pf.totals()
    co = await pf.checkout(provider, 2700)
    await pf.faults(webhook_duplicates=2)
    await pf.settle(co.checkout_id, "paid")
    await pf.deliver()
    deliveries = (await pf.sandbox.get("/control/webhooks", params={"provider": provider})).json()
    mine = [
        d
        for d in deliveries["deliveries"]
        if d["object_id"] == co.checkout_id or d["event_type"] == "checkout.session.completed"
    ]
    assert any(d["duplicate"] for d in mine), mine  # the fault did send copies
    await pf.process(redis)

    after = await _outcome(pf, co.donation_id, before)
    assert after == Outcome("paid", 2700, 1, 2700)


@pytest.mark.parametrize("provider", ["stripe", "mollie"])
@pytest.mark.parametrize("refund_minor", [1200, None], ids=["partial", "full"])
async def test_shuffled_duplicated_webhooks_end_as_in_order(
    pf: Platform, redis: ArqRedis, provider: str, refund_minor: int | None
) -> None:
    expected = await _in_order(pf, redis, provider, refund_minor)
    assert expected.status == ("partially_refunded" if refund_minor else "refunded")

    before = await pf.totals()
    co = await pf.checkout(provider, 5000)
    await pf.faults(webhook_duplicates=2, webhook_shuffle=True, seed=7)
    settled = await pf.settle(co.checkout_id, "paid")
    await _refund_external(pf, _payment_ref(provider, settled, co.checkout_id), refund_minor)
    await pf.deliver_and_process(redis)

    assert await _outcome(pf, co.donation_id, before) == expected


async def _stripe_events(
    pf: Platform, checkout_id: str, payment_intent: str
) -> list[dict[str, Any]]:
    r = await pf.sandbox.get(
        "/stripe/v1/events",
        params={"limit": 100},
        headers={"Authorization": f"Bearer {SANDBOX_KEY}", "Stripe-Account": "acct_sandboxAssoc1"},
    )
    assert r.status_code == 200, r.text
    out = []
    for event in r.json()["data"]:
        obj = event["data"]["object"]
        if checkout_id in (obj.get("id"), obj.get("checkout_session")) or payment_intent in (
            obj.get("id"),
            obj.get("payment_intent"),
        ):
            out.append({**event, "account": "acct_sandboxAssoc1"})
    return out


@pytest.mark.parametrize("refund_minor", [1200, None], ids=["partial", "full"])
async def test_charge_refunded_processed_before_checkout_completed(
    pf: Platform, redis: ArqRedis, refund_minor: int | None
) -> None:
    expected = await _in_order(pf, redis, "stripe", refund_minor)

    before = await pf.totals()
    co = await pf.checkout("stripe", 5000)
    await pf.faults(webhook_drop_ratio=1.0)  # the payment's webhooks are lost for now
    settled = await pf.settle(co.checkout_id, "paid")
    await pf.faults()
    await _refund_external(pf, settled["payment_intent"], refund_minor)
    await pf.deliver_and_process(redis)  # only the refund's webhooks arrived

    async with pf.runtime.pool.acquire() as conn:
        types = [
            r["event_type"]
            for r in await conn.fetch(
                "SELECT event_type FROM provider_events WHERE donation_ref = $1 ORDER BY id",
                co.donation_id,
            )
        ]
    assert "charge.refunded" in types, types
    assert "checkout.session.completed" not in types, types
    assert await pf.status(co.donation_id) == expected.status

    # The lost payment webhooks come in late (a provider retry), refunds first, in reverse.
    late = await _stripe_events(pf, co.checkout_id, settled["payment_intent"])
    assert any(e["type"] == "checkout.session.completed" for e in late), late
    for event in reversed(late):
        r = await pf.post_stripe(json.dumps(event).encode())
        assert r.status_code == 200, r.text
    await pf.process(redis)

    assert await _outcome(pf, co.donation_id, before) == expected
