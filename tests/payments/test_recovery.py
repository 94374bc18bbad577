"""Nothing lost: Redis flushed with events queued (the sweeper re-enqueues them), and dropped
webhooks caught up by the reconciliation cron or the donor's return page."""

from __future__ import annotations

import uuid

import pytest
from arq.connections import ArqRedis

from donate.jobs.relay import relay_once
from donate.webhooks.reconcile import reconcile
from tests.support.jobs import run_worker_burst
from tests.support.platform import Checkout, Platform


async def _event_rows(pf: Platform, donation_id: str) -> list[tuple[str, int]]:
    async with pf.runtime.pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT o.status, o.attempts FROM outbox o
               JOIN provider_events e ON o.task = 'provider_event.process'
                AND (o.payload->>'event_row_id')::bigint = e.id
               WHERE e.donation_ref = $1 OR e.payment_ref = (
                   SELECT provider_payment_id FROM payments WHERE donation_id = $2 LIMIT 1)
                  OR e.object_id = (
                   SELECT checkout_id FROM payments WHERE donation_id = $2 LIMIT 1)""",
            donation_id,
            uuid.UUID(donation_id),
        )
    return [(r["status"], r["attempts"]) for r in rows]


@pytest.mark.parametrize("provider", ["stripe", "mollie"])
async def test_redis_flushed_while_events_are_queued_loses_nothing(
    pf: Platform, redis: ArqRedis, provider: str
) -> None:
    before = await pf.totals()
    co = await pf.checkout(provider, 3700)
    await pf.settle(co.checkout_id, "paid")
    await pf.deliver()
    assert await relay_once(pf.runtime.pool, redis, stale_after_s=3600) >= 1
    rows = await _event_rows(pf, co.donation_id)
    assert rows and all(r == ("enqueued", 1) for r in rows), rows

    await redis.flushdb()  # every queued job is gone
    await run_worker_burst(pf.runtime, pf.redis_url)
    assert await _event_rows(pf, co.donation_id) == rows
    assert await pf.status(co.donation_id) == "pending"

    # The sweeper finds the rows that went stale and enqueues them again.
    assert await relay_once(pf.runtime.pool, redis, stale_after_s=0) >= len(rows)
    await run_worker_burst(pf.runtime, pf.redis_url)
    await pf.process(redis)

    assert {status for status, _ in await _event_rows(pf, co.donation_id)} == {"done"}
    assert await pf.status(co.donation_id) == "paid"
    assert await pf.totals() == (before[0] + 3700, before[1] + 1)


async def _paid_but_unheard(pf: Platform, redis: ArqRedis, provider: str, amount: int) -> Checkout:
    co = await pf.checkout(provider, amount)
    await pf.faults(webhook_drop_ratio=1.0)
    await pf.settle(co.checkout_id, "paid")
    await pf.deliver_and_process(redis)
    await pf.faults()
    deliveries = (await pf.sandbox.get("/control/webhooks", params={"provider": provider})).json()
    assert deliveries["deliveries"][-1]["status"] == "dropped"
    assert await pf.status(co.donation_id) == "pending"
    return co


async def _make_stale(pf: Platform, donation_id: str) -> None:
    async with pf.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE donations SET updated_at = now() - interval '1 hour' WHERE id = $1",
            uuid.UUID(donation_id),
        )


@pytest.mark.parametrize("provider", ["stripe", "mollie"])
async def test_dropped_webhook_is_caught_up_by_reconciliation(
    pf: Platform, redis: ArqRedis, provider: str
) -> None:
    before = await pf.totals()
    co = await _paid_but_unheard(pf, redis, provider, 2900)
    await _make_stale(pf, co.donation_id)

    counts = await reconcile(pf.runtime)
    assert counts["errors"] == 0, counts
    assert counts["refreshed"] >= 1, counts
    await pf.process(redis)

    assert await pf.status(co.donation_id) == "paid"
    assert await pf.totals() == (before[0] + 2900, before[1] + 1)
    # A second run finds nothing more to do and changes nothing.
    await reconcile(pf.runtime)
    await pf.process(redis)
    assert await pf.totals() == (before[0] + 2900, before[1] + 1)


async def test_stripe_undelivered_events_are_ingested_by_reconciliation(
    pf: Platform, redis: ArqRedis
) -> None:
    before = await pf.totals()
    co = await _paid_but_unheard(pf, redis, "stripe", 2300)  # recent: not a stale donation

    counts = await reconcile(pf.runtime)
    assert counts["events"] >= 1, counts
    await pf.process(redis)

    assert await pf.status(co.donation_id) == "paid"
    assert await pf.totals() == (before[0] + 2300, before[1] + 1)


@pytest.mark.parametrize("provider", ["stripe", "mollie"])
async def test_dropped_webhook_is_caught_up_by_the_return_page(
    pf: Platform, redis: ArqRedis, provider: str
) -> None:
    before = await pf.totals()
    co = await _paid_but_unheard(pf, redis, provider, 3300)

    r = await pf.app.get(f"/donations/{co.donation_id}/return", headers={"Accept-Language": "en"})
    assert r.status_code == 200, r.text
    assert 'data-status="paid"' in r.text
    assert "Thank you" in r.text

    assert await pf.status(co.donation_id) == "paid"
    assert await pf.totals() == (before[0] + 3300, before[1] + 1)
    await pf.process(redis)
    again = await pf.app.get(f"/donations/{co.donation_id}/return")
    assert again.status_code == 200
    assert await pf.totals() == (before[0] + 3300, before[1] + 1)


async def test_return_page_polls_while_pending_and_stops_once_settled(
    pf: Platform, redis: ArqRedis
) -> None:
    co = await pf.checkout("stripe")
    page = await pf.app.get(f"/donations/{co.donation_id}/return")
    assert 'http-equiv="refresh"' in page.text
    await pf.settle(co.checkout_id, "paid")
    page = await pf.app.get(f"/donations/{co.donation_id}/return")
    assert 'data-status="paid"' in page.text
    assert 'http-equiv="refresh"' not in page.text


async def test_return_page_shows_the_campaigns_thank_you_message_once_paid(
    pf: Platform, redis: ArqRedis
) -> None:
    """The association's own message from the campaign editor, escaped, only once paid."""
    message = "Merci <3 !\n\nVotre don plante 3 arbres."
    async with pf.runtime.pool.acquire() as conn:
        old = await conn.fetchval(
            "UPDATE campaigns SET thank_you_message = $2 WHERE id = $1::uuid "
            "RETURNING (SELECT thank_you_message FROM campaigns WHERE id = $1::uuid)",
            pf.campaign_id,
            message,
        )
    try:
        co = await pf.checkout("stripe")
        pending = await pf.app.get(f"/donations/{co.donation_id}/return")
        assert "plante 3 arbres" not in pending.text
        await pf.settle(co.checkout_id, "paid")
        paid = await pf.app.get(f"/donations/{co.donation_id}/return")
        assert '<p class="thanks">Merci &lt;3 !</p>' in paid.text
        assert '<p class="thanks">Votre don plante 3 arbres.</p>' in paid.text
    finally:
        async with pf.runtime.pool.acquire() as conn:
            await conn.execute(
                "UPDATE campaigns SET thank_you_message = $2 WHERE id = $1::uuid",
                pf.campaign_id,
                old,
            )
