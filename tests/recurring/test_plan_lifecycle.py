"""A recurring gift from checkout to its renewals, failures and end, through the sandbox."""

from __future__ import annotations

from arq.connections import ArqRedis

from tests.support.platform import Platform

from .helpers import plan, renew_and_process, start_plan


async def test_stripe_monthly_checkout_starts_an_active_plan(pf: Platform, redis: ArqRedis) -> None:
    raised0, _ = await pf.totals()
    co, p = await start_plan(pf, redis, "stripe", 1500, email="first@recurring.example")
    assert p["status"] == "active" and p["frequency"] == "monthly"
    assert p["provider_subscription_id"].startswith("sub_")
    assert (p["amount_minor"], p["charged_minor"]) == (1500, 1500)
    assert p["payment_method"]["kind"] == "card" and p["payment_method"]["last4"] == "4242"
    assert p["next_charge_date"] is not None
    assert [d["id"] for d in p["donations"]] == [co.donation_id]
    assert await pf.status(co.donation_id) == "paid"
    assert (await pf.totals())[0] - raised0 == 1500
    await renew_and_process(pf, redis, p["provider_subscription_id"], "failed")
    failing = await plan(pf, p["id"])
    assert failing["status"] == "failing" and failing["failure_count"] == 1
    await renew_and_process(pf, redis, p["provider_subscription_id"], "paid")
    back = await plan(pf, p["id"])
    assert back["status"] == "active" and back["failure_count"] == 0
    assert [d["status"] for d in back["donations"]] == ["paid", "paid"]
    assert (await pf.totals())[0] - raised0 == 3000


async def test_mollie_first_payment_starts_the_subscription_and_renewals_follow(
    pf: Platform, redis: ArqRedis
) -> None:
    raised0, _ = await pf.totals()
    co, p = await start_plan(pf, redis, "mollie", 1000, email="mollie@recurring.example")
    assert p["status"] == "active" and p["provider_subscription_id"].startswith("sub_")
    sub = p["provider_subscription_id"]
    assert p["payment_method"]["kind"] == "card"
    await renew_and_process(pf, redis, sub, "paid")
    await renew_and_process(pf, redis, sub, "failed")
    failing = await plan(pf, p["id"])
    assert failing["status"] == "failing" and failing["failure_count"] == 1
    await renew_and_process(pf, redis, sub, "paid")
    back = await plan(pf, p["id"])
    assert back["status"] == "active"
    assert [d["status"] for d in back["donations"]] == ["paid", "paid", "failed", "paid"]
    assert back["donations"][0]["id"] == co.donation_id
    assert (await pf.totals())[0] - raised0 == 3000
    # Mollie never retries: three failed cycles in a row lapse the plan and stop the debits.
    for _ in range(3):
        await renew_and_process(pf, redis, sub, "failed")
    lapsed = await plan(pf, p["id"])
    assert lapsed["status"] == "lapsed" and lapsed["ended_by"] == "dunning"
    r = await pf.sandbox.post("/control/renew", json={"subscription_id": sub, "outcome": "paid"})
    assert r.status_code == 409


async def test_plan_whose_first_checkout_expires_unpaid_ends_canceled(
    pf: Platform, redis: ArqRedis
) -> None:
    """The donor walked away from the first checkout: the plan never started, so it does
    not linger as pending (nor count in the association's plans to watch)."""
    from datetime import UTC, datetime, timedelta
    from uuid import UUID

    from donate.webhooks.reconcile import refresh_or_expire
    from tests.support.platform import donor

    co = await pf.checkout(
        "stripe", 1200, frequency="monthly", donor=donor(email="gone@recurring.example")
    )
    later = datetime.now(UTC) + timedelta(days=2)
    assert await refresh_or_expire(pf.runtime, UUID(co.donation_id), now=later) == "canceled"
    async with pf.runtime.pool.acquire() as conn:
        plan_id = await conn.fetchval(
            "SELECT id FROM recurring_plans WHERE first_donation_id = $1", UUID(co.donation_id)
        )
    p = await plan(pf, str(plan_id))
    assert p["status"] == "canceled"
    assert (p["history"][-1]["status"], p["history"][-1]["source"]) == ("canceled", "reconcile")
