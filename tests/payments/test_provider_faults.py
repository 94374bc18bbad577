"""Provider API errors: a clear 503 to the widget and no orphan pending donation; in jobs,
retries with backoff that converge once the provider is back, without duplicate objects."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from arq.connections import ArqRedis

from tests.support.platform import Platform


async def _last_donation(pf: Platform) -> Any:
    async with pf.runtime.pool.acquire() as conn:
        return await conn.fetchrow(
            "SELECT id, status, counted_minor FROM donations ORDER BY created_at DESC LIMIT 1"
        )


async def _ledger_payments(pf: Platform, donation_id: str) -> list[dict[str, Any]]:
    ledger = await pf.ledger()
    return [
        p for p in ledger["payments"] if p.get("metadata", {}).get("donation_id") == donation_id
    ]


async def _provider_event_rows(pf: Platform) -> list[Any]:
    async with pf.runtime.pool.acquire() as conn:
        return list(
            await conn.fetch(
                "SELECT id, status, attempts, last_error FROM outbox "
                "WHERE task = 'provider_event.process' AND status <> 'done' ORDER BY id"
            )
        )


async def _make_due(pf: Platform) -> None:
    """Time passes: rows waiting for their backoff become due."""
    async with pf.runtime.pool.acquire() as conn:
        await conn.execute("UPDATE outbox SET available_at = now() WHERE status = 'pending'")


@pytest.mark.parametrize("provider", ["stripe", "mollie"])
async def test_provider_down_at_checkout_is_503_and_the_donation_is_canceled(
    pf: Platform, provider: str
) -> None:
    totals = await pf.totals()
    await pf.faults(api_error_ratio=1.0)
    r = await pf.app.post("/api/v1/checkouts", json=pf.checkout_body(2000, provider=provider))

    assert r.status_code in (502, 503), r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == r.status_code
    row = await _last_donation(pf)
    assert await pf.status(str(row["id"])) == "canceled"
    assert await pf.totals() == totals
    assert await _ledger_payments(pf, str(row["id"])) == []

    # The widget tries again once the provider is back: a new, working checkout.
    await pf.faults()
    co = await pf.checkout(provider, 2000)
    assert co.donation_id != str(row["id"])


@pytest.mark.parametrize("provider", ["stripe", "mollie"])
async def test_flaky_provider_at_checkout_never_duplicates_or_strands(
    pf: Platform, provider: str
) -> None:
    await pf.faults(api_error_ratio=0.5, seed=3)
    answers: list[tuple[int, str]] = []
    for _ in range(8):
        r = await pf.app.post("/api/v1/checkouts", json=pf.checkout_body(1000, provider=provider))
        assert r.status_code in (201, 502, 503), r.text
        donation = (
            r.json()["donation_id"]
            if r.status_code == 201
            else str((await _last_donation(pf))["id"])
        )
        answers.append((r.status_code, donation))
    await pf.faults()
    assert {code for code, _ in answers} == {201, 503}, answers
    for code, donation_id in answers:
        objects = await _ledger_payments(pf, donation_id)
        status = await pf.status(donation_id)
        if code == 201:
            assert (status, len(objects)) == ("pending", 1), (donation_id, objects)
        else:
            assert status == "canceled", donation_id
            assert len(objects) <= 1, objects


@pytest.mark.parametrize("provider", ["stripe", "mollie"])
async def test_provider_down_during_webhook_job_is_retried_then_converges(
    pf: Platform, redis: ArqRedis, provider: str
) -> None:
    before = await pf.totals()
    co = await pf.checkout(provider, 3100)
    await pf.settle(co.checkout_id, "paid")
    await pf.deliver()  # the events are stored; processing them needs the provider

    await pf.faults(api_error_ratio=1.0)
    await pf.process(redis)
    rows = await _provider_event_rows(pf)
    assert rows, "the failing jobs should be waiting for a retry"
    for row in rows:
        assert row["status"] == "pending"
        assert row["attempts"] == 1
        assert "unavailable" in row["last_error"].lower() or "500" in row["last_error"]
    assert await pf.status(co.donation_id) == "pending"
    assert await pf.totals() == before

    await pf.faults()
    await _make_due(pf)
    await pf.process(redis)

    assert await _provider_event_rows(pf) == []
    assert await pf.status(co.donation_id) == "paid"
    assert await pf.totals() == (before[0] + 3100, before[1] + 1)
    assert len(await _ledger_payments(pf, co.donation_id)) == 1


@pytest.mark.parametrize("provider", ["stripe", "mollie"])
async def test_refund_while_provider_is_down_is_made_once_later(
    pf: Platform, redis: ArqRedis, provider: str
) -> None:
    co = await pf.checkout(provider, 4000)
    await pf.settle(co.checkout_id, "paid")
    await pf.deliver_and_process(redis)
    before = await pf.totals()

    await pf.faults(api_error_ratio=1.0)
    r = await pf.app.post(
        f"/api/v1/orgs/{pf.org}/donations/{co.donation_id}/refund",
        json={"amount_minor": 1500},
        headers=pf.auth(),
    )
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "requested"
    await pf.process(redis)  # the outbox retry fails too
    async with pf.runtime.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT status, attempts, last_error FROM outbox WHERE task = 'refund.execute' "
            "AND payload->>'refund_id' = $1",
            r.json()["refund_id"],
        )
    assert row is not None and row["status"] == "pending" and row["last_error"]
    assert await pf.status(co.donation_id) == "paid"

    await pf.faults()
    await _make_due(pf)
    await pf.process(redis)
    await pf.deliver_and_process(redis)  # the provider's refund webhooks

    assert await pf.status(co.donation_id) == "partially_refunded"
    assert await pf.totals() == (before[0] - 1500, before[1])
    [payment] = await _ledger_payments(pf, co.donation_id)
    assert payment["refunded_minor"] == 1500
    # A second request for what is left would be allowed; the same one is never made twice.
    async with pf.runtime.pool.acquire() as conn:
        refunds = await conn.fetch(
            "SELECT status, provider_refund_id FROM refunds WHERE donation_id = $1",
            uuid.UUID(co.donation_id),
        )
    assert len(refunds) == 1 and refunds[0]["provider_refund_id"], refunds
