"""The Stripe adapter against the provider sandbox, spoken to through stripe-python."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from donate.domain.money import Money
from donate.providers.base import (
    CheckoutRequest,
    DisputeStatus,
    PaymentStatus,
    ProviderNotFound,
    ProviderUnavailable,
)
from donate.providers.stripe import StripeProvider

from .conftest import Sandbox

EUR_25 = Money(2500, "EUR")


def _request(amount: Money = EUR_25, **overrides: Any) -> CheckoutRequest:
    donation_id = f"don_{uuid.uuid4().hex[:10]}"
    values: dict[str, Any] = {
        "donation_id": donation_id,
        "amount": amount,
        "application_fee": Money(200, amount.currency),
        "description": "Don à l'association",
        "donor_email": "ada@example.org",
        "success_url": "https://donate.example/thanks",
        "cancel_url": "https://donate.example/cancel",
        "webhook_url": "https://donate.example/webhooks/stripe",
        "idempotency_key": f"donation:{donation_id}:checkout",
    }
    return CheckoutRequest(**(values | overrides))


async def _paid(
    sandbox: Sandbox, provider: StripeProvider, method: str = "card", **overrides: Any
) -> tuple[CheckoutRequest, str]:
    req = _request(**overrides)
    checkout = await provider.create_checkout(sandbox.stripe_account, req)
    await sandbox.control(
        "settle", {"id": checkout.checkout_id, "outcome": "paid", "method": method}
    )
    return req, checkout.checkout_id


async def test_checkout_is_open_until_paid(
    sandbox: Sandbox, stripe_provider: StripeProvider
) -> None:
    req = _request()
    checkout = await stripe_provider.create_checkout(sandbox.stripe_account, req)
    assert checkout.checkout_id.startswith("cs_")
    assert checkout.checkout_url == f"{sandbox.url}/pay/{checkout.checkout_id}"
    snap = await stripe_provider.fetch_payment(sandbox.stripe_account, checkout.checkout_id)
    assert snap.status is PaymentStatus.OPEN
    assert snap.amount == Money(2500, "EUR")
    assert snap.donation_id == req.donation_id
    assert snap.refunds == ()


async def test_paid_checkout(sandbox: Sandbox, stripe_provider: StripeProvider) -> None:
    req, cs_id = await _paid(sandbox, stripe_provider)
    snap = await stripe_provider.fetch_payment(sandbox.stripe_account, cs_id)
    assert snap.status is PaymentStatus.PAID
    assert snap.amount == Money(2500, "EUR")
    assert snap.checkout_id == cs_id
    assert snap.payment_id is not None
    assert snap.payment_id.startswith("pi_")
    assert snap.donation_id == req.donation_id
    assert snap.method == "card"
    assert snap.paid_at is not None
    # 1.5 % + 25 c of 25.00 € (the sandbox's card rate); our 2.00 € fee is not Stripe's.
    assert snap.fee == Money(63, "EUR")
    # The same payment, reached from its PaymentIntent.
    by_pi = await stripe_provider.fetch_payment(sandbox.stripe_account, snap.payment_id)
    assert by_pi.status is PaymentStatus.PAID
    assert by_pi.checkout_id == cs_id
    assert by_pi.amount == snap.amount


async def test_zero_decimal_currency(sandbox: Sandbox, stripe_provider: StripeProvider) -> None:
    _, cs_id = await _paid(sandbox, stripe_provider, amount=Money(3000, "JPY"))
    snap = await stripe_provider.fetch_payment(sandbox.stripe_account, cs_id)
    assert snap.amount == Money(3000, "JPY")


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        ("failed", PaymentStatus.OPEN),  # a declined card: the donor can try again
        ("expired", PaymentStatus.EXPIRED),
        ("pending", PaymentStatus.PENDING),
    ],
)
async def test_other_outcomes(
    sandbox: Sandbox, stripe_provider: StripeProvider, outcome: str, status: PaymentStatus
) -> None:
    checkout = await stripe_provider.create_checkout(sandbox.stripe_account, _request())
    method = "sepa_debit" if outcome == "pending" else "card"
    await sandbox.control(
        "settle", {"id": checkout.checkout_id, "outcome": outcome, "method": method}
    )
    snap = await stripe_provider.fetch_payment(sandbox.stripe_account, checkout.checkout_id)
    assert snap.status is status


async def test_expiry_is_passed_through(sandbox: Sandbox, stripe_provider: StripeProvider) -> None:
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    req = _request(expires_at=expires_at)
    checkout = await stripe_provider.create_checkout(sandbox.stripe_account, req)
    assert checkout.expires_at == expires_at


async def test_same_idempotency_key_creates_one_session(
    sandbox: Sandbox, stripe_provider: StripeProvider
) -> None:
    req = _request()
    first = await stripe_provider.create_checkout(sandbox.stripe_account, req)
    second = await stripe_provider.create_checkout(sandbox.stripe_account, req)
    assert first.checkout_id == second.checkout_id


async def test_partial_refund(sandbox: Sandbox, stripe_provider: StripeProvider) -> None:
    req, cs_id = await _paid(sandbox, stripe_provider)
    snap = await stripe_provider.fetch_payment(sandbox.stripe_account, cs_id)
    assert snap.payment_id is not None
    key = f"donation:{req.donation_id}:refund:1"
    refund = await stripe_provider.refund(
        sandbox.stripe_account, snap.payment_id, Money(1000, "EUR"), key
    )
    again = await stripe_provider.refund(
        sandbox.stripe_account, snap.payment_id, Money(1000, "EUR"), key
    )
    assert refund.refund_id == again.refund_id  # one refund for one key
    assert refund.amount == Money(1000, "EUR")
    assert refund.status in ("pending", "succeeded")
    after = await stripe_provider.fetch_payment(sandbox.stripe_account, cs_id)
    assert after.status is PaymentStatus.PAID
    assert after.refunded == Money(1000, "EUR")


async def test_chargeback(sandbox: Sandbox, stripe_provider: StripeProvider) -> None:
    _, cs_id = await _paid(sandbox, stripe_provider)
    snap = await stripe_provider.fetch_payment(sandbox.stripe_account, cs_id)
    await sandbox.control("chargeback", {"payment_id": snap.payment_id})
    after = await stripe_provider.fetch_payment(sandbox.stripe_account, cs_id)
    (dispute,) = after.disputes
    assert dispute.amount == Money(2500, "EUR")
    assert dispute.status is not DisputeStatus.WON
    assert after.disputed_lost == Money(2500, "EUR")


async def test_unknown_ids_are_not_found(sandbox: Sandbox, stripe_provider: StripeProvider) -> None:
    with pytest.raises(ProviderNotFound):
        await stripe_provider.fetch_payment(sandbox.stripe_account, "cs_test_doesnotexist")
    with pytest.raises(ProviderNotFound):
        await stripe_provider.fetch_payment(sandbox.stripe_account, "pi_doesnotexist")


async def test_api_errors_are_unavailable(
    sandbox: Sandbox, stripe_provider: StripeProvider, faults: Callable[..., Any]
) -> None:
    await faults(api_error_ratio=1.0)
    with pytest.raises(ProviderUnavailable):
        await stripe_provider.create_checkout(sandbox.stripe_account, _request())
    with pytest.raises(ProviderUnavailable):
        await stripe_provider.fetch_payment(sandbox.stripe_account, "cs_test_whatever")


async def test_sandbox_webhooks_verify(sandbox: Sandbox, stripe_provider: StripeProvider) -> None:
    _, cs_id = await _paid(sandbox, stripe_provider)

    def completed(body: bytes) -> bool:
        event = json.loads(body)
        return bool(
            event.get("type") == "checkout.session.completed"
            and event["data"]["object"]["id"] == cs_id
        )

    found = sandbox.hooks.wait_for("stripe", completed)
    assert found, "the sandbox sent no checkout.session.completed"
    body, headers = found[0]
    notice = stripe_provider.parse_webhook(body, headers)
    assert notice.object_id == notice.payment_ref == cs_id
    assert notice.account == sandbox.stripe_account.account_id
    assert notice.event_id.startswith("evt_")


async def test_payout_lines_add_up(sandbox: Sandbox, stripe_provider: StripeProvider) -> None:
    _, cs_id = await _paid(sandbox, stripe_provider)
    account = sandbox.stripe_account
    await sandbox.control("payout", {"provider": "stripe", "account": account.account_id})
    # One payout per currency (the JPY test paid too): take the newest in euros.
    payouts = [p for p in await stripe_provider.list_payouts(account) if p.amount.currency == "EUR"]
    assert payouts
    payout = payouts[0]
    assert payout.payout_id.startswith("po_")
    lines = await stripe_provider.list_payout_lines(account, payout.payout_id)
    movements = [line for line in lines if line.kind != "payout"]
    assert movements
    total = sum((line.net for line in movements), Money.zero(payout.amount.currency))
    assert total == payout.amount
    assert all(line.gross - line.fee == line.net for line in lines)
    snap = await stripe_provider.fetch_payment(account, cs_id)
    ours = [line for line in movements if line.payment_ref == snap.payment_id]
    assert [line.kind for line in ours] == ["payment"]
    assert ours[0].gross == Money(2500, "EUR")


async def test_undelivered_events_are_found(
    sandbox: Sandbox, stripe_provider: StripeProvider, faults: Callable[..., Any]
) -> None:
    await faults(webhook_drop_ratio=1.0)
    _, cs_id = await _paid(sandbox, stripe_provider)
    notices = await stripe_provider.list_pending_event_refs(sandbox.stripe_account)
    ours = [n for n in notices if n.payment_ref == cs_id]
    assert ours, "a dropped checkout.session.completed should be listed for catch-up"
    assert all(n.account == sandbox.stripe_account.account_id for n in ours)
