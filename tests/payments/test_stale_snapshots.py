"""A snapshot re-fetched before a refund or a dispute and applied after it (two workers on two
webhooks of one payment, one slower than the other) must not undo it. Found by
load_tests/fault_drill.py: gifts refunded at the provider ended up paid, their receipt live."""

from __future__ import annotations

import uuid

import pytest
from arq.connections import ArqRedis

from donate.providers.base import PaymentSnapshot
from donate.services import payments
from tests.support.platform import Checkout, Platform


async def _fetch(pf: Platform, co: Checkout, provider: str) -> PaymentSnapshot:
    """What a worker holds after re-fetching the payment, as ``webhooks.process`` does."""
    async with pf.runtime.pool.acquire() as conn:
        org_id = await conn.fetchval(
            "SELECT organization_id FROM donations WHERE id = $1", uuid.UUID(co.donation_id)
        )
        account = await payments.connected_account(conn, pf.runtime, org_id, provider)
    return await pf.runtime.provider(provider).fetch_payment(account, co.checkout_id)


async def _live_receipts(pf: Platform, donation_id: str) -> list[int]:
    async with pf.runtime.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT amount_minor FROM receipt_donations WHERE donation_id = $1 AND active",
            uuid.UUID(donation_id),
        )
    return [r["amount_minor"] for r in rows]


async def _history(pf: Platform, donation_id: str) -> list[str]:
    async with pf.runtime.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT to_status FROM donation_status_history WHERE donation_id = $1 ORDER BY id",
            uuid.UUID(donation_id),
        )
    return [r["to_status"] for r in rows]


@pytest.mark.parametrize("provider", ["stripe", "mollie"])
async def test_a_snapshot_from_before_a_refund_cannot_undo_it(
    pf: Platform, redis: ArqRedis, provider: str
) -> None:
    co = await pf.checkout(provider, 4200)
    settled = await pf.settle(co.checkout_id, "paid")
    await pf.deliver_and_process(redis)
    slow_worker = await _fetch(pf, co, provider)  # paid, nothing refunded yet

    ref = settled.get("payment_intent") or co.checkout_id
    r = await pf.sandbox.post("/control/refund-external", json={"payment_id": ref})
    assert r.status_code == 200, r.text
    await pf.deliver_and_process(redis)
    assert await pf.status(co.donation_id) == "refunded"
    assert await _live_receipts(pf, co.donation_id) == []
    before = await pf.totals()

    applied = await payments.apply(pf.runtime, slow_worker, source="webhook")
    await pf.process(redis)

    assert (applied.changed, applied.reason) == (False, "stale snapshot")
    assert await pf.status(co.donation_id) == "refunded"
    assert await pf.totals() == before
    assert await _live_receipts(pf, co.donation_id) == []
    assert await _history(pf, co.donation_id) == ["pending", "paid", "refunded"]


async def test_a_snapshot_from_before_a_partial_refund_cannot_undo_it(
    pf: Platform, redis: ArqRedis
) -> None:
    co = await pf.checkout("mollie", 9000)
    await pf.settle(co.checkout_id, "paid")
    await pf.deliver_and_process(redis)
    slow_worker = await _fetch(pf, co, "mollie")
    r = await pf.sandbox.post(
        "/control/refund-external", json={"payment_id": co.checkout_id, "amount_minor": 3000}
    )
    assert r.status_code == 200, r.text
    await pf.deliver_and_process(redis)
    assert await _live_receipts(pf, co.donation_id) == [6000]

    applied = await payments.apply(pf.runtime, slow_worker, source="webhook")
    await pf.process(redis)

    assert not applied.changed
    assert await pf.status(co.donation_id) == "partially_refunded"
    assert await pf.sql_sum_counted() == (await pf.totals())[0]
    assert await _live_receipts(pf, co.donation_id) == [6000]


async def test_a_snapshot_from_before_a_dispute_cannot_undo_it(
    pf: Platform, redis: ArqRedis
) -> None:
    co = await pf.checkout("mollie", 5100)
    await pf.settle(co.checkout_id, "paid")
    await pf.deliver_and_process(redis)
    slow_worker = await _fetch(pf, co, "mollie")
    r = await pf.sandbox.post("/control/chargeback", json={"payment_id": co.checkout_id})
    assert r.status_code == 200, r.text
    await pf.deliver_and_process(redis)
    assert await pf.status(co.donation_id) == "disputed"

    applied = await payments.apply(pf.runtime, slow_worker, source="webhook")

    assert not applied.changed
    assert await pf.status(co.donation_id) == "disputed"
    assert await _live_receipts(pf, co.donation_id) == []
