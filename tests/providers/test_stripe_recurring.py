"""The Stripe adapter's recurring side against the sandbox: subscription Checkout, renewals,
dunning, changes, cancel, portal, and the webhooks of each step."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from donate.domain.money import Money
from donate.providers.base import (
    CheckoutRequest,
    PaymentStatus,
    ProviderRejected,
    SubscriptionStatus,
)
from donate.providers.stripe import StripeProvider

from .conftest import Sandbox

EUR_15 = Money(1500, "EUR")


def _request(frequency: str = "monthly", **overrides: Any) -> CheckoutRequest:
    donation_id = f"don_{uuid.uuid4().hex[:10]}"
    values: dict[str, Any] = {
        "donation_id": donation_id,
        "amount": EUR_15,
        "application_fee": Money(150, "EUR"),
        "description": "Don mensuel",
        "donor_email": "ada@example.org",
        "success_url": "https://donate.example/thanks",
        "cancel_url": "https://donate.example/cancel",
        "webhook_url": "https://donate.example/webhooks/stripe",
        "frequency": frequency,
        "idempotency_key": f"donation:{donation_id}:checkout",
    }
    return CheckoutRequest(**(values | overrides))


async def _subscribed(
    sandbox: Sandbox, provider: StripeProvider, method: str = "card", **body: Any
) -> tuple[CheckoutRequest, str, str]:
    req = _request()
    checkout = await provider.create_checkout(sandbox.stripe_account, req)
    settled = await sandbox.control(
        "settle", {"id": checkout.checkout_id, "outcome": "paid", "method": method, **body}
    )
    return req, checkout.checkout_id, str(settled["subscription"])


async def _renew(sandbox: Sandbox, sub_id: str, outcome: str) -> dict[str, Any]:
    return await sandbox.control("renew", {"subscription_id": sub_id, "outcome": outcome})


async def _notices(sandbox: Sandbox, provider: StripeProvider, sub_id: str) -> list[Any]:
    drained = await sandbox.control("drain", {"timeout_s": 20})
    assert drained["drained"]
    found = sandbox.hooks.wait_for("stripe", lambda body: sub_id.encode() in body)
    return [provider.parse_webhook(body, headers) for body, headers in found]


async def test_subscription_checkout_first_payment_and_webhooks(
    sandbox: Sandbox, stripe_provider: StripeProvider
) -> None:
    acct = sandbox.stripe_account
    req, cs_id, sub_id = await _subscribed(sandbox, stripe_provider, card_expiry="05/2027")
    again = await stripe_provider.create_checkout(acct, req)
    assert again.checkout_id == cs_id  # same idempotency key, same session

    first = await stripe_provider.fetch_payment(acct, cs_id)
    assert first.status is PaymentStatus.PAID and first.sequence_type == "first"
    assert (first.checkout_id, first.subscription_id, first.donation_id) == (
        cs_id,
        sub_id,
        req.donation_id,
    )
    assert first.payment_id and first.payment_id.startswith("pi_")
    assert first.amount == EUR_15 and first.method == "card" and first.paid_at
    assert first.fee == Money(48, "EUR")  # 1.5 % + 25 c; the application fee is not Stripe's
    by_pi = await stripe_provider.fetch_payment(acct, first.payment_id)
    by_invoice = await stripe_provider.fetch_payment(acct, str(first.invoice_id))
    assert by_pi == first == by_invoice

    plan = await stripe_provider.fetch_subscription(acct, sub_id)
    assert plan.status is SubscriptionStatus.ACTIVE and plan.interval == "monthly"
    assert plan.amount == EUR_15 and plan.donation_id == req.donation_id
    assert plan.next_payment_date is not None and plan.customer_id == first.customer_id
    assert plan.payment_method is not None
    assert (plan.payment_method.kind, plan.payment_method.last4) == ("card", "4242")
    assert (plan.payment_method.exp_month, plan.payment_method.exp_year) == (5, 2027)

    notices = {n.event_type: n for n in await _notices(sandbox, stripe_provider, sub_id)}
    paid = notices["invoice.paid"]
    assert paid.object_id == first.invoice_id and paid.subscription_id == sub_id
    assert paid.payment_ref == first.invoice_id  # no ``payments`` in a webhook body
    assert paid.donation_id == req.donation_id and paid.account == acct.account_id
    completed = notices["checkout.session.completed"]
    assert (completed.payment_ref, completed.subscription_id) == (cs_id, sub_id)
    assert notices["customer.subscription.created"].object_id == sub_id
    assert notices["customer.subscription.created"].payment_ref is None
    pi_id = first.payment_id.encode()
    inpay = sandbox.hooks.wait_for("stripe", lambda b: b"invoice_payment.paid" in b and pi_id in b)
    assert stripe_provider.parse_webhook(*inpay[0]).payment_ref == first.payment_id


async def test_renewals_dunning_and_lapse(
    sandbox: Sandbox, stripe_provider: StripeProvider
) -> None:
    acct = sandbox.stripe_account
    req, _, sub_id = await _subscribed(sandbox, stripe_provider)
    await _renew(sandbox, sub_id, "paid")
    failed = await _renew(sandbox, sub_id, "failed")
    plan = await stripe_provider.fetch_subscription(acct, sub_id)
    assert plan.status is SubscriptionStatus.PAST_DUE and plan.failed_attempts == 1
    assert plan.next_retry_at is not None
    renewal = await stripe_provider.fetch_payment(acct, failed["payment_intent"])
    assert renewal.status is PaymentStatus.FAILED and renewal.sequence_type == "recurring"
    assert renewal.subscription_id == sub_id and renewal.donation_id == req.donation_id
    assert renewal.checkout_id is None

    for _ in range(3):
        await _renew(sandbox, sub_id, "failed")
    plan = await stripe_provider.fetch_subscription(acct, sub_id)
    assert plan.status is SubscriptionStatus.LAPSED and plan.provider_status == "canceled"
    assert plan.next_payment_date is None and plan.next_retry_at is None

    payments = await stripe_provider.list_subscription_payments(acct, sub_id)
    assert [p.status for p in payments] == [PaymentStatus.PAID] * 2 + [PaymentStatus.FAILED]
    assert [p.sequence_type for p in payments] == ["first", "recurring", "recurring"]
    assert {p.subscription_id for p in payments} == {sub_id}
    assert payments[2].payment_id == failed["payment_intent"]

    notices = await _notices(sandbox, stripe_provider, sub_id)
    failures = [n for n in notices if n.event_type == "invoice.payment_failed"]
    assert len(failures) == 4 and {n.subscription_id for n in failures} == {sub_id}
    assert {n.payment_ref for n in failures} == {failed["invoice"]}
    deleted = [n for n in notices if n.event_type == "customer.subscription.deleted"]
    assert [n.object_id for n in deleted] == [sub_id]


async def test_failure_then_recovery_and_refund_of_a_renewal(
    sandbox: Sandbox, stripe_provider: StripeProvider
) -> None:
    acct = sandbox.stripe_account
    _, _, sub_id = await _subscribed(sandbox, stripe_provider)
    failed = await _renew(sandbox, sub_id, "failed")
    await _renew(sandbox, sub_id, "paid")
    recovered = await stripe_provider.fetch_payment(acct, failed["invoice"])
    assert recovered.status is PaymentStatus.PAID
    assert (await stripe_provider.fetch_subscription(acct, sub_id)).status is (
        SubscriptionStatus.ACTIVE
    )
    assert recovered.payment_id is not None
    refund = await stripe_provider.refund(acct, recovered.payment_id, Money(500, "EUR"), "r:1")
    assert refund.status == "succeeded"
    payments = await stripe_provider.list_subscription_payments(acct, sub_id)
    assert payments[-1].refunded == Money(500, "EUR")


async def test_change_amount_interval_pause_and_cancel(
    sandbox: Sandbox, stripe_provider: StripeProvider
) -> None:
    acct = sandbox.stripe_account
    _, _, sub_id = await _subscribed(sandbox, stripe_provider)
    plan = await stripe_provider.update_subscription(
        acct, sub_id, amount=Money(2000, "EUR"), idempotency_key=f"{sub_id}:amount:2000"
    )
    assert plan.amount == Money(2000, "EUR") and plan.interval == "monthly"
    assert (await _renew(sandbox, sub_id, "paid"))["amount_minor"] == 2000
    paused = await stripe_provider.update_subscription(acct, sub_id, pause=True)
    assert paused.status is SubscriptionStatus.PAUSED
    assert (await _renew(sandbox, sub_id, "paid"))["status"] == "void"
    resumed = await stripe_provider.update_subscription(acct, sub_id, pause=False)
    assert resumed.status is SubscriptionStatus.ACTIVE
    yearly = await stripe_provider.update_subscription(acct, sub_id, interval="yearly")
    assert yearly.interval == "yearly" and yearly.amount == Money(2000, "EUR")
    payments = await stripe_provider.list_subscription_payments(acct, sub_id)
    assert len(payments) == 3  # first, one renewal, the new interval's invoice (void skipped)

    canceled = await stripe_provider.cancel_subscription(acct, sub_id)
    assert canceled.status is SubscriptionStatus.CANCELED and canceled.canceled_at
    again = await stripe_provider.cancel_subscription(acct, sub_id)
    assert again.status is SubscriptionStatus.CANCELED
    after = await stripe_provider.list_subscription_payments(acct, sub_id)
    assert [p.refunded for p in after] == [Money(0, "EUR")] * 3  # never refunds


async def test_portal_url_updates_the_payment_method(
    sandbox: Sandbox, stripe_provider: StripeProvider
) -> None:
    acct = sandbox.stripe_account
    _, _, sub_id = await _subscribed(sandbox, stripe_provider)
    url = await stripe_provider.payment_method_update_url(
        acct, sub_id, "https://donate.example/space"
    )
    assert url.startswith(f"{sandbox.url}/portal/bps_")
    async with httpx.AsyncClient() as http:
        resp = await http.post(
            url,
            data={"action": "update_payment_method", "method": "sepa_debit"},
        )
    assert resp.status_code == 303
    plan = await stripe_provider.complete_payment_method_update(acct, sub_id, "")
    assert plan.payment_method is not None and plan.payment_method.kind == "sepa_debit"
    await _renew(sandbox, sub_id, "paid")
    plan = await stripe_provider.fetch_subscription(acct, sub_id)
    assert plan.payment_method is not None and plan.payment_method.mandate_reference
    assert plan.payment_method.mandate_id and plan.payment_method.last4 == "3000"


async def test_start_subscription_is_for_mollie_only(
    sandbox: Sandbox, stripe_provider: StripeProvider
) -> None:
    with pytest.raises(ProviderRejected, match="Checkout"):
        await stripe_provider.start_subscription(
            sandbox.stripe_account, "cus_x", None, EUR_15, "monthly", "", {}, "k"
        )
