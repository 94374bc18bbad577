"""The card-testing defence on Stripe: declined cards on open Checkout Sessions count.

A declined card leaves a Stripe Checkout Session open, so the donation stays pending; each
``payment_intent.payment_failed`` counts instead (``webhooks.declines``), once per declined
charge. Everything goes through the sandbox: ``control/settle`` with outcome "failed" is a
declined card on the hosted page, and may be repeated on the same open session.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis

from donate.providers.stripe_mapping import declined_charge
from donate.services import checkout_guard
from donate.webhooks.process import process_event
from tests.recurring.helpers import plan_of, renew
from tests.security.test_checkout_limits import LARGE, LIMITS, SMALL, assert_refused
from tests.support.platform import Checkout, Platform


@pytest.fixture
def guarded(pf: Platform, monkeypatch: pytest.MonkeyPatch) -> Platform:
    """Two failures from one client (four on a campaign) block; rate limits out of the way."""
    limits = {**LIMITS, "checkout_limit_per_ip": 100, "checkout_limit_per_campaign": 100}
    for name, value in limits.items():
        monkeypatch.setattr(pf.runtime.settings, name, value)
    return pf


async def post(pf: Platform, ip: str, amount: int = SMALL, **over: Any) -> httpx.Response:
    body = pf.checkout_body(amount, provider="stripe", **over)
    return await pf.app.post("/api/v1/checkouts", json=body, headers={"X-Forwarded-For": ip})


async def checkout(pf: Platform, ip: str, amount: int = SMALL, **over: Any) -> Checkout:
    r = await post(pf, ip, amount, **over)
    assert r.status_code == 201, r.text
    data = r.json()
    cs_id = str(data["checkout_url"]).rsplit("/", 1)[1]
    assert cs_id.startswith("cs_"), cs_id
    return Checkout(str(data["donation_id"]), cs_id, amount)


async def failures_of(pf: Platform, redis: ArqRedis, ip: str) -> int:
    client = checkout_guard.client_key(pf.runtime.settings, ip)
    return int(await redis.zcard(f"{checkout_guard.PREFIX}failed:ip:{client}"))


async def decline_events(pf: Platform, donation_id: str) -> list[tuple[int, str]]:
    async with pf.runtime.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT id, event_id FROM provider_events WHERE provider = 'stripe' "
            "AND event_type = 'payment_intent.payment_failed' AND donation_ref = $1 ORDER BY id",
            donation_id,
        )
    return [(r["id"], r["event_id"]) for r in rows]


async def processed_declines(pf: Platform) -> int:
    async with pf.runtime.pool.acquire() as conn:
        found: int = await conn.fetchval(
            "SELECT count(*) FROM provider_events WHERE provider = 'stripe' "
            "AND event_type = 'payment_intent.payment_failed' AND processed_at IS NOT NULL"
        )
    return found


async def test_declined_cards_block_small_checkouts_from_that_client(
    guarded: Platform, redis: ArqRedis
) -> None:
    pf = guarded
    first = await checkout(pf, "198.51.100.1")
    await pf.settle(first.checkout_id, "failed")
    await pf.deliver_and_process(redis)
    # The session stays open for another card: the donation stays pending.
    assert await pf.status(first.donation_id) == "pending"
    assert await failures_of(pf, redis, "198.51.100.1") == 1
    # A declined large gift is not card testing.
    large = await checkout(pf, "198.51.100.1", LARGE)
    await pf.settle(large.checkout_id, "failed")
    await pf.deliver_and_process(redis)
    assert await failures_of(pf, redis, "198.51.100.1") == 1
    assert (await post(pf, "198.51.100.1")).status_code == 201

    second = await checkout(pf, "198.51.100.1")
    await pf.settle(second.checkout_id, "failed")
    await pf.deliver_and_process(redis)
    assert await pf.status(second.donation_id) == "pending"
    retry_after = assert_refused(await post(pf, "198.51.100.1"), card_testing=True)
    assert 540 <= retry_after <= 600  # the cool-down
    assert (await post(pf, "198.51.100.1", LARGE)).status_code == 201
    assert (await post(pf, "198.51.100.2")).status_code == 201
    # The donor whose card was declined can still pay on the open session.
    await pf.settle(first.checkout_id, "paid")
    await pf.deliver_and_process(redis)
    assert await pf.status(first.donation_id) == "paid"


async def test_several_declines_on_one_session_count_each(
    guarded: Platform, redis: ArqRedis
) -> None:
    pf = guarded
    co = await checkout(pf, "198.51.100.7")
    for _ in range(3):
        await pf.settle(co.checkout_id, "failed")
    await pf.deliver_and_process(redis)
    assert await pf.status(co.donation_id) == "pending"
    assert len(await decline_events(pf, co.donation_id)) == 3
    assert await failures_of(pf, redis, "198.51.100.7") == 3
    assert_refused(await post(pf, "198.51.100.7"), card_testing=True)
    # Declines on several sessions of one campaign, from several clients, block the campaign.
    co2 = await checkout(pf, "198.51.100.8")
    await pf.settle(co2.checkout_id, "failed")
    await pf.deliver_and_process(redis)
    assert_refused(await post(pf, "198.51.100.9"), card_testing=True)
    other = str(pf.seeded["campaigns"][1]["id"])
    r = await post(pf, "198.51.100.9", 500, campaign_id=other)  # its minimum is 500
    assert r.status_code == 201, r.text


async def test_a_decline_counts_once_however_often_it_is_delivered_or_processed(
    guarded: Platform, redis: ArqRedis
) -> None:
    pf = guarded
    await pf.faults(webhook_duplicates=2)
    co = await checkout(pf, "198.51.100.20")
    await pf.settle(co.checkout_id, "failed")
    await pf.deliver_and_process(redis)
    [(row_id, _)] = await decline_events(pf, co.donation_id)  # stored once, at ingest
    assert await failures_of(pf, redis, "198.51.100.20") == 1
    assert (await post(pf, "198.51.100.20")).status_code == 201

    # The job runs again (say it crashed after counting, before marking the event done):
    # the Redis count is idempotent per declined charge.
    async with pf.runtime.pool.acquire() as conn:
        await conn.execute("UPDATE provider_events SET processed_at = NULL WHERE id = $1", row_id)
    outcome = await process_event(pf.runtime, row_id)
    assert "decline ch_" in outcome and "counted" in outcome, outcome
    assert await failures_of(pf, redis, "198.51.100.20") == 1
    # A second decline on the same session is another attempt: it counts, and blocks.
    await pf.settle(co.checkout_id, "failed")
    await pf.deliver_and_process(redis)
    assert await failures_of(pf, redis, "198.51.100.20") == 2
    assert_refused(await post(pf, "198.51.100.20"), card_testing=True)


async def test_an_event_without_its_body_counts_by_event_id(
    guarded: Platform, redis: ArqRedis
) -> None:
    """Events caught up by reconciliation are stored without their body: the event id is the
    attempt then, still once per event."""
    pf = guarded
    co = await checkout(pf, "198.51.100.30")
    await pf.settle(co.checkout_id, "failed")
    await pf.deliver()
    [(row_id, event_id)] = await decline_events(pf, co.donation_id)
    async with pf.runtime.pool.acquire() as conn:
        await conn.execute("UPDATE provider_events SET payload = '{}' WHERE id = $1", row_id)
    await pf.process(redis)
    client = checkout_guard.client_key(pf.runtime.settings, "198.51.100.30")
    members = await redis.zrange(f"{checkout_guard.PREFIX}failed:ip:{client}", 0, -1)
    assert members == [event_id.encode()]


async def test_a_debit_that_fails_after_checkout_counts_once(
    guarded: Platform, redis: ArqRedis
) -> None:
    """A SEPA debit returned after the session completed fails the donation for good: the
    status change counts it (as for Mollie), and its payment_failed event does not again."""
    pf = guarded
    co = await checkout(pf, "198.51.100.40")
    await pf.settle(co.checkout_id, "pending", method="sepa_debit")
    await pf.deliver_and_process(redis)
    await pf.settle(co.checkout_id, "failed")
    await pf.deliver_and_process(redis)
    assert await pf.status(co.donation_id) == "failed"
    assert len(await decline_events(pf, co.donation_id)) == 1
    client = checkout_guard.client_key(pf.runtime.settings, "198.51.100.40")
    members = await redis.zrange(f"{checkout_guard.PREFIX}failed:ip:{client}", 0, -1)
    assert members == [co.donation_id.encode()]


async def test_failed_renewals_of_a_small_plan_do_not_count(
    guarded: Platform, redis: ArqRedis
) -> None:
    """Renewals are charged off-session, with nobody at a checkout, and have their own
    dunning: neither their payment_failed events nor their failed donations count (a plan
    started on Mollie behaves the same: its renewals were never checkouts)."""
    pf = guarded
    co = await checkout(pf, "198.51.100.50", frequency="monthly")
    await pf.settle(co.checkout_id, "paid")
    await pf.deliver_and_process(redis)
    plan = await plan_of(pf, co.donation_id)
    declines_before = await processed_declines(pf)
    for _ in range(2):
        await renew(pf, plan["provider_subscription_id"], "failed")
    await pf.deliver_and_process(redis)
    declines = await processed_declines(pf) - declines_before
    async with pf.runtime.pool.acquire() as conn:
        failed = await conn.fetchval(
            "SELECT count(*) FROM donations WHERE recurring_plan_id = $1 AND status = 'failed'",
            uuid.UUID(plan["id"]),
        )
    assert declines == 2 and failed >= 1, (declines, failed)
    assert await failures_of(pf, redis, "198.51.100.50") == 0
    assert (await post(pf, "198.51.100.50")).status_code == 201


async def test_a_plan_whose_first_debit_fails_counts_once_like_mollie(
    guarded: Platform, redis: ArqRedis
) -> None:
    """A plan's first payment is taken at checkout: when it fails for good, its donation
    fails and counts once (the status path, as on Mollie), not again as a decline."""
    pf = guarded
    co = await checkout(pf, "198.51.100.60", frequency="monthly")
    await pf.settle(co.checkout_id, "pending", method="sepa_debit")
    await pf.deliver_and_process(redis)
    declines_before = await processed_declines(pf)
    await pf.settle(co.checkout_id, "failed")
    await pf.deliver_and_process(redis)
    assert await processed_declines(pf) - declines_before == 1
    assert await pf.status(co.donation_id) == "failed"
    client = checkout_guard.client_key(pf.runtime.settings, "198.51.100.60")
    members = await redis.zrange(f"{checkout_guard.PREFIX}failed:ip:{client}", 0, -1)
    assert members == [co.donation_id.encode()]


def test_the_declined_charge_is_the_one_the_error_names() -> None:
    def event(obj: dict[str, Any]) -> dict[str, Any]:
        return {"id": "evt_1", "type": "payment_intent.payment_failed", "data": {"object": obj}}

    error = {"code": "card_declined", "charge": "ch_2"}
    assert declined_charge(event({"last_payment_error": error, "latest_charge": "ch_2"})) == "ch_2"
    # No charge in the error (an authentication that failed): the latest one is older.
    no_charge = {"code": "payment_intent_authentication_failure"}
    assert (
        declined_charge(event({"last_payment_error": no_charge, "latest_charge": "ch_1"})) is None
    )
    assert declined_charge({}) is None and declined_charge([]) is None
