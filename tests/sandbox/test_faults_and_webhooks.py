"""Webhook delivery (signature, retries, delivery log) and injected faults."""

from __future__ import annotations

import time

import pytest
import stripe
from mollie.api.error import ResponseError

from tests.sandbox.support import MOLLIE_KEY, STRIPE_ACCT, WHSEC, Receiver, Sandbox


async def _paid_session(sb: Sandbox) -> str:
    cs = await sb.stripe().v1.checkout.sessions.create_async(
        {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": "eur",
                        "unit_amount": 2000,
                        "product_data": {"name": "Don"},
                    },
                    "quantity": 1,
                }
            ],
            "success_url": "https://example.org/ok",
        }
    )
    resp = await sb.control("settle", {"id": cs.id, "outcome": "paid"})
    assert resp.status_code == 200, resp.text
    return cs.id


def _event_ids(receiver: Receiver) -> list[str]:
    ids = []
    for r in receiver.of("/webhooks/stripe"):
        event = stripe.Webhook.construct_event(r.body, r.headers["stripe-signature"], WHSEC)
        ids.append(event.id)
    return ids


async def test_signature_is_stripe_compatible(sandbox: Sandbox, receiver: Receiver) -> None:
    await _paid_session(sandbox)
    await sandbox.drain()
    first = receiver.of("/webhooks/stripe")[0]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(first.body, first.headers["stripe-signature"], "whsec_x")
    event = stripe.Webhook.construct_event(first.body, first.headers["stripe-signature"], WHSEC)
    assert event.object == "event" and event.api_version and event.pending_webhooks == 1
    assert event.request is not None


async def test_retries_after_receiver_errors(sandbox: Sandbox, receiver: Receiver) -> None:
    receiver.fail_next = 2
    await _paid_session(sandbox)
    await sandbox.drain()
    log = (await sandbox.control("webhooks")).json()["deliveries"]
    codes = [a["status_code"] for d in log for a in d["attempts"]]
    assert codes.count(500) == 2 and log[0]["attempts"][0]["status_code"] == 500
    assert all(d["status"] == "delivered" for d in log)  # each retried until accepted
    pending = await sandbox.stripe().v1.events.list_async({"delivery_success": "false"})
    assert pending.data == []


async def test_give_up_after_max_attempts_then_catch_up(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    receiver.fail_next = 10_000
    await _paid_session(sandbox)
    await sandbox.drain()
    log = (await sandbox.control("webhooks")).json()["deliveries"]
    assert {d["status"] for d in log} == {"failed"}
    assert all(len(d["attempts"]) == 4 for d in log)  # webhook_max_attempts
    events = await sandbox.stripe().v1.events.list_async(
        {"delivery_success": "false", "type": "checkout.session.*"}
    )
    assert [e.type for e in events.data] == ["checkout.session.completed"]
    assert events.data[0].account == STRIPE_ACCT


async def test_duplicates_and_shuffle(sandbox: Sandbox, receiver: Receiver) -> None:
    resp = await sandbox.control(
        "faults", {"webhook_duplicates": 2, "webhook_shuffle": True, "seed": 7}
    )
    assert resp.json()["webhook_duplicates"] == 2
    await _paid_session(sandbox)
    await sandbox.drain()
    ids = _event_ids(receiver)
    unique = set(ids)
    assert len(ids) == 3 * len(unique)
    assert all(ids.count(i) == 3 for i in unique)


async def test_drop_ratio_leaves_events_for_catch_up(sandbox: Sandbox, receiver: Receiver) -> None:
    await sandbox.control("faults", {"webhook_drop_ratio": 1.0})
    await _paid_session(sandbox)
    await sandbox.drain()
    assert receiver.of("/webhooks/stripe") == []
    events = await sandbox.stripe().v1.events.list_async({"delivery_success": "false"})
    assert len(events.data) >= 4
    await sandbox.control("faults", {})  # reset
    await _paid_session(sandbox)
    await sandbox.drain()
    assert receiver.of("/webhooks/stripe")


async def test_webhook_delay(sandbox: Sandbox, receiver: Receiver) -> None:
    await sandbox.control("faults", {"webhook_delay_ms": 300})
    start = time.monotonic()
    await _paid_session(sandbox)
    await sandbox.drain()
    assert time.monotonic() - start >= 0.3


async def test_api_errors_are_500_and_reproducible(sandbox: Sandbox) -> None:
    await sandbox.control("faults", {"api_error_ratio": 0.5, "seed": 1})
    client = sandbox.stripe()
    outcomes = []
    for _ in range(10):
        try:
            await client.v1.payouts.list_async()
            outcomes.append("ok")
        except stripe.APIError as exc:
            outcomes.append(str(exc.http_status))
    await sandbox.control("faults", {"api_error_ratio": 0.5, "seed": 1})
    replay = []
    for _ in range(10):
        try:
            await client.v1.payouts.list_async()
            replay.append("ok")
        except stripe.APIError:
            replay.append("500")
    assert outcomes == replay and "500" in outcomes and "ok" in outcomes

    mollie = sandbox.mollie(MOLLIE_KEY)
    await sandbox.control("faults", {"api_error_ratio": 1.0})
    with pytest.raises(ResponseError) as err:
        mollie.payments.list()
    assert err.value.status == 500
    bad = await sandbox.control("faults", {"api_error_ratio": 2})
    assert bad.status_code == 400


async def test_stripe_client_retries_through_injected_errors(sandbox: Sandbox) -> None:
    """An injected 500 is not stored for the idempotency key: the SDK's retry really runs."""
    await sandbox.control("faults", {"api_error_ratio": 0.5, "seed": 3})
    client = sandbox.stripe(retries=5)
    cs = await client.v1.checkout.sessions.create_async(
        {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": "eur",
                        "unit_amount": 700,
                        "product_data": {"name": "Don"},
                    },
                    "quantity": 1,
                }
            ],
            "success_url": "https://example.org/ok",
        },
        {"idempotency_key": "donation:9:checkout"},
    )
    await sandbox.control("faults", {})
    listed = await sandbox.stripe().v1.checkout.sessions.list_async()
    assert [s.id for s in listed.data] == [cs.id]


async def test_ledger_report(sandbox: Sandbox) -> None:
    cs_id = await _paid_session(sandbox)
    report = (await sandbox.control("ledger")).json()
    (row,) = [p for p in report["payments"] if p["id"] == cs_id]
    assert row["status"] == "paid" and row["amount_minor"] == 2000
    assert row["fee_minor"] == (2000 * 150 + 5000) // 10_000 + 25
    assert row["account"] == STRIPE_ACCT and row["refunded_minor"] == 0


async def test_hosted_page_pays_and_redirects(sandbox: Sandbox) -> None:
    import httpx

    cs = await sandbox.stripe().v1.checkout.sessions.create_async(
        {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": "eur",
                        "unit_amount": 1234,
                        "product_data": {"name": "Don"},
                    },
                    "quantity": 1,
                }
            ],
            "success_url": "https://example.org/ok?cs={CHECKOUT_SESSION_ID}",
            "cancel_url": "https://example.org/cancel",
        }
    )
    async with httpx.AsyncClient(base_url=sandbox.url) as http:
        page = await http.get(f"/pay/{cs.id}")
        assert page.status_code == 200 and "12.34 EUR" in page.text
        resp = await http.post(f"/pay/{cs.id}", data={"outcome": "paid", "method": "card"})
    assert resp.status_code == 303
    assert resp.headers["location"] == f"https://example.org/ok?cs={cs.id}"
    after = await sandbox.stripe().v1.checkout.sessions.retrieve_async(cs.id)
    assert after.payment_status == "paid"
