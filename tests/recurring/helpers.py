"""Helpers of the recurring-gift tests: plans through checkout, renewals in the sandbox."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from arq.connections import ArqRedis

from tests.support.platform import Checkout, Platform, SmtpOutbox, donor


async def start_plan(
    pf: Platform,
    redis: ArqRedis,
    provider: str = "stripe",
    amount: int = 1500,
    *,
    email: str = "ada@recurring.example",
    frequency: str = "monthly",
    method: str | None = None,
    **settle: Any,
) -> tuple[Checkout, dict[str, Any]]:
    """A recurring gift through checkout, its first payment paid, everything processed."""
    co = await pf.checkout(provider, amount, frequency=frequency, donor=donor(email=email))
    extra = {"method": method} if method else {}
    await pf.settle(co.checkout_id, "paid", **extra, **settle)
    await pf.deliver_and_process(redis)
    plan = await plan_of(pf, co.donation_id)
    return co, plan


async def plan_of(pf: Platform, first_donation_id: str) -> dict[str, Any]:
    async with pf.runtime.pool.acquire() as conn:
        plan_id = await conn.fetchval(
            "SELECT id FROM recurring_plans WHERE first_donation_id = $1",
            uuid.UUID(first_donation_id),
        )
    assert plan_id is not None
    return await plan(pf, str(plan_id))


async def plan(pf: Platform, plan_id: str, key: str | None = None) -> dict[str, Any]:
    r = await pf.app.get(f"/api/v1/orgs/{pf.org}/recurring-plans/{plan_id}", headers=pf.auth(key))
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


async def renew(pf: Platform, subscription_id: str, outcome: str = "paid") -> dict[str, Any]:
    r = await pf.sandbox.post(
        "/control/renew", json={"subscription_id": subscription_id, "outcome": outcome}
    )
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


async def renew_and_process(
    pf: Platform, redis: ArqRedis, subscription_id: str, outcome: str = "paid"
) -> dict[str, Any]:
    data = await renew(pf, subscription_id, outcome)
    await pf.deliver_and_process(redis)
    return data


async def plan_state(pf: Platform, plan_id: str) -> dict[str, Any]:
    """What must be identical however the events arrived: the plan and its cycles."""
    p = await plan(pf, plan_id)
    return {
        "status": p["status"],
        "failure_count": p["failure_count"],
        "amount_minor": p["amount_minor"],
        "frequency": p["frequency"],
        "collected_minor": p["collected_minor"],
        "donations": sorted(
            (d["provider_payment_id"], d["status"], d["amount_minor"], d["counted_minor"])
            for d in p["donations"]
        ),
    }


CSRF = re.compile(r'name="csrf" value="([^"]+)"')
LINK = re.compile(r"(http://\S+/donor/auth\?\S+)")


async def sign_in(
    pf: Platform, redis: ArqRedis, outbox: SmtpOutbox, email: str
) -> httpx.AsyncClient:
    """A browser of the donor, signed in through the e-mailed link."""
    before = len(outbox.messages(to=email))
    client = httpx.AsyncClient(base_url=pf.app_url, timeout=30)
    r = await client.post("/donor", data={"email": email})
    assert r.status_code == 200, r.text
    await pf.process(redis)
    mails = outbox.messages(to=email)
    assert len(mails) == before + 1
    body = mails[-1].get_body(("plain",))
    assert body is not None
    found = LINK.search(body.get_content())
    assert found is not None
    r = await client.get(found.group(1))
    assert r.status_code == 303 and r.headers["location"].startswith("/donor/space")
    return client


async def csrf_of(client: httpx.AsyncClient, path: str) -> str:
    r = await client.get(path)
    assert r.status_code == 200, r.text
    found = CSRF.search(r.text)
    assert found is not None
    return found.group(1)
