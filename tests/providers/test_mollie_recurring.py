"""The Mollie adapter's recurring side against the sandbox: customer + first payment, mandate,
subscription with its webhook, renewals paid and failed, changes, cancel, mandate update."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx
import pytest

from donate.domain.money import Money
from donate.providers.base import (
    CheckoutRequest,
    ConnectedAccount,
    PaymentStatus,
    ProviderRejected,
    SubscriptionStatus,
)
from donate.providers.mollie import MollieProvider

from .conftest import Sandbox

EUR_10 = Money(1000, "EUR")


def _request(sandbox: Sandbox, **overrides: Any) -> CheckoutRequest:
    donation_id = f"don_{uuid.uuid4().hex[:10]}"
    values: dict[str, Any] = {
        "donation_id": donation_id,
        "amount": EUR_10,
        "application_fee": None,
        "description": "Don mensuel",
        "donor_email": "ada@example.org",
        "success_url": "https://donate.example/thanks",
        "cancel_url": "https://donate.example/cancel",
        "webhook_url": f"{sandbox.hooks_url}/hooks/mollie",
        "frequency": "monthly",
        "idempotency_key": f"donation:{donation_id}:checkout",
    }
    return CheckoutRequest(**(values | overrides))


async def _plan(
    sandbox: Sandbox,
    provider: MollieProvider,
    account: ConnectedAccount,
    method: str = "card",
) -> tuple[CheckoutRequest, str, str, str]:
    """A paid first payment and the subscription started on its mandate."""
    req = _request(sandbox)
    checkout = await provider.create_checkout(account, req)
    assert checkout.customer_id and checkout.customer_id.startswith("cst_")
    await sandbox.control(
        "settle",
        {"id": checkout.checkout_id, "outcome": "paid", "method": method, "card_expiry": "02/2027"},
    )
    first = await provider.fetch_payment(account, checkout.checkout_id)
    assert first.status is PaymentStatus.PAID and first.sequence_type == "first"
    assert first.mandate_id and first.customer_id == checkout.customer_id
    assert first.paid_at is not None
    plan = await provider.start_subscription(
        account,
        checkout.customer_id,
        first.mandate_id,
        req.amount,
        "monthly",
        req.webhook_url,
        {"donation_id": req.donation_id, "first_payment_id": checkout.checkout_id},
        f"donation:{req.donation_id}:subscription",
        start_date=date(2031, 1, 15),
    )
    return req, checkout.checkout_id, checkout.customer_id, plan.subscription_id


async def test_first_payment_mandate_subscription_and_renewals(
    sandbox: Sandbox, mollie_provider: MollieProvider
) -> None:
    acct = sandbox.mollie_key_account
    req, first_id, cst, sub_id = await _plan(sandbox, mollie_provider, acct)
    plan = await mollie_provider.fetch_subscription(acct, sub_id, customer_id=cst)
    assert plan.status is SubscriptionStatus.ACTIVE and plan.interval == "monthly"
    assert plan.amount == EUR_10 and plan.donation_id == req.donation_id
    assert plan.next_payment_date == date(2031, 1, 15)
    assert plan.payment_method is not None and plan.payment_method.kind == "card"
    assert (plan.payment_method.exp_month, plan.payment_method.exp_year) == (2, 2027)
    same = await mollie_provider.fetch_subscription(acct, sub_id)  # found without the customer
    assert same == plan

    paid = await sandbox.control("renew", {"subscription_id": sub_id, "outcome": "paid"})
    failed = await sandbox.control("renew", {"subscription_id": sub_id, "outcome": "failed"})
    renewal = await mollie_provider.fetch_payment(acct, paid["id"])
    assert renewal.status is PaymentStatus.PAID and renewal.sequence_type == "recurring"
    assert renewal.subscription_id == sub_id and renewal.donation_id == req.donation_id
    assert renewal.method == "creditcard"
    past_due = await mollie_provider.fetch_subscription(acct, sub_id, customer_id=cst)
    assert past_due.status is SubscriptionStatus.PAST_DUE and past_due.failed_attempts == 1
    await sandbox.control("renew", {"subscription_id": sub_id, "outcome": "paid"})
    back = await mollie_provider.fetch_subscription(acct, sub_id, customer_id=cst)
    assert back.status is SubscriptionStatus.ACTIVE and back.failed_attempts == 0

    payments = await mollie_provider.list_subscription_payments(acct, sub_id, customer_id=cst)
    assert [p.payment_id for p in payments][:3] == [first_id, paid["id"], failed["id"]]
    assert [p.status for p in payments] == [
        PaymentStatus.PAID,
        PaymentStatus.PAID,
        PaymentStatus.FAILED,
        PaymentStatus.PAID,
    ]

    # Every renewal's webhook goes to the subscription's webhookUrl, with a bare id.
    for tr in (paid["id"], failed["id"]):
        hooks = sandbox.hooks.wait_for("mollie", lambda body, tr=tr: body == f"id={tr}".encode())
        notice = mollie_provider.parse_webhook(*hooks[0])
        assert notice.payment_ref == tr and notice.subscription_id is None


async def test_sepa_plan_change_cancel_and_no_pause(
    sandbox: Sandbox, mollie_provider: MollieProvider
) -> None:
    acct = sandbox.mollie_oauth_account
    _, _, cst, sub_id = await _plan(sandbox, mollie_provider, acct, method="ideal")
    plan = await mollie_provider.fetch_subscription(acct, sub_id, customer_id=cst)
    info = plan.payment_method
    assert info is not None and info.kind == "sepa_debit" and info.mandate_reference
    changed = await mollie_provider.update_subscription(
        acct, sub_id, amount=Money(1500, "EUR"), interval="yearly", customer_id=cst
    )
    assert changed.amount == Money(1500, "EUR") and changed.interval == "yearly"
    renewal = await sandbox.control("renew", {"subscription_id": sub_id, "outcome": "paid"})
    assert renewal["amount"] == {"currency": "EUR", "value": "15.00"}
    assert renewal["method"] == "directdebit"
    with pytest.raises(ProviderRejected, match="paused"):
        await mollie_provider.update_subscription(acct, sub_id, pause=True, customer_id=cst)
    canceled = await mollie_provider.cancel_subscription(acct, sub_id, customer_id=cst)
    assert canceled.status is SubscriptionStatus.CANCELED and canceled.canceled_at
    assert canceled.next_payment_date is None
    again = await mollie_provider.cancel_subscription(acct, sub_id)
    assert again.status is SubscriptionStatus.CANCELED
    payments = await mollie_provider.list_subscription_payments(acct, sub_id, customer_id=cst)
    assert all(p.refunded == Money(0, "EUR") for p in payments)  # cancel never refunds
    async with httpx.AsyncClient() as http:
        resp = await http.post(f"{sandbox.url}/control/renew", json={"subscription_id": sub_id})
    assert resp.status_code == 409 and "canceled" in resp.text


async def test_payment_method_update_moves_the_plan_to_a_new_mandate(
    sandbox: Sandbox, mollie_provider: MollieProvider
) -> None:
    acct = sandbox.mollie_key_account
    _, _, cst, sub_id = await _plan(sandbox, mollie_provider, acct)
    url = await mollie_provider.payment_method_update_url(
        acct,
        sub_id,
        "https://donate.example/space",
        customer_id=cst,
        webhook_url=f"{sandbox.hooks_url}/hooks/mollie",
        idempotency_key=f"{sub_id}:pm-update:1",
    )
    tr_id = url.rsplit("/", 1)[1]
    with pytest.raises(ProviderRejected, match="not paid"):
        await mollie_provider.complete_payment_method_update(acct, sub_id, tr_id)
    await sandbox.control("settle", {"id": tr_id, "outcome": "paid", "method": "sepa_debit"})
    update = await mollie_provider.fetch_payment(acct, tr_id)
    assert update.purpose == "payment_method_update" and update.amount == Money(1, "EUR")
    assert update.donation_id is None
    plan = await mollie_provider.complete_payment_method_update(acct, sub_id, tr_id)
    assert plan.payment_method is not None and plan.payment_method.kind == "sepa_debit"
    assert plan.payment_method.mandate_id == update.mandate_id
