"""The receipt follows every change of what the gift keeps, not only changes of status: a
second partial refund (the status stays ``partially_refunded``), and a second dispute after
one was won (the same transition twice). Found while building load_tests/fault_drill.py."""

from __future__ import annotations

import uuid

from arq.connections import ArqRedis

from tests.support.platform import Platform

from .helpers import paid_gift, receipts_of


async def _live(pf: Platform, donation_id: str) -> list[tuple[str, int]]:
    return [(x["status"], x["amount_minor"]) for x in await receipts_of(pf, donation_id)
            if x["status"] == "issued"]  # fmt: skip


async def test_a_second_partial_refund_reissues_the_receipt(pf: Platform, redis: ArqRedis) -> None:
    co = await paid_gift(pf, redis, "twice@example.org", 9000, provider="mollie")
    for amount, left in ((3000, 6000), (2000, 4000)):
        r = await pf.sandbox.post(
            "/control/refund-external", json={"payment_id": co.checkout_id, "amount_minor": amount}
        )
        assert r.status_code == 200, r.text
        await pf.deliver_and_process(redis)
        assert await pf.status(co.donation_id) == "partially_refunded"
        assert await _live(pf, co.donation_id) == [("issued", left)]
    numbers = [x["number"] for x in await receipts_of(pf, co.donation_id)]
    assert len(numbers) == len(set(numbers)) == 3  # issued, re-issued twice, never reused


async def test_a_second_dispute_cancels_the_receipt_again(pf: Platform, redis: ArqRedis) -> None:
    co = await paid_gift(pf, redis, "disputes@example.org", 4400, provider="mollie")
    for _ in range(2):
        r = await pf.sandbox.post("/control/chargeback", json={"payment_id": co.checkout_id})
        assert r.status_code == 200, r.text
        await pf.deliver_and_process(redis)
        assert await pf.status(co.donation_id) == "disputed"
        assert await _live(pf, co.donation_id) == []
        dispute_id = r.json()["id"]
        r = await pf.sandbox.post(
            "/control/dispute-close", json={"dispute_id": dispute_id, "won": True}
        )
        assert r.status_code == 200, r.text
        await pf.deliver_and_process(redis)
        assert await pf.status(co.donation_id) == "paid"
        assert await _live(pf, co.donation_id) == [("issued", 4400)]
    async with pf.runtime.pool.acquire() as conn:
        changes = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE task = 'donation.status_changed' "
            "AND payload->>'donation_id' = $1",
            str(uuid.UUID(co.donation_id)),
        )
    assert changes == 5  # paid, disputed, paid, disputed, paid
