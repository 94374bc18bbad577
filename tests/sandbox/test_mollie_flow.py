"""Mollie payments through the official mollie-api-python client, against the sandbox."""

from __future__ import annotations

from typing import Any

import pytest
from mollie.api.error import NotFoundError, UnauthorizedError, UnprocessableEntityError

from tests.sandbox.support import MOLLIE_PROFILE, MOLLIE_TOKEN, Receiver, Sandbox


def _payment_data(receiver: Receiver, **extra: Any) -> dict[str, Any]:
    return {
        "amount": {"currency": "EUR", "value": "25.00"},
        "description": "Don à l'association",
        "redirectUrl": "https://example.org/return",
        "webhookUrl": f"{receiver.url}/webhooks/mollie",
        "metadata": {"donation_id": "don_7"},
        "applicationFee": {
            "amount": {"currency": "EUR", "value": "1.00"},
            "description": "Platform",
        },
        **extra,
    }


def _hooks(receiver: Receiver) -> list[bytes]:
    return [r.body for r in receiver.of("/webhooks/mollie")]


async def test_payment_paid_refund_chargeback_settlement(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    mollie = sandbox.mollie()
    payment = mollie.payments.create(_payment_data(receiver), idempotency_key="donation:7:checkout")
    assert payment.status == "open" and payment.mode == "test"
    assert payment.checkout_url == f"{sandbox.url}/pay/{payment.id}"
    same = mollie.payments.create(_payment_data(receiver), idempotency_key="donation:7:checkout")
    assert same.id == payment.id

    await sandbox.control("settle", {"id": payment.id, "outcome": "pending", "method": "ideal"})
    await sandbox.drain()
    assert _hooks(receiver) == []  # Mollie calls no webhook for pending
    await sandbox.control("settle", {"id": payment.id, "outcome": "paid"})
    await sandbox.drain()
    assert _hooks(receiver) == [f"id={payment.id}".encode()]
    headers = receiver.of("/webhooks/mollie")[0].headers
    assert headers["content-type"] == "application/x-www-form-urlencoded"

    paid = mollie.payments.get(payment.id)
    assert paid.is_paid() and paid.method == "ideal" and paid.metadata == {"donation_id": "don_7"}
    assert paid.checkout_url is None  # only open payments have a checkout link

    refund = paid.refunds.create({"amount": {"currency": "EUR", "value": "5.00"}})
    assert refund.status == "pending" and refund.amount == {"currency": "EUR", "value": "5.00"}
    with pytest.raises(UnprocessableEntityError) as err:
        paid.refunds.create({"amount": {"currency": "EUR", "value": "30.00"}})
    assert err.value.field == "amount"
    assert [r.id for r in mollie.payments.get(payment.id).refunds.list()] == [refund.id]

    resp = await sandbox.control("chargeback", {"payment_id": payment.id, "amount_minor": 1000})
    chb = resp.json()
    after = mollie.payments.get(payment.id)
    assert after.amount_refunded == {"currency": "EUR", "value": "5.00"}
    assert after.amount_chargedback == {"currency": "EUR", "value": "10.00"}
    assert after.amount_remaining == {"currency": "EUR", "value": "10.00"}
    assert after.has_chargebacks()
    assert [c.id for c in after.chargebacks.list()] == [chb["id"]]
    assert after.chargebacks.get(chb["id"]).amount == {"currency": "EUR", "value": "10.00"}

    resp = await sandbox.control("payout", {"provider": "mollie"})
    (stl,) = [s for s in resp.json()["settlements"] if s["amount"]["value"] != "0.00"]
    oauth = sandbox.mollie(MOLLIE_TOKEN)
    settlement = oauth.settlements.get(stl["id"])
    assert settlement.status == "paidout"
    assert [p.id for p in settlement.payments.list()] == [payment.id]
    assert [r.id for r in settlement.refunds.list()] == [refund.id]
    assert [c.id for c in settlement.chargebacks.list()] == [chb["id"]]
    # 25.00 paid - iDEAL 0.29 - application fee 1.00 - refund 5.00 - chargeback 10.00
    assert settlement.amount == {"currency": "EUR", "value": "8.71"}
    assert mollie.payments.get(payment.id).settlement_id == stl["id"]
    await sandbox.drain()
    assert len(_hooks(receiver)) == 2  # paid, chargeback


@pytest.mark.parametrize("outcome", ["failed", "canceled", "expired"])
async def test_final_outcomes_call_the_webhook(
    sandbox: Sandbox, receiver: Receiver, outcome: str
) -> None:
    mollie = sandbox.mollie()
    payment = mollie.payments.create(_payment_data(receiver))
    resp = await sandbox.control("settle", {"id": payment.id, "outcome": outcome})
    assert resp.json()["status"] == outcome
    assert mollie.payments.get(payment.id).status == outcome
    again = await sandbox.control("settle", {"id": payment.id, "outcome": "paid"})
    assert again.status_code == 409
    await sandbox.drain()
    assert _hooks(receiver) == [f"id={payment.id}".encode()]


async def test_oauth_token_needs_profile_and_scopes_objects(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    oauth = sandbox.mollie(MOLLIE_TOKEN)
    with pytest.raises(UnprocessableEntityError) as err:
        oauth.payments.create(_payment_data(receiver))
    assert err.value.field == "profileId"
    payment = oauth.payments.create(
        _payment_data(receiver, profileId=MOLLIE_PROFILE, testmode=True)
    )
    assert payment.profile_id == MOLLIE_PROFILE and payment.mode == "test"
    assert oauth.payments.get(payment.id, testmode="true").id == payment.id
    other = sandbox.mollie("test_sandboxAssoc2key")
    with pytest.raises(NotFoundError):
        other.payments.get(payment.id)
    with pytest.raises(UnauthorizedError):
        sandbox.mollie("test_unknownkey").payments.get(payment.id)
    cancelled = oauth.payments.delete(payment.id)
    assert cancelled.status == "canceled"


async def test_list_pagination(sandbox: Sandbox, receiver: Receiver) -> None:
    mollie = sandbox.mollie()
    ids = [mollie.payments.create(_payment_data(receiver)).id for _ in range(5)]
    page = mollie.payments.list(limit=2)
    seen = [p.id for p in page]
    while page.has_next():
        page = page.get_next()
        seen += [p.id for p in page]
    assert seen == list(reversed(ids))  # newest first, as Mollie lists


async def test_recurring_first_payment_mandate_subscription_renewal(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    mollie = sandbox.mollie()
    customer = mollie.customers.create({"name": "Ada", "email": "ada@example.org"})
    first = customer.payments.create(_payment_data(receiver, sequenceType="first"))
    await sandbox.control("settle", {"id": first.id, "outcome": "paid", "method": "card"})
    mandates = list(customer.mandates.list())
    assert [m.status for m in mandates] == ["valid"]
    sub = customer.subscriptions.create(
        {
            "amount": {"currency": "EUR", "value": "10.00"},
            "interval": "1 month",
            "description": "Don mensuel",
            "webhookUrl": f"{receiver.url}/webhooks/mollie",
            "metadata": {"donation_id": "don_8"},
        }
    )
    assert sub.status == "active" and sub.mandate_id == mandates[0].id
    resp = await sandbox.control("renew", {"subscription_id": sub.id, "outcome": "paid"})
    renewal = mollie.payments.get(resp.json()["id"])
    assert renewal.sequence_type == "recurring" and renewal.is_paid()
    assert renewal.subscription_id == sub.id
    assert [p.id for p in customer.subscriptions.get(sub.id).payments.list()] == [renewal.id]
    canceled = customer.subscriptions.delete(sub.id)
    assert canceled.status == "canceled"
    await sandbox.drain()
    assert f"id={renewal.id}".encode() in _hooks(receiver)


async def test_recurring_card_mandate_failed_renewal_update_and_cancel(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    mollie = sandbox.mollie()
    customer = mollie.customers.create({"name": "Ada", "email": "ada@example.org"})
    first = mollie.payments.create(
        _payment_data(receiver, sequenceType="first", customerId=customer.id)
    )
    resp = await sandbox.control(
        "settle", {"id": first.id, "outcome": "paid", "method": "card", "card_expiry": "04/2028"}
    )
    assert resp.status_code == 200, resp.text
    paid_first = mollie.payments.get(first.id)
    (mandate,) = list(customer.mandates.list())
    assert paid_first.mandate_id == mandate.id and mandate.method == "creditcard"
    assert mandate.details["cardExpiryDate"] == "2028-04-30"
    sub_hook = f"{receiver.url}/webhooks/mollie-sub"
    sub = customer.subscriptions.create(
        {
            "amount": {"currency": "EUR", "value": "10.00"},
            "interval": "1 month",
            "description": "Don mensuel",
            "webhookUrl": sub_hook,
            "startDate": "2031-01-15",
        }
    )
    resp = await sandbox.control("renew", {"subscription_id": sub.id, "outcome": "failed"})
    failed = mollie.payments.get(resp.json()["id"])
    assert failed.status == "failed" and failed.subscription_id == sub.id
    assert failed.method == "creditcard" and failed.sequence_type == "recurring"
    assert customer.subscriptions.get(sub.id).status == "active"  # Mollie does not retry
    updated = customer.subscriptions.update(
        sub.id, {"amount": {"currency": "EUR", "value": "12.50"}, "interval": "12 months"}
    )
    assert updated.amount == {"currency": "EUR", "value": "12.50"}
    assert updated.interval == "12 months"
    with pytest.raises(UnprocessableEntityError):
        customer.subscriptions.update(sub.id, {"mandateId": "mdt_unknown00"})
    resp = await sandbox.control("renew", {"subscription_id": sub.id, "outcome": "paid"})
    assert resp.json()["amount"] == {"currency": "EUR", "value": "12.50"}
    canceled = customer.subscriptions.delete(sub.id)
    assert canceled.status == "canceled" and canceled.next_payment_date is None
    await sandbox.drain()
    ids = [r.body for r in receiver.of("/webhooks/mollie-sub")]
    assert ids == [f"id={failed.id}".encode(), f"id={resp.json()['id']}".encode()]
