"""Done when: a checkout through each provider, settled paid, shows the donation paid and the
campaign total up by the gift; replaying the webhooks changes nothing. SEPA waits."""

from __future__ import annotations

import pytest
from arq.connections import ArqRedis

from tests.support.platform import Platform


async def _replay(pf: Platform, provider: str, donation_id: str, checkout_id: str) -> int:
    """Send every webhook of this payment again, as the provider would on a retry."""
    if provider == "stripe":
        events = await pf.stripe_events_of(donation_id)
        for raw in events:
            r = await pf.post_stripe(raw)  # a fresh signature, the same event
            assert r.status_code == 200, r.text
            assert r.json()["duplicate"] is True
        return len(events)
    payment_id = await pf.payment_id(donation_id)
    for ref in {checkout_id, payment_id}:
        r = await pf.app.post(
            "/webhooks/mollie",
            content=f"id={ref}".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 200, r.text
    return 1


@pytest.mark.parametrize("provider", ["stripe", "mollie"])
async def test_paid_checkout_counts_once_and_replays_change_nothing(
    pf: Platform, redis: ArqRedis, provider: str
) -> None:
    raised, donors = await pf.totals()
    co = await pf.checkout(provider, 4200)
    assert await pf.status(co.donation_id) == "pending"

    await pf.settle(co.checkout_id, "paid")
    await pf.deliver_and_process(redis)

    assert await pf.status(co.donation_id) == "paid"
    assert await pf.totals() == (raised + 4200, donors + 1)
    history = (
        await pf.app.get(f"/api/v1/orgs/{pf.org}/donations/{co.donation_id}", headers=pf.auth())
    ).json()["history"]
    assert [h["status"] for h in history] == ["pending", "paid"]

    assert await _replay(pf, provider, co.donation_id, co.checkout_id) >= 1
    await pf.process(redis)

    assert await pf.status(co.donation_id) == "paid"
    assert await pf.totals() == (raised + 4200, donors + 1)
    assert await pf.sql_sum_counted() == raised + 4200
    history = (
        await pf.app.get(f"/api/v1/orgs/{pf.org}/donations/{co.donation_id}", headers=pf.auth())
    ).json()["history"]
    assert len(history) == 2


@pytest.mark.parametrize("provider", ["stripe", "mollie"])
async def test_sepa_debit_stays_pending_until_the_bank_pays(
    pf: Platform, redis: ArqRedis, provider: str
) -> None:
    raised, donors = await pf.totals()
    co = await pf.checkout(provider, 3000, method="sepa_debit")

    await pf.settle(co.checkout_id, "pending", method="sepa_debit")
    await pf.deliver_and_process(redis)
    assert await pf.status(co.donation_id) == "pending"
    assert await pf.totals() == (raised, donors)

    await pf.settle(co.checkout_id, "paid", method="sepa_debit")
    await pf.deliver_and_process(redis)
    assert await pf.status(co.donation_id) == "paid"
    assert await pf.totals() == (raised + 3000, donors + 1)
    detail = (
        await pf.app.get(f"/api/v1/orgs/{pf.org}/donations/{co.donation_id}", headers=pf.auth())
    ).json()
    # Each provider's own name for SEPA Direct Debit (the adapters do not normalise it).
    assert detail["method"] == {"stripe": "sepa_debit", "mollie": "directdebit"}[provider]
