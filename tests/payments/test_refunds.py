"""Refunds from the association API (partial, then the rest), tenant isolation, chargebacks:
each moves the status and the campaign totals by exactly the money that left."""

from __future__ import annotations

import pytest
from arq.connections import ArqRedis

from tests.support.platform import Checkout, Platform


async def _paid(pf: Platform, redis: ArqRedis, provider: str, amount: int) -> Checkout:
    co = await pf.checkout(provider, amount)
    await pf.settle(co.checkout_id, "paid")
    await pf.deliver_and_process(redis)
    assert await pf.status(co.donation_id) == "paid"
    return co


def _refund_url(pf: Platform, donation_id: str, org: str | None = None) -> str:
    return f"/api/v1/orgs/{org or pf.org}/donations/{donation_id}/refund"


@pytest.mark.parametrize("provider", ["stripe", "mollie"])
async def test_partial_then_full_refund_through_the_api(
    pf: Platform, redis: ArqRedis, provider: str
) -> None:
    co = await _paid(pf, redis, provider, 6000)
    raised, donors = await pf.totals()

    r = await pf.app.post(
        _refund_url(pf, co.donation_id), json={"amount_minor": 2500}, headers=pf.auth()
    )
    assert r.status_code == 201, r.text
    assert r.json()["amount_minor"] == 2500
    await pf.deliver_and_process(redis)
    assert await pf.status(co.donation_id) == "partially_refunded"
    assert await pf.totals() == (raised - 2500, donors)

    too_much = await pf.app.post(
        _refund_url(pf, co.donation_id), json={"amount_minor": 3501}, headers=pf.auth()
    )
    assert too_much.status_code == 422, too_much.text
    assert "amount_minor" in too_much.json()["errors"]

    rest = await pf.app.post(_refund_url(pf, co.donation_id), headers=pf.auth())
    assert rest.status_code == 201, rest.text
    assert rest.json()["amount_minor"] == 3500
    await pf.deliver_and_process(redis)
    assert await pf.status(co.donation_id) == "refunded"
    assert await pf.totals() == (raised - 6000, donors - 1)
    assert await pf.sql_sum_counted() == raised - 6000

    again = await pf.app.post(_refund_url(pf, co.donation_id), headers=pf.auth())
    assert again.status_code == 409, again.text
    [payment] = [
        p
        for p in (await pf.ledger())["payments"]
        if p.get("metadata", {}).get("donation_id") == co.donation_id
    ]
    assert payment["refunded_minor"] == 6000


@pytest.mark.parametrize("amount", [0, -100, 10.5, "100"])
async def test_bad_refund_amounts_are_422(pf: Platform, redis: ArqRedis, amount: object) -> None:
    co = await _paid(pf, redis, "stripe", 1000)
    r = await pf.app.post(
        _refund_url(pf, co.donation_id), json={"amount_minor": amount}, headers=pf.auth()
    )
    assert r.status_code == 422, r.text
    assert "amount_minor" in r.json()["errors"]
    assert await pf.status(co.donation_id) == "paid"


async def test_another_association_cannot_see_or_refund(pf: Platform, redis: ArqRedis) -> None:
    co = await _paid(pf, redis, "stripe", 2200)
    totals = await pf.totals()
    other = pf.seeded["other_org"]
    other_auth = pf.auth(other["api_key"])

    # The other association's key, through its own org path and through ours.
    for org in (other["org_slug"], pf.org):
        refund = await pf.app.post(
            _refund_url(pf, co.donation_id, org), json={}, headers=other_auth
        )
        assert refund.status_code in (403, 404), refund.text
        seen = await pf.app.get(
            f"/api/v1/orgs/{org}/donations/{co.donation_id}", headers=other_auth
        )
        assert seen.status_code in (403, 404), seen.text
    own_path = await pf.app.get(
        f"/api/v1/orgs/{other['org_slug']}/donations/{co.donation_id}", headers=other_auth
    )
    assert own_path.status_code == 404, own_path.text

    missing = await pf.app.post(_refund_url(pf, co.donation_id), json={})
    assert missing.status_code == 401, missing.text
    wrong = await pf.app.post(
        _refund_url(pf, co.donation_id), json={}, headers=pf.auth("dk_live_nope")
    )
    assert wrong.status_code == 401, wrong.text

    await pf.process(redis)
    assert await pf.status(co.donation_id) == "paid"
    assert await pf.totals() == totals


@pytest.mark.parametrize("provider", ["stripe", "mollie"])
async def test_chargeback_marks_disputed_and_takes_the_money_out(
    pf: Platform, redis: ArqRedis, provider: str
) -> None:
    co = await _paid(pf, redis, provider, 4500)
    raised, donors = await pf.totals()
    payment_ref = await pf.payment_id(co.donation_id)

    r = await pf.sandbox.post("/control/chargeback", json={"payment_id": payment_ref})
    assert r.status_code == 200, r.text
    await pf.deliver_and_process(redis)

    assert await pf.status(co.donation_id) == "disputed"
    assert await pf.totals() == (raised - 4500, donors - 1)
    assert await pf.sql_sum_counted() == raised - 4500
    refused = await pf.app.post(_refund_url(pf, co.donation_id), headers=pf.auth())
    assert refused.status_code == 409, refused.text
