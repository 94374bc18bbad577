"""Stripe subscriptions (Checkout mode=subscription, renewals, dunning, updates, portal)
through the official stripe-python client, against the sandbox."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe

from tests.sandbox.support import STRIPE_ACCT, WHSEC, Receiver, Sandbox


async def _subscription_session(
    sb: Sandbox, amount: int = 1500, interval: str = "month", **extra: Any
) -> str:
    params: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [
            {
                "price_data": {
                    "currency": "eur",
                    "unit_amount": amount,
                    "recurring": {"interval": interval},
                    "product_data": {"name": "Don mensuel"},
                },
                "quantity": 1,
            }
        ],
        "subscription_data": {
            "application_fee_percent": "10",
            "metadata": {"donation_id": "don_r1"},
        },
        "metadata": {"donation_id": "don_r1"},
        "customer_email": "ada@example.org",
        "success_url": "https://example.org/ok?cs={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://example.org/cancel",
        "payment_method_types": ["card", "sepa_debit"],
        **extra,
    }
    cs = await sb.stripe().v1.checkout.sessions.create_async(params)  # type: ignore[arg-type]
    return cs.id


def _events(receiver: Receiver) -> list[stripe.Event]:
    return [
        stripe.Webhook.construct_event(r.body, r.headers["stripe-signature"], WHSEC)
        for r in receiver.of("/webhooks/stripe")
    ]


def _types(receiver: Receiver) -> list[str]:
    return [e.type for e in _events(receiver)]


async def _start(sb: Sandbox, method: str = "card", **extra: Any) -> tuple[str, str]:
    cs_id = await _subscription_session(sb, **extra)
    resp = await sb.control("settle", {"id": cs_id, "outcome": "paid", "method": method})
    assert resp.status_code == 200, resp.text
    return cs_id, resp.json()["subscription"]


async def _renew(sb: Sandbox, sub_id: str, outcome: str) -> dict[str, Any]:
    resp = await sb.control("renew", {"subscription_id": sub_id, "outcome": outcome})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def test_checkout_creates_an_active_subscription_and_a_paid_first_invoice(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    client = sandbox.stripe()
    cs_id = await _subscription_session(sandbox)
    cs = await client.v1.checkout.sessions.retrieve_async(cs_id, {"expand": ["line_items"]})
    assert cs.mode == "subscription" and cs.subscription is None
    assert cs.line_items is not None
    price = cs.line_items.data[0].price
    assert price is not None and price.recurring is not None
    assert price.recurring.interval == "month" and price.type == "recurring"
    assert (await client.v1.prices.retrieve_async(price.id)).unit_amount == 1500
    assert isinstance(price.product, str)
    assert (await client.v1.products.retrieve_async(price.product)).name == "Don mensuel"

    # A declined card in Checkout creates nothing: the donor may try again.
    resp = await sandbox.control("settle", {"id": cs_id, "outcome": "failed"})
    assert resp.json()["status"] == "open" and resp.json()["subscription"] is None
    resp = await sandbox.control(
        "settle", {"id": cs_id, "outcome": "paid", "card_expiry": "03/2027"}
    )
    body = resp.json()
    assert (body["status"], body["payment_status"]) == ("complete", "paid")
    sub = await client.v1.subscriptions.retrieve_async(
        body["subscription"], {"expand": ["default_payment_method", "latest_invoice.payments"]}
    )
    assert sub.status == "active" and sub.metadata["donation_id"] == "don_r1"
    assert sub.application_fee_percent == 10.0 and sub.customer
    item = sub["items"].data[0]
    assert item.price.unit_amount == 1500 and item.quantity == 1
    assert item.current_period_end > item.current_period_start
    pm = sub.default_payment_method
    assert isinstance(pm, stripe.PaymentMethod) and pm.card is not None
    assert (pm.card.exp_month, pm.card.exp_year, pm.card.last4) == (3, 2027, "4242")
    inv = sub.latest_invoice
    assert isinstance(inv, stripe.Invoice)
    assert (inv.status, inv.billing_reason, inv.amount_paid) == (
        "paid",
        "subscription_create",
        1500,
    )
    assert inv.parent is not None and inv.parent.subscription_details is not None
    assert inv.parent.subscription_details.subscription == sub.id
    assert inv.payments is not None
    pi_id = inv.payments.data[0].payment.payment_intent
    assert isinstance(pi_id, str)
    pi = await client.v1.payment_intents.retrieve_async(
        pi_id, {"expand": ["latest_charge.balance_transaction"]}
    )
    assert pi.status == "succeeded" and pi.application_fee_amount == 150
    charge = pi.latest_charge
    assert isinstance(charge, stripe.Charge)
    assert isinstance(charge.balance_transaction, stripe.BalanceTransaction)
    assert charge.balance_transaction.amount == 1500
    found = await client.v1.invoice_payments.list_async(
        {"payment": {"type": "payment_intent", "payment_intent": pi_id}}
    )
    assert [p.invoice for p in found.data] == [inv.id]

    await sandbox.drain()
    types = _types(receiver)
    for expected in (
        "customer.created",
        "customer.subscription.created",
        "invoice.paid",
        "invoice.payment_succeeded",
        "invoice_payment.paid",
        "checkout.session.completed",
    ):
        assert expected in types
    assert types.index("invoice.paid") < types.index("checkout.session.completed")
    completed = next(e for e in _events(receiver) if e.type == "checkout.session.completed")
    assert completed.account == STRIPE_ACCT
    assert completed.data.object["subscription"] == sub.id
    assert completed.data.object["mode"] == "subscription"
    update = next(e for e in _events(receiver) if e.type == "customer.subscription.updated")
    assert update.data.object["status"] == "active"
    assert update.data["previous_attributes"].to_dict() == {"status": "incomplete"}


async def test_renewals_paid_then_dunning_until_canceled(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    client = sandbox.stripe()
    _, sub_id = await _start(sandbox)
    first = await client.v1.subscriptions.retrieve_async(sub_id)
    period_end = first["items"].data[0].current_period_end

    paid = await _renew(sandbox, sub_id, "paid")
    assert (paid["status"], paid["attempt_count"], paid["subscription_status"]) == (
        "paid",
        1,
        "active",
    )
    renewed = await client.v1.subscriptions.retrieve_async(sub_id)
    assert renewed["items"].data[0].current_period_start == period_end
    invoice = await client.v1.invoices.retrieve_async(paid["invoice"])
    assert invoice.billing_reason == "subscription_cycle" and invoice.period_start == period_end

    attempts = []
    for _ in range(4):
        attempts.append(await _renew(sandbox, sub_id, "failed"))
    assert {a["invoice"] for a in attempts} == {attempts[0]["invoice"]}  # retries, one invoice
    assert [a["attempt_count"] for a in attempts] == [1, 2, 3, 4]
    assert [a["subscription_status"] for a in attempts] == ["past_due"] * 3 + ["canceled"]
    assert all(a["next_payment_attempt"] for a in attempts[:3])
    assert attempts[3]["next_payment_attempt"] is None
    charges = await client.v1.charges.list_async({"payment_intent": attempts[0]["payment_intent"]})
    assert len(charges.data) == 4 and {c.status for c in charges.data} == {"failed"}
    gone = await client.v1.subscriptions.retrieve_async(sub_id)
    assert gone.status == "canceled" and gone.cancellation_details is not None
    assert gone.cancellation_details.reason == "payment_failed"
    listed = await client.v1.invoices.list_async({"subscription": sub_id})
    assert [i.status for i in listed.data] == ["open", "paid", "paid"]
    assert (await sandbox.control("renew", {"subscription_id": sub_id})).status_code == 409

    await sandbox.drain()
    events = _events(receiver)
    failed = [e.data.object for e in events if e.type == "invoice.payment_failed"]
    assert [f["attempt_count"] for f in failed] == [1, 2, 3, 4]
    assert failed[-1]["next_payment_attempt"] is None
    assert events[-1].type == "customer.subscription.deleted"
    assert [e.data.object["status"] for e in events if e.type == "invoice.paid"] == ["paid"] * 2


async def test_failed_renewal_recovers_on_retry(sandbox: Sandbox, receiver: Receiver) -> None:
    _, sub_id = await _start(sandbox)
    failed = await _renew(sandbox, sub_id, "failed")
    assert failed["subscription_status"] == "past_due"
    recovered = await _renew(sandbox, sub_id, "paid")
    assert recovered["invoice"] == failed["invoice"] and recovered["attempt_count"] == 2
    assert (recovered["status"], recovered["subscription_status"]) == ("paid", "active")
    nxt = await _renew(sandbox, sub_id, "paid")
    assert nxt["invoice"] != failed["invoice"]


async def test_sepa_subscription_processes_then_settles(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    client = sandbox.stripe()
    cs_id = await _subscription_session(sandbox)
    resp = await sandbox.control(
        "settle", {"id": cs_id, "outcome": "pending", "method": "sepa_debit"}
    )
    body = resp.json()
    assert (body["status"], body["payment_status"]) == ("complete", "unpaid")
    sub = await client.v1.subscriptions.retrieve_async(body["subscription"])
    assert sub.status == "active"  # a processing debit already activates it
    resp = await sandbox.control("settle", {"id": cs_id, "outcome": "paid"})
    assert resp.json()["payment_status"] == "paid"
    renewal = await _renew(sandbox, sub.id, "pending")
    assert renewal["status"] == "open"
    done = await _renew(sandbox, sub.id, "paid")
    assert (done["invoice"], done["status"]) == (renewal["invoice"], "paid")
    pi = await client.v1.payment_intents.retrieve_async(
        done["payment_intent"], {"expand": ["latest_charge"]}
    )
    assert isinstance(pi.latest_charge, stripe.Charge)
    details = pi.latest_charge.payment_method_details
    assert details is not None and details.sepa_debit is not None
    mandate = await client.v1.mandates.retrieve_async(str(details.sepa_debit.mandate))
    assert mandate.payment_method_details.sepa_debit is not None
    assert mandate.payment_method_details.sepa_debit.reference
    await sandbox.drain()
    assert "checkout.session.async_payment_succeeded" in _types(receiver)


async def test_update_pause_cancel_at_period_end_and_delete(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    client = sandbox.stripe()
    _, sub_id = await _start(sandbox)
    sub = await client.v1.subscriptions.retrieve_async(sub_id)
    item = sub["items"].data[0]
    product = item.price.product
    updated = await client.v1.subscriptions.update_async(
        sub_id,
        {
            "items": [
                {
                    "id": item.id,
                    "price_data": {
                        "currency": "eur",
                        "product": str(product),
                        "unit_amount": 2500,
                        "recurring": {"interval": "month"},
                    },
                }
            ],
            "proration_behavior": "none",
        },
        {"idempotency_key": "plan:1:amount:2500"},
    )
    assert updated["items"].data[0].price.unit_amount == 2500
    assert (await _renew(sandbox, sub_id, "paid"))["amount_minor"] == 2500

    paused = await client.v1.subscriptions.update_async(
        sub_id, {"pause_collection": {"behavior": "void"}}
    )
    assert paused.pause_collection is not None and paused.pause_collection.behavior == "void"
    assert (await _renew(sandbox, sub_id, "paid"))["status"] == "void"
    resumed = await client.v1.subscriptions.update_async(sub_id, {"pause_collection": ""})
    assert resumed.pause_collection is None

    yearly = await client.v1.subscriptions.update_async(
        sub_id,
        {
            "items": [
                {
                    "id": item.id,
                    "price_data": {
                        "currency": "eur",
                        "product": str(product),
                        "unit_amount": 20000,
                        "recurring": {"interval": "year"},
                    },
                }
            ],
        },
    )
    assert yearly["items"].data[0].price.recurring.interval == "year"
    latest = await client.v1.invoices.list_async({"subscription": sub_id, "limit": 1})
    assert (latest.data[0].billing_reason, latest.data[0].amount_paid) == (
        "subscription_update",
        20000,
    )

    ending = await client.v1.subscriptions.update_async(sub_id, {"cancel_at_period_end": True})
    assert ending.cancel_at_period_end and ending.status == "active"
    ended = await _renew(sandbox, sub_id, "paid")
    assert ended["subscription_status"] == "canceled" and ended["invoice"] is None

    _, other = await _start(sandbox)
    deleted = await client.v1.subscriptions.cancel_async(other)
    assert deleted.status == "canceled" and deleted.canceled_at
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.subscriptions.cancel_async(other)
    assert [
        s.id for s in (await client.v1.subscriptions.list_async()).data if s.id in (sub_id, other)
    ] == []
    everything = await client.v1.subscriptions.list_async({"status": "all"})
    assert {sub_id, other} <= {s.id for s in everything.data}
    await sandbox.drain()
    deleted_events = [e for e in _events(receiver) if e.type == "customer.subscription.deleted"]
    assert {e.data.object["id"] for e in deleted_events} == {sub_id, other}


async def test_portal_replaces_the_payment_method(sandbox: Sandbox, receiver: Receiver) -> None:
    client = sandbox.stripe()
    _, sub_id = await _start(sandbox)
    sub = await client.v1.subscriptions.retrieve_async(sub_id)
    failed = await _renew(sandbox, sub_id, "failed")
    session = await client.v1.billing_portal.sessions.create_async(
        {
            "customer": str(sub.customer),
            "return_url": "https://example.org/space",
            "flow_data": {"type": "payment_method_update"},
        }
    )
    assert session.url == f"{sandbox.url}/portal/{session.id}"
    async with httpx.AsyncClient() as http:
        page = await http.get(session.url)
        assert page.status_code == 200 and "4242" in page.text
        resp = await http.post(
            session.url,
            data={"action": "update_payment_method", "method": "card", "card_expiry": "08/2031"},
        )
    assert resp.status_code == 303 and resp.headers["location"] == "https://example.org/space"
    sub = await client.v1.subscriptions.retrieve_async(
        sub_id, {"expand": ["default_payment_method"]}
    )
    pm = sub.default_payment_method
    assert isinstance(pm, stripe.PaymentMethod) and pm.card is not None
    assert (pm.card.exp_month, pm.card.exp_year) == (8, 2031)
    retried = await _renew(sandbox, sub_id, "paid")
    assert retried["invoice"] == failed["invoice"] and retried["subscription_status"] == "active"
    other_acct = sandbox.stripe("acct_sandboxAssoc2")
    with pytest.raises(stripe.InvalidRequestError):
        await other_acct.v1.billing_portal.sessions.create_async({"customer": str(sub.customer)})


async def test_subscription_parameters_are_checked(sandbox: Sandbox) -> None:
    with pytest.raises(stripe.InvalidRequestError) as err:
        await _subscription_session(sandbox, payment_intent_data={"application_fee_amount": 100})
    assert err.value.param == "payment_intent_data"
    with pytest.raises(stripe.InvalidRequestError):
        await _subscription_session(sandbox, subscription_data={"application_fee_percent": "101"})
    platform = sandbox.stripe(account=None)
    with pytest.raises(stripe.InvalidRequestError):
        await platform.v1.checkout.sessions.create_async(
            {
                "mode": "subscription",
                "line_items": [
                    {
                        "price_data": {
                            "currency": "eur",
                            "unit_amount": 100,
                            "recurring": {"interval": "month"},
                            "product_data": {"name": "x"},
                        },
                        "quantity": 1,
                    }
                ],
                "subscription_data": {"application_fee_percent": "5"},
                "success_url": "https://example.org/ok",
            }
        )
    key = "donation:r9:checkout"
    client = sandbox.stripe()
    params: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [
            {
                "price_data": {
                    "currency": "eur",
                    "unit_amount": 900,
                    "recurring": {"interval": "year"},
                    "product_data": {"name": "Don annuel"},
                },
                "quantity": 1,
            }
        ],
        "success_url": "https://example.org/ok",
    }
    one = await client.v1.checkout.sessions.create_async(params, {"idempotency_key": key})  # type: ignore[arg-type]
    two = await client.v1.checkout.sessions.create_async(params, {"idempotency_key": key})  # type: ignore[arg-type]
    assert one.id == two.id


async def test_ledger_lists_first_payment_and_renewals(sandbox: Sandbox) -> None:
    cs_id, sub_id = await _start(sandbox)
    renewal = await _renew(sandbox, sub_id, "paid")
    failed = await _renew(sandbox, sub_id, "failed")
    ledger = (await sandbox.control("ledger")).json()
    mine = [p for p in ledger["payments"] if p["subscription_id"] == sub_id]
    assert [(p["id"], p["sequence_type"], p["status"]) for p in mine] == [
        (cs_id, "first", "paid"),
        (renewal["invoice"], "recurring", "paid"),
        (failed["invoice"], "recurring", "failed"),
    ]
    assert mine[1]["payment_id"] == renewal["payment_intent"]
    assert (
        mine[1]["application_fee_minor"] == 150 and mine[1]["metadata"]["donation_id"] == "don_r1"
    )
