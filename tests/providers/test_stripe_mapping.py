"""Stripe objects → our dataclasses, status normalisation and error mapping (no network)."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from donate.domain.money import Money
from donate.providers.base import (
    DisputeStatus,
    PaymentStatus,
    ProviderError,
    ProviderNotFound,
    ProviderRejected,
    ProviderUnavailable,
)
from donate.providers.stripe import map_error
from donate.providers.stripe_mapping import (
    money,
    normalise_status,
    payout_from,
    payout_line_from,
    payout_line_kind,
    snapshot_from,
    stripe_locale,
)

from .helpers import stripe_object

P = PaymentStatus


@pytest.mark.parametrize(
    ("session", "payment", "intent", "error", "expected"),
    [
        ("open", "unpaid", None, False, P.OPEN),
        ("open", "unpaid", "requires_payment_method", True, P.OPEN),  # declined: may retry
        ("open", "unpaid", "requires_action", False, P.OPEN),
        ("complete", "paid", "succeeded", False, P.PAID),
        ("complete", "paid", None, False, P.PAID),
        ("complete", "no_payment_required", None, False, P.PAID),
        ("complete", "unpaid", "processing", False, P.PENDING),  # SEPA submitted
        ("complete", "unpaid", None, False, P.PENDING),
        ("complete", "unpaid", "requires_payment_method", True, P.FAILED),  # SEPA failed
        ("expired", "unpaid", None, False, P.EXPIRED),
        ("expired", "unpaid", "canceled", False, P.EXPIRED),
        ("open", "unpaid", "canceled", False, P.CANCELED),
        (None, None, "succeeded", False, P.PAID),
        (None, None, "processing", False, P.PENDING),
        (None, None, "requires_capture", False, P.PENDING),
        (None, None, "canceled", False, P.CANCELED),
        (None, None, "requires_payment_method", False, P.OPEN),
        (None, None, "requires_payment_method", True, P.FAILED),
        (None, None, "requires_confirmation", False, P.OPEN),
    ],
)
def test_status_normalisation(
    session: str | None, payment: str | None, intent: str | None, error: bool, expected: P
) -> None:
    assert normalise_status(session, payment, intent, error) is expected


def _paid_session(currency: str = "eur", amount: int = 2500) -> dict[str, Any]:
    txn = stripe_object("balance_transaction")
    txn |= {"currency": currency, "fee": 120, "net": amount - 120}
    txn["fee_details"] = [
        {"amount": 45, "currency": currency, "type": "stripe_fee", "description": "Stripe"},
        {"amount": 75, "currency": currency, "type": "application_fee", "description": "tip"},
    ]
    charge = stripe_object("charge") | {"balance_transaction": txn, "currency": currency}
    intent = stripe_object("payment_intent") | {
        "status": "succeeded",
        "amount": amount,
        "currency": currency,
        "latest_charge": charge,
        "metadata": {"donation_id": "don_7"},
        "customer": "cus_1",
    }
    return stripe_object("checkout.session") | {
        "status": "complete",
        "payment_status": "paid",
        "amount_total": amount,
        "currency": currency,
        "payment_intent": intent,
        "metadata": {"donation_id": "don_7"},
    }


def test_snapshot_of_a_paid_session_with_expanded_intent() -> None:
    session = _paid_session()
    refund = stripe_object("refund") | {"amount": 500, "currency": "eur", "status": "pending"}
    dispute = stripe_object("dispute") | {"amount": 2500, "currency": "eur", "status": "lost"}
    snap = snapshot_from(session, session["payment_intent"], [refund], [dispute])
    assert snap.status is PaymentStatus.PAID
    assert snap.amount == Money(2500, "EUR")
    assert snap.checkout_id == session["id"]
    assert snap.payment_id == "pi_1PgafyB7WZ01zgkWSjxsAJo3"
    assert snap.donation_id == "don_7"
    # The application fee is ours, not Stripe's processing fee.
    assert snap.fee == Money(45, "EUR")
    assert snap.method == "card"
    assert snap.paid_at is not None
    assert snap.customer_id == "cus_1"
    assert snap.refunded == Money(500, "EUR")
    assert snap.disputes[0].status is DisputeStatus.LOST
    assert snap.disputed_lost == Money(2500, "EUR")


def test_snapshot_in_a_zero_decimal_currency() -> None:
    session = _paid_session(currency="jpy", amount=1000)
    snap = snapshot_from(session, session["payment_intent"])
    assert snap.amount == Money(1000, "JPY")
    assert snap.amount.to_decimal_text() == "1000"
    assert snap.fee == Money(45, "JPY")


def test_snapshot_of_an_open_session_without_intent() -> None:
    session = stripe_object("checkout.session") | {
        "status": "open",
        "payment_intent": None,
        "amount_total": 1000,
        "currency": "eur",
        "payment_method_types": ["card", "sepa_debit"],
    }
    snap = snapshot_from(session, None)
    assert snap.status is PaymentStatus.OPEN
    assert snap.payment_id is None
    assert snap.fee is None
    assert snap.method is None
    assert snap.paid_at is None
    assert snap.donation_id is None


def test_snapshot_of_a_bare_payment_intent() -> None:
    intent = stripe_object("payment_intent") | {"status": "processing"}
    snap = snapshot_from(None, intent)
    assert snap.status is PaymentStatus.PENDING
    assert snap.amount == Money(1099, "USD")
    assert snap.checkout_id is None
    assert snap.method == "card"  # the only payment method type


def test_snapshot_needs_something() -> None:
    with pytest.raises(ValueError, match="need"):
        snapshot_from(None, None)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("won", DisputeStatus.WON),
        ("warning_closed", DisputeStatus.WON),
        ("lost", DisputeStatus.LOST),
        ("needs_response", DisputeStatus.OPEN),
        ("under_review", DisputeStatus.OPEN),
        ("warning_needs_response", DisputeStatus.OPEN),
    ],
)
def test_dispute_status(status: str, expected: DisputeStatus) -> None:
    dispute = stripe_object("dispute") | {"status": status}
    intent = stripe_object("payment_intent")
    assert snapshot_from(None, intent, [], [dispute]).disputes[0].status is expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("pending", "pending"),
        ("requires_action", "pending"),
        ("succeeded", "succeeded"),
        ("failed", "failed"),
        ("canceled", "canceled"),
    ],
)
def test_refund_status(status: str, expected: str) -> None:
    refund = stripe_object("refund") | {"status": status}
    snap = snapshot_from(None, stripe_object("payment_intent"), [refund])
    assert snap.refunds[0].status == expected
    assert snap.refunds[0].amount == Money(100, "USD")


@pytest.mark.parametrize(
    ("txn_type", "category", "kind"),
    [
        ("charge", "charge", "payment"),
        ("payment", "charge", "payment"),
        ("refund", "refund", "refund"),
        ("payment_refund", "refund", "refund"),
        ("adjustment", "dispute", "dispute"),
        ("adjustment", "dispute_reversal", "dispute"),
        ("adjustment", "other_adjustment", "adjustment"),
        ("application_fee", "platform_earning", "application_fee"),
        ("stripe_fee", "fee", "fee"),
        ("payout", "payout", "payout"),
        ("something_new", None, "adjustment"),
    ],
)
def test_payout_line_kind(txn_type: str, category: str | None, kind: str) -> None:
    assert payout_line_kind(txn_type, category) == kind


def test_payout_line_with_expanded_source() -> None:
    txn = stripe_object("balance_transaction") | {"amount": 2500, "fee": 120, "net": 2380}
    txn["currency"] = "eur"
    txn["source"] = stripe_object("charge") | {"payment_intent": "pi_9"}
    line = payout_line_from(txn)
    assert line.line_id == "txn_1PgaxNB7WZ01zgkWEV3TLf40"
    assert line.kind == "payment"
    assert line.source_id == "ch_1PgafuB7WZ01zgkWXYmPNZs8"
    assert line.payment_ref == "pi_9"
    assert (line.gross, line.fee, line.net) == (
        Money(2500, "EUR"),
        Money(120, "EUR"),
        Money(2380, "EUR"),
    )


def test_payout_line_with_unexpanded_source() -> None:
    line = payout_line_from(stripe_object("balance_transaction"))
    assert line.source_id == "ch_1PgafuB7WZ01zgkWXYmPNZs8"
    assert line.payment_ref is None
    assert line.gross == Money(100, "USD")


def test_payout() -> None:
    payout = payout_from(stripe_object("payout"))
    assert payout.payout_id == "po_1Pgc79B7WZ01zgkWu1KToYf4"
    assert payout.amount == Money(1100, "USD")
    assert payout.status == "in_transit"
    assert payout.arrival_date is not None
    assert payout.created_at is not None


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("fr", "fr"), ("fr-FR", "fr"), ("fr_FR", "fr"), ("EN", "en"), ("xx", "auto"), ("", "auto")],
)
def test_locale(locale: str, expected: str) -> None:
    assert stripe_locale(locale) == expected


def test_money_is_upper_case_minor_units() -> None:
    assert money(1050, "eur") == Money(1050, "EUR")
    with pytest.raises(ValueError, match="not a Stripe amount"):
        money("10.50", "eur")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (stripe.APIConnectionError("down"), ProviderUnavailable),
        (stripe.RateLimitError("slow down", http_status=429), ProviderUnavailable),
        (stripe.APIError("boom", http_status=500), ProviderUnavailable),
        (stripe.APIError("boom", http_status=503), ProviderUnavailable),
        (stripe.IdempotencyError("in use", http_status=409), ProviderUnavailable),
        (
            stripe.InvalidRequestError("No such", "id", code="resource_missing", http_status=404),
            ProviderNotFound,
        ),
        (stripe.InvalidRequestError("bad", "amount", http_status=400), ProviderRejected),
        (stripe.AuthenticationError("bad key", http_status=401), ProviderRejected),
        (stripe.PermissionError("no", http_status=403), ProviderRejected),
        (stripe.CardError("declined", None, "card_declined", http_status=402), ProviderRejected),
    ],
)
def test_error_mapping(error: stripe.StripeError, expected: type[ProviderError]) -> None:
    assert type(map_error(error)) is expected
