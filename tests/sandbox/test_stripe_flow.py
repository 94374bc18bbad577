"""Stripe one-off gifts through the official stripe-python client, against the sandbox."""

from __future__ import annotations

import json

import pytest
import stripe

from tests.sandbox.support import STRIPE_ACCT, WHSEC, Receiver, Sandbox


async def _session(sb: Sandbox, amount: int = 5000, fee: int = 200, **extra: object) -> str:
    client = sb.stripe()
    params: dict[str, object] = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": "eur",
                    "unit_amount": amount,
                    "product_data": {"name": "Don à l'association"},
                },
                "quantity": 1,
            }
        ],
        "payment_intent_data": {
            "application_fee_amount": fee,
            "metadata": {"donation_id": "don_1"},
        },
        "metadata": {"donation_id": "don_1"},
        "success_url": "https://example.org/ok?cs={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://example.org/cancel",
        "customer_email": "donor@example.org",
        "payment_method_types": ["card", "sepa_debit"],
        **extra,
    }
    cs = await client.v1.checkout.sessions.create_async(params)  # type: ignore[arg-type]
    assert cs.url == f"{sb.url}/pay/{cs.id}"
    return cs.id


def _events(receiver: Receiver) -> list[stripe.Event]:
    """Every Stripe webhook received, verified as the platform verifies them."""
    return [
        stripe.Webhook.construct_event(r.body, r.headers["stripe-signature"], WHSEC)
        for r in receiver.of("/webhooks/stripe")
    ]


async def test_card_payment_refund_and_payout(sandbox: Sandbox, receiver: Receiver) -> None:
    client = sandbox.stripe()
    cs_id = await _session(sandbox)
    cs = await client.v1.checkout.sessions.retrieve_async(cs_id)
    assert (cs.status, cs.payment_status, cs.payment_intent) == ("open", "unpaid", None)

    resp = await sandbox.control("settle", {"id": cs_id, "outcome": "paid", "method": "card"})
    assert resp.status_code == 200, resp.text
    cs = await client.v1.checkout.sessions.retrieve_async(
        cs_id, {"expand": ["payment_intent.latest_charge.balance_transaction"]}
    )
    assert (cs.status, cs.payment_status) == ("complete", "paid")
    pi = cs.payment_intent
    assert isinstance(pi, stripe.PaymentIntent)
    assert pi.status == "succeeded" and pi.metadata["donation_id"] == "don_1"
    charge = pi.latest_charge
    assert isinstance(charge, stripe.Charge)
    txn = charge.balance_transaction
    assert isinstance(txn, stripe.BalanceTransaction)
    stripe_fee = (5000 * 150 + 5000) // 10_000 + 25
    assert (txn.amount, txn.fee, txn.net) == (5000, stripe_fee + 200, 5000 - stripe_fee - 200)

    refund = await client.v1.refunds.create_async(
        {"payment_intent": pi.id, "amount": 1500}, {"idempotency_key": "donation:1:refund"}
    )
    assert (refund.status, refund.amount, refund.charge) == ("succeeded", 1500, charge.id)
    again = await client.v1.refunds.create_async(
        {"payment_intent": pi.id, "amount": 1500}, {"idempotency_key": "donation:1:refund"}
    )
    assert again.id == refund.id  # replayed, not a second refund
    with pytest.raises(stripe.InvalidRequestError) as err:
        await client.v1.refunds.create_async({"payment_intent": pi.id, "amount": 4000})
    assert err.value.code == "amount_too_large" and err.value.http_status == 400
    with pytest.raises(stripe.IdempotencyError):
        await client.v1.refunds.create_async(
            {"payment_intent": pi.id, "amount": 100}, {"idempotency_key": "donation:1:refund"}
        )
    charge2 = await client.v1.charges.retrieve_async(charge.id, {"expand": ["refunds"]})
    assert charge2.amount_refunded == 1500 and not charge2.refunded
    assert [r.id for r in charge2.refunds.data] == [refund.id]

    resp = await sandbox.control("payout", {"provider": "stripe", "account": STRIPE_ACCT})
    (po,) = resp.json()["payouts"]
    payouts = await client.v1.payouts.list_async()
    assert [p.id for p in payouts.data] == [po["id"]] and payouts.data[0].status == "paid"
    lines = await client.v1.balance_transactions.list_async({"payout": po["id"], "limit": 100})
    kinds = sorted(t.type for t in lines.data)
    assert kinds == ["charge", "payout", "refund"]
    assert sum(t.net for t in lines.data) == 0  # the payout line takes everything else out
    assert po["amount"] == 5000 - stripe_fee - 200 - 1500

    # The platform's own balance holds the application fee.
    platform = sandbox.stripe(account=None)
    fees = await platform.v1.balance_transactions.list_async({"type": "application_fee"})
    assert [t.amount for t in fees.data] == [200]

    await sandbox.drain()
    types = [e.type for e in _events(receiver)]
    for expected in (
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "checkout.session.completed",
        "charge.refunded",
        "refund.created",
        "payout.paid",
    ):
        assert expected in types
    completed = next(e for e in _events(receiver) if e.type == "checkout.session.completed")
    assert completed.account == STRIPE_ACCT and completed.livemode is False
    assert completed.data.object["payment_status"] == "paid"


async def test_sepa_pending_then_paid(sandbox: Sandbox, receiver: Receiver) -> None:
    client = sandbox.stripe()
    cs_id = await _session(sandbox)
    await sandbox.control("settle", {"id": cs_id, "outcome": "pending", "method": "sepa_debit"})
    cs = await client.v1.checkout.sessions.retrieve_async(cs_id, {"expand": ["payment_intent"]})
    assert (cs.status, cs.payment_status) == ("complete", "unpaid")
    assert isinstance(cs.payment_intent, stripe.PaymentIntent)
    assert cs.payment_intent.status == "processing"
    await sandbox.drain()
    first = [e.type for e in _events(receiver)]
    assert "payment_intent.processing" in first and "payment_intent.succeeded" not in first

    await sandbox.control("settle", {"id": cs_id, "outcome": "paid"})
    cs = await client.v1.checkout.sessions.retrieve_async(cs_id)
    assert cs.payment_status == "paid"
    await sandbox.drain()
    later = [e.type for e in _events(receiver)][len(first) :]
    assert later == [
        "charge.succeeded",
        "payment_intent.succeeded",
        "checkout.session.async_payment_succeeded",
    ]
    resp = await sandbox.control("settle", {"id": cs_id, "outcome": "paid"})
    assert resp.status_code == 409


async def test_sepa_failure_and_expiry(sandbox: Sandbox, receiver: Receiver) -> None:
    client = sandbox.stripe()
    cs_id = await _session(sandbox)
    await sandbox.control("settle", {"id": cs_id, "outcome": "pending"})
    await sandbox.control("settle", {"id": cs_id, "outcome": "failed"})
    cs = await client.v1.checkout.sessions.retrieve_async(cs_id, {"expand": ["payment_intent"]})
    assert isinstance(cs.payment_intent, stripe.PaymentIntent)
    assert cs.payment_intent.status == "requires_payment_method"
    assert cs.payment_intent.last_payment_error is not None

    other = await _session(sandbox)
    await sandbox.control("settle", {"id": other, "outcome": "expired"})
    expired = await client.v1.checkout.sessions.retrieve_async(other)
    assert expired.status == "expired"
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.checkout.sessions.expire_async(other)
    await sandbox.drain()
    types = [e.type for e in _events(receiver)]
    assert "checkout.session.async_payment_failed" in types
    assert "payment_intent.payment_failed" in types
    assert "checkout.session.expired" in types


async def test_dispute_opened_then_won(sandbox: Sandbox, receiver: Receiver) -> None:
    client = sandbox.stripe()
    cs_id = await _session(sandbox, fee=0)
    await sandbox.control("settle", {"id": cs_id, "outcome": "paid"})
    cs = await client.v1.checkout.sessions.retrieve_async(cs_id)
    assert isinstance(cs.payment_intent, str)
    resp = await sandbox.control("chargeback", {"payment_id": cs.payment_intent})
    dispute = resp.json()
    assert dispute["status"] == "needs_response" and dispute["amount"] == 5000
    listed = await client.v1.disputes.list_async({"payment_intent": cs.payment_intent})
    assert [d.id for d in listed.data] == [dispute["id"]]
    withdrawal = listed.data[0].balance_transactions[0]
    assert (withdrawal.amount, withdrawal.fee) == (-5000, 1500)
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.refunds.create_async({"payment_intent": cs.payment_intent})
    await sandbox.control("dispute-close", {"dispute_id": dispute["id"], "won": True})
    won = await client.v1.disputes.retrieve_async(dispute["id"])
    assert won.status == "won"
    await sandbox.drain()
    types = [e.type for e in _events(receiver)]
    assert types.count("charge.dispute.created") == 1 and "charge.dispute.closed" in types


async def test_errors_auth_account_and_unknown_ids(sandbox: Sandbox) -> None:
    with pytest.raises(stripe.InvalidRequestError) as err:
        await sandbox.stripe().v1.payment_intents.retrieve_async("pi_nope")
    assert err.value.http_status == 404 and err.value.code == "resource_missing"
    bad_key = sandbox.stripe(account=None, key="sk_test_wrong")
    with pytest.raises(stripe.AuthenticationError):
        await bad_key.v1.payouts.list_async()
    with pytest.raises(stripe.PermissionError):
        await sandbox.stripe(account="acct_unknown").v1.payouts.list_async()
    # Another association's session is invisible.
    cs_id = await _session(sandbox)
    with pytest.raises(stripe.InvalidRequestError):
        await sandbox.stripe(account="acct_sandboxAssoc2").v1.checkout.sessions.retrieve_async(
            cs_id
        )
    acct = await sandbox.stripe().v1.accounts.retrieve_current_async()
    assert acct.id == STRIPE_ACCT and acct.charges_enabled


async def test_checkout_idempotency_replay(sandbox: Sandbox) -> None:
    client = sandbox.stripe()
    params = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": "eur",
                    "unit_amount": 1000,
                    "product_data": {"name": "Don"},
                },
                "quantity": 1,
            }
        ],
        "success_url": "https://example.org/ok",
    }
    opts = {"idempotency_key": "donation:42:checkout"}
    first = await client.v1.checkout.sessions.create_async(params, opts)  # type: ignore[arg-type]
    second = await client.v1.checkout.sessions.create_async(params, opts)  # type: ignore[arg-type]
    assert first.id == second.id
    assert second.last_response.headers.get("idempotent-replayed") == "true"
    listed = await client.v1.checkout.sessions.list_async()
    assert [s.id for s in listed.data] == [first.id]
    body = json.loads(second.last_response.body)
    assert body["object"] == "checkout.session" and body["livemode"] is False
