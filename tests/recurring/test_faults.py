"""The issue's faults: renewal events duplicated, shuffled or late; a subscription canceled in
the provider's dashboard; a chargeback on a renewal; dunning until the plan lapses."""

from __future__ import annotations

from typing import Any

import pytest
from arq.connections import ArqRedis

from donate.providers.base import ConnectedAccount
from donate.services import recurring_reminders
from donate.webhooks.process import process_event
from tests.support.platform import Platform, SmtpOutbox

from .helpers import plan, renew, renew_and_process, start_plan

ACCOUNTS = {
    "stripe": ConnectedAccount("stripe", "acct_sandboxAssoc1"),
    "mollie": ConnectedAccount("mollie", "pfl_sandboxAssoc1", "test_sandboxAssoc1key"),
}


def _story(p: dict[str, Any]) -> dict[str, Any]:
    """The plan without its ids: what must not depend on how the events arrived."""
    return {
        "status": p["status"],
        "failure_count": p["failure_count"],
        "amount_minor": p["amount_minor"],
        "collected_minor": p["collected_minor"],
        "cycles": [(d["status"], d["amount_minor"], d["counted_minor"]) for d in p["donations"]],
    }


async def _run(pf: Platform, redis: ArqRedis, provider: str, email: str) -> dict[str, Any]:
    before = await pf.totals()
    _, p = await start_plan(pf, redis, provider, 1200, email=email)
    for outcome in ("paid", "failed", "paid", "paid"):
        await renew_and_process(pf, redis, p["provider_subscription_id"], outcome)
    after = await pf.totals()
    assert after[0] == await pf.sql_sum_counted()
    return {**_story(await plan(pf, p["id"])), "raised": after[0] - before[0]}


@pytest.mark.parametrize("provider", ["stripe", "mollie"])
async def test_duplicated_and_shuffled_renewal_events_converge(
    pf: Platform, redis: ArqRedis, provider: str
) -> None:
    calm = await _run(pf, redis, provider, f"calm-{provider}@recurring.example")
    await pf.faults(webhook_duplicates=2, webhook_shuffle=True, seed=7)
    stormy = await _run(pf, redis, provider, f"stormy-{provider}@recurring.example")
    assert stormy == calm
    assert calm["raised"] == 4 * 1200
    # Stripe retries the failed invoice (one cycle, recovered); Mollie's failed cycle stays.
    failed = [c for c in calm["cycles"] if c[0] == "failed"]
    assert len(failed) == (0 if provider == "stripe" else 1)


async def test_events_processed_backwards_give_the_same_final_state(
    pf: Platform, redis: ArqRedis
) -> None:
    """A renewal heard of before the subscription's update, and a deleted subscription
    followed by a late ``invoice.paid``: processed newest first, the state is the same."""
    _, p = await start_plan(pf, redis, "stripe", 900, email="backwards@recurring.example")
    sub = p["provider_subscription_id"]
    async with pf.runtime.pool.acquire() as conn:
        mark = await conn.fetchval("SELECT coalesce(max(id), 0) FROM provider_events")
    await renew(pf, sub, "paid")
    await renew(pf, sub, "failed")
    await renew(pf, sub, "paid")
    await pf.runtime.provider("stripe").cancel_subscription(ACCOUNTS["stripe"], sub)
    await pf.deliver()  # stored, not processed yet
    async with pf.runtime.pool.acquire() as conn:
        ids = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id, event_type FROM provider_events WHERE id > $1 ORDER BY id DESC", mark
            )
        ]
        types = await conn.fetch("SELECT event_type FROM provider_events WHERE id > $1", mark)
    assert {"customer.subscription.deleted", "invoice.paid"} <= {t["event_type"] for t in types}
    for row_id in ids:
        await process_event(pf.runtime, row_id)
    await pf.process(redis)
    final = await plan(pf, p["id"])
    assert (final["status"], final["ended_by"]) == ("canceled", "provider")
    assert [d["status"] for d in final["donations"]] == ["paid", "paid", "paid"]
    assert final["collected_minor"] == 2700


@pytest.mark.parametrize("provider", ["stripe", "mollie"])
async def test_subscription_canceled_in_the_provider_dashboard(
    pf: Platform, redis: ArqRedis, provider: str
) -> None:
    _, p = await start_plan(pf, redis, provider, 800, email=f"dash-{provider}@recurring.example")
    await renew_and_process(pf, redis, p["provider_subscription_id"], "paid")
    adapter = pf.runtime.provider(provider)
    await adapter.cancel_subscription(ACCOUNTS[provider], p["provider_subscription_id"])
    await pf.deliver_and_process(redis)
    if provider == "mollie":
        # Mollie sends no webhook for this: the hourly catch-up finds it.
        assert (await plan(pf, p["id"]))["status"] == "active"
        assert await recurring_reminders.queue_stale_syncs(pf.runtime, older_than_s=0) >= 1
        await pf.process(redis)
    final = await plan(pf, p["id"])
    assert (final["status"], final["ended_by"]) == ("canceled", "provider")
    assert final["collected_minor"] == 1600  # nothing refunded


@pytest.mark.parametrize("provider", ["stripe", "mollie"])
async def test_chargeback_on_a_renewal(pf: Platform, redis: ArqRedis, provider: str) -> None:
    before = await pf.totals()
    _, p = await start_plan(pf, redis, provider, 1100, email=f"chb-{provider}@recurring.example")
    renewal = await renew_and_process(pf, redis, p["provider_subscription_id"], "paid")
    ref = renewal["payment_intent"] if provider == "stripe" else renewal["id"]
    r = await pf.sandbox.post("/control/chargeback", json={"payment_id": ref})
    assert r.status_code == 200, r.text
    await pf.deliver_and_process(redis)
    after = await plan(pf, p["id"])
    assert [d["status"] for d in after["donations"]] == ["paid", "disputed"]
    assert after["collected_minor"] == 1100 and after["status"] == "active"
    assert (await pf.totals())[0] - before[0] == 1100
    assert await pf.sql_sum_counted() == (await pf.totals())[0]


async def test_stripe_dunning_mails_each_attempt_then_lapses(
    pf: Platform, redis: ArqRedis, smtp_outbox: SmtpOutbox
) -> None:
    email = "dunning@recurring.example"
    _, p = await start_plan(pf, redis, "stripe", 700, email=email)
    for attempt in range(1, 5):
        await renew_and_process(pf, redis, p["provider_subscription_id"], "failed")
        state = await plan(pf, p["id"])
        if attempt < 4:
            assert (state["status"], state["failure_count"]) == ("failing", attempt)
    assert (state["status"], state["ended_by"]) == ("lapsed", "dunning")
    subjects = [m["Subject"] for m in smtp_outbox.messages(to=email)]
    assert sum("pas pu être prélevé" in s for s in subjects) == 3
    assert sum("interrompu" in s for s in subjects) == 1
    await pf.deliver_and_process(redis)  # replayed events mail nothing more
    assert len(smtp_outbox.messages(to=email)) == len(subjects)
    r = await pf.app.get(
        f"/api/v1/orgs/{pf.org}/recurring-plans", params={"status": "lapsed"}, headers=pf.auth()
    )
    assert p["id"] in [x["id"] for x in r.json()["items"]]
