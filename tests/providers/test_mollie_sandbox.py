"""The Mollie adapter against the provider sandbox, spoken to through mollie-api-python."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from donate.domain.money import Money
from donate.providers.base import (
    CheckoutRequest,
    ConnectedAccount,
    DisputeStatus,
    PaymentStatus,
    ProviderNotFound,
    ProviderUnavailable,
)
from donate.providers.mollie import MollieProvider

from .conftest import Sandbox

EUR_25 = Money(2500, "EUR")


def _request(sandbox: Sandbox, amount: Money = EUR_25, **overrides: Any) -> CheckoutRequest:
    donation_id = f"don_{uuid.uuid4().hex[:10]}"
    values: dict[str, Any] = {
        "donation_id": donation_id,
        "amount": amount,
        "application_fee": None,
        "description": "Don à l'association",
        "donor_email": "ada@example.org",
        "success_url": "https://donate.example/thanks",
        "cancel_url": "https://donate.example/cancel",
        "webhook_url": f"{sandbox.hooks_url}/hooks/mollie",
        "idempotency_key": f"donation:{donation_id}:checkout",
    }
    return CheckoutRequest(**(values | overrides))


async def _paid(
    sandbox: Sandbox, provider: MollieProvider, account: ConnectedAccount | None = None, **kw: Any
) -> tuple[CheckoutRequest, str]:
    req = _request(sandbox, **kw)
    checkout = await provider.create_checkout(account or sandbox.mollie_key_account, req)
    await sandbox.control(
        "settle", {"id": checkout.checkout_id, "outcome": "paid", "method": "ideal"}
    )
    return req, checkout.checkout_id


async def test_payment_is_open_until_paid(
    sandbox: Sandbox, mollie_provider: MollieProvider
) -> None:
    req = _request(sandbox)
    checkout = await mollie_provider.create_checkout(sandbox.mollie_key_account, req)
    assert checkout.checkout_id == checkout.payment_id
    assert checkout.checkout_id.startswith("tr_")
    assert checkout.checkout_url == f"{sandbox.url}/pay/{checkout.checkout_id}"
    snap = await mollie_provider.fetch_payment(sandbox.mollie_key_account, checkout.checkout_id)
    assert snap.status is PaymentStatus.OPEN
    assert snap.amount == Money(2500, "EUR")
    assert snap.donation_id == req.donation_id


async def test_paid_payment(sandbox: Sandbox, mollie_provider: MollieProvider) -> None:
    req, tr_id = await _paid(sandbox, mollie_provider)
    snap = await mollie_provider.fetch_payment(sandbox.mollie_key_account, tr_id)
    assert snap.status is PaymentStatus.PAID
    assert snap.amount == Money(2500, "EUR")
    assert snap.donation_id == req.donation_id
    assert snap.method == "ideal"
    assert snap.paid_at is not None
    assert snap.fee is None


async def test_oauth_with_application_fee(
    sandbox: Sandbox, mollie_provider: MollieProvider
) -> None:
    account = sandbox.mollie_oauth_account
    _, tr_id = await _paid(sandbox, mollie_provider, account, application_fee=Money(150, "EUR"))
    snap = await mollie_provider.fetch_payment(account, tr_id)
    assert snap.status is PaymentStatus.PAID


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        ("failed", PaymentStatus.FAILED),
        ("canceled", PaymentStatus.CANCELED),
        ("expired", PaymentStatus.EXPIRED),
        ("pending", PaymentStatus.PENDING),
    ],
)
async def test_other_outcomes(
    sandbox: Sandbox, mollie_provider: MollieProvider, outcome: str, status: PaymentStatus
) -> None:
    checkout = await mollie_provider.create_checkout(sandbox.mollie_key_account, _request(sandbox))
    await sandbox.control("settle", {"id": checkout.checkout_id, "outcome": outcome})
    snap = await mollie_provider.fetch_payment(sandbox.mollie_key_account, checkout.checkout_id)
    assert snap.status is status


async def test_same_idempotency_key_creates_one_payment(
    sandbox: Sandbox, mollie_provider: MollieProvider
) -> None:
    req = _request(sandbox)
    first = await mollie_provider.create_checkout(sandbox.mollie_key_account, req)
    second = await mollie_provider.create_checkout(sandbox.mollie_key_account, req)
    assert first.checkout_id == second.checkout_id


async def test_partial_refund(sandbox: Sandbox, mollie_provider: MollieProvider) -> None:
    req, tr_id = await _paid(sandbox, mollie_provider)
    account = sandbox.mollie_key_account
    key = f"donation:{req.donation_id}:refund:1"
    refund = await mollie_provider.refund(account, tr_id, Money(1000, "EUR"), key)
    again = await mollie_provider.refund(account, tr_id, Money(1000, "EUR"), key)
    assert refund.refund_id == again.refund_id
    assert refund.amount == Money(1000, "EUR")
    snap = await mollie_provider.fetch_payment(account, tr_id)
    assert snap.status is PaymentStatus.PAID
    assert snap.refunded == Money(1000, "EUR")


async def test_chargeback(sandbox: Sandbox, mollie_provider: MollieProvider) -> None:
    _, tr_id = await _paid(sandbox, mollie_provider)
    await sandbox.control("chargeback", {"payment_id": tr_id})
    snap = await mollie_provider.fetch_payment(sandbox.mollie_key_account, tr_id)
    (chargeback,) = snap.disputes
    assert chargeback.amount == Money(2500, "EUR")
    assert chargeback.status is DisputeStatus.LOST
    assert chargeback.dispute_id.startswith("chb_")


async def test_unknown_payment_is_not_found(
    sandbox: Sandbox, mollie_provider: MollieProvider
) -> None:
    with pytest.raises(ProviderNotFound):
        await mollie_provider.fetch_payment(sandbox.mollie_key_account, "tr_doesnotexist")


async def test_api_errors_are_unavailable(
    sandbox: Sandbox, mollie_provider: MollieProvider, faults: Callable[..., Any]
) -> None:
    await faults(api_error_ratio=1.0)
    with pytest.raises(ProviderUnavailable):
        await mollie_provider.create_checkout(sandbox.mollie_key_account, _request(sandbox))


async def test_webhook_from_the_sandbox(sandbox: Sandbox, mollie_provider: MollieProvider) -> None:
    _, tr_id = await _paid(sandbox, mollie_provider)
    found = sandbox.hooks.wait_for("mollie", lambda body: body == f"id={tr_id}".encode())
    assert found, "the sandbox sent no webhook for the paid payment"
    body, headers = found[0]
    notice = mollie_provider.parse_webhook(body, headers)
    assert notice.object_id == notice.payment_ref == tr_id
    assert notice.event_type == "payment"


async def test_settlement_lines_add_up(sandbox: Sandbox, mollie_provider: MollieProvider) -> None:
    account = sandbox.mollie_oauth_account  # settlements need an organization-level token
    _, tr_id = await _paid(sandbox, mollie_provider, account)
    await sandbox.control("payout", {"provider": "mollie", "account": account.account_id})
    payouts = await mollie_provider.list_payouts(account)
    assert payouts
    settlement = payouts[0]
    assert settlement.payout_id.startswith("stl_")
    lines = await mollie_provider.list_payout_lines(account, settlement.payout_id)
    total = sum((line.net for line in lines), Money.zero(settlement.amount.currency))
    assert total == settlement.amount
    ours = [line for line in lines if line.payment_ref == tr_id]
    assert [line.kind for line in ours] == ["payment"]
    assert ours[0].gross == Money(2500, "EUR")
