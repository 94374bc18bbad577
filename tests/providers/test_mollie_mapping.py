"""Mollie objects → our dataclasses, webhook parsing and error mapping (no network)."""

from __future__ import annotations

import pytest
from mollie.api.error import (
    IdentifierError,
    RequestError,
    RequestSetupError,
    ResponseError,
    ResponseHandlingError,
)

from donate.domain.errors import InvalidAmount
from donate.domain.money import Money
from donate.providers.base import (
    ConnectedAccount,
    DisputeStatus,
    PaymentStatus,
    ProviderError,
    ProviderNotFound,
    ProviderRejected,
    ProviderUnavailable,
    WebhookInvalid,
)
from donate.providers.mollie import MollieProvider, map_error
from donate.providers.mollie_mapping import (
    PAYMENT_STATUS,
    amount_param,
    chargeback_from,
    cost_lines,
    mollie_locale,
    money,
    payout_from,
    refund_from,
    settlement_lines,
    snapshot_from,
)

from .helpers import mollie_fixture


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("open", PaymentStatus.OPEN),
        ("pending", PaymentStatus.PENDING),
        ("authorized", PaymentStatus.PENDING),
        ("paid", PaymentStatus.PAID),
        ("canceled", PaymentStatus.CANCELED),
        ("expired", PaymentStatus.EXPIRED),
        ("failed", PaymentStatus.FAILED),
    ],
)
def test_payment_status(status: str, expected: PaymentStatus) -> None:
    payment = mollie_fixture("payment_single") | {"status": status}
    assert snapshot_from(payment).status is expected
    assert PAYMENT_STATUS[status] is expected


def test_unknown_payment_status_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown"):
        snapshot_from(mollie_fixture("payment_single") | {"status": "teleported"})


def test_snapshot_of_the_reference_payment() -> None:
    payment = mollie_fixture("payment_single") | {
        "status": "paid",
        "paidAt": "2018-03-20T09:14:37+00:00",
        "metadata": {"donation_id": "don_9"},
    }
    refunds = mollie_fixture("refunds_list")["_embedded"]["refunds"]
    chargebacks = mollie_fixture("chargebacks_list")["_embedded"]["chargebacks"]
    snap = snapshot_from(payment, refunds, chargebacks)
    assert snap.provider == "mollie"
    assert snap.checkout_id == snap.payment_id == "tr_7UhSN1zuXS"
    assert snap.amount == Money(1000, "EUR")
    assert snap.donation_id == "don_9"
    assert snap.method == "ideal"
    assert snap.fee is None
    assert snap.paid_at is not None
    assert snap.paid_at.isoformat() == "2018-03-20T09:14:37+00:00"
    assert snap.customer_id == "cst_8wmqcHMN4U"
    assert snap.subscription_id == "sub_rVKGtNd6s3"
    assert snap.refunds[0].refund_id == "re_4qqhO89gsT"
    assert snap.refunds[0].status == "pending"
    assert snap.refunded == Money(595, "EUR")


def test_snapshot_without_metadata_or_method() -> None:
    payment = mollie_fixture("payment_canceled")
    snap = snapshot_from(payment | {"metadata": None, "method": None})
    assert snap.status is PaymentStatus.CANCELED
    assert snap.donation_id is None
    assert snap.method is None


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("queued", "pending"),
        ("pending", "pending"),
        ("processing", "pending"),
        ("refunded", "succeeded"),
        ("failed", "failed"),
        ("canceled", "canceled"),
    ],
)
def test_refund_status(status: str, expected: str) -> None:
    refund = refund_from(mollie_fixture("refund_single") | {"status": status})
    assert refund.status == expected
    assert refund.amount == Money(595, "EUR")
    assert refund.created_at is not None


def test_chargeback_reversal_is_won_otherwise_lost() -> None:
    reversed_ = chargeback_from(mollie_fixture("payment_chargeback_single"))
    assert reversed_.status is DisputeStatus.WON
    assert reversed_.amount == Money(4338, "USD")
    standing = chargeback_from(mollie_fixture("payment_chargeback_single") | {"reversedAt": None})
    assert standing.status is DisputeStatus.LOST


@pytest.mark.parametrize(
    ("amount", "wire"),
    [
        (Money(1000, "EUR"), {"currency": "EUR", "value": "10.00"}),
        (Money(5, "EUR"), {"currency": "EUR", "value": "0.05"}),
        (Money(1000, "JPY"), {"currency": "JPY", "value": "1000"}),
        (Money(1234, "KWD"), {"currency": "KWD", "value": "1.234"}),
    ],
)
def test_amount_round_trip(amount: Money, wire: dict[str, str]) -> None:
    assert amount_param(amount) == wire
    assert money(wire) == amount


def test_amount_with_too_many_decimals_is_refused() -> None:
    with pytest.raises(InvalidAmount):
        money({"currency": "JPY", "value": "10.50"})


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("fr", "fr_FR"),
        ("en", "en_US"),
        ("nl", "nl_NL"),
        ("de", "de_DE"),
        ("fr-BE", "fr_BE"),  # a full locale of a known language passes through
        ("fr_FR", "fr_FR"),
        ("nl_BE", "nl_BE"),
        ("xx", None),
    ],
)
def test_locale(locale: str, expected: str | None) -> None:
    assert mollie_locale(locale) == expected


def test_settlement_payout() -> None:
    payout = payout_from(mollie_fixture("settlement_single"))
    assert payout.payout_id == "stl_jDk30akdN"
    assert payout.amount == Money(3975, "EUR")
    assert payout.status == "pending"  # "open": still collecting
    assert payout.arrival_date is not None
    assert payout.arrival_date.isoformat() == "2018-04-06"


def test_settlement_costs_round_to_the_deducted_total() -> None:
    lines = cost_lines(mollie_fixture("settlement_single"))
    # 2.5410 + 0.6050 = 3.1460 → 3.15, split so the lines add up to it.
    assert [line.fee for line in lines] == [Money(254, "EUR"), Money(61, "EUR")]
    assert all(line.kind == "fee" and line.net == -line.fee for line in lines)
    assert lines[0].line_id == "stl_jDk30akdN:cost:2018-04:0"


def test_settlement_lines_sign_money_leaving_the_balance() -> None:
    settlement = mollie_fixture("settlement_single")
    payment = mollie_fixture("payment_single")
    refund = mollie_fixture("refund_single")
    chargeback = mollie_fixture("settlement_chargebacks_list")["_embedded"]["chargebacks"][0]
    lines = settlement_lines(settlement, [payment], [refund], [chargeback])
    kinds = [line.kind for line in lines]
    assert kinds == ["payment", "refund", "dispute", "fee", "fee"]
    pay, ref, chb = lines[:3]
    assert pay.gross == Money(3975, "EUR")  # settlementAmount wins over amount
    assert pay.payment_ref == pay.source_id == "tr_7UhSN1zuXS"
    assert ref.gross == Money(-1000, "EUR")
    assert ref.payment_ref == "tr_7UhSN1zuXS"
    assert chb.gross == Money(-3507, "EUR")
    assert chb.line_id == "stl_jDk30akdN:chb_n9z0tp"
    assert all(line.gross - line.fee == line.net for line in lines)


# --- webhooks ---------------------------------------------------------------------------------


@pytest.fixture
def provider() -> MollieProvider:
    return MollieProvider(api_base="http://127.0.0.1:9")


@pytest.mark.parametrize(
    ("body", "object_id", "event_type", "ref"),
    [
        (b"id=tr_d0b0E3EA3v", "tr_d0b0E3EA3v", "payment", "tr_d0b0E3EA3v"),
        (b"id=sub_8JfGzs6v3K", "sub_8JfGzs6v3K", "subscription", None),
        (b"id=ord_pbjz8x", "ord_pbjz8x", "order", None),
        (b"id=pl_4Y0eZitmBnQ6IDoMqZQKh", "pl_4Y0eZitmBnQ6IDoMqZQKh", "payment_link", None),
    ],
)
def test_webhook_ids(
    provider: MollieProvider, body: bytes, object_id: str, event_type: str, ref: str | None
) -> None:
    notice = provider.parse_webhook(body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert notice.provider == "mollie"
    assert notice.object_id == object_id
    assert notice.event_type == event_type
    assert notice.payment_ref == ref
    assert notice.account is None
    assert notice.livemode is False
    assert notice.event_id.startswith(f"{object_id}:")


def test_webhook_event_ids_are_never_deduplicated(provider: MollieProvider) -> None:
    """The same body arrives for every state change: each call must be processed."""
    first = provider.parse_webhook(b"id=tr_abc", {})
    second = provider.parse_webhook(b"id=tr_abc", {})
    assert first.event_id != second.event_id
    assert first.object_id == second.object_id


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"id=",
        b"id=tr_",
        b"id=xx_abc",
        b"id=tr_abc&id=tr_def",
        b"id=tr_abc%27%3B--",
        b"id=tr_" + b"a" * 65,
        b"foo=tr_abc",
        b'{"id": "tr_abc"}',
        b"id=tr_\xff",
        b"garbage",
    ],
)
def test_malformed_webhooks_are_refused(provider: MollieProvider, body: bytes) -> None:
    with pytest.raises(WebhookInvalid):
        provider.parse_webhook(body, {})


async def test_pending_event_refs_is_empty(provider: MollieProvider) -> None:
    assert await provider.list_pending_event_refs(None) == []


# --- errors and credentials -------------------------------------------------------------------


def _response_error(status: int) -> ResponseError:
    return ResponseError.factory({"status": status, "title": "x", "detail": "d"})


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (RequestError("Unable to communicate with Mollie"), ProviderUnavailable),
        (ResponseHandlingError("not JSON"), ProviderUnavailable),
        (IdentifierError("Invalid payment ID"), ProviderNotFound),
        (RequestSetupError("Invalid API key"), ProviderRejected),
        (_response_error(404), ProviderNotFound),
        (_response_error(410), ProviderNotFound),
        (_response_error(400), ProviderRejected),
        (_response_error(401), ProviderRejected),
        (_response_error(422), ProviderRejected),
        (_response_error(429), ProviderUnavailable),
        (_response_error(500), ProviderUnavailable),
        (_response_error(503), ProviderUnavailable),
    ],
)
def test_error_mapping(error: Exception, expected: type[ProviderError]) -> None:
    assert type(map_error(error)) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize("token", [None, "", "sk_test_stripe", "test_", "access"])
async def test_unusable_tokens_are_rejected(provider: MollieProvider, token: str | None) -> None:
    account = ConnectedAccount(provider="mollie", account_id="org_1", access_token=token)
    with pytest.raises(ProviderRejected):
        await provider.fetch_payment(account, "tr_abc")


async def test_a_live_key_is_refused_in_test_mode(provider: MollieProvider) -> None:
    account = ConnectedAccount(provider="mollie", account_id="org_1", access_token="live_abcdef")
    with pytest.raises(ProviderRejected, match="livemode"):
        await provider.fetch_payment(account, "tr_abc")


async def test_a_malformed_payment_id_is_not_found(provider: MollieProvider) -> None:
    account = ConnectedAccount(provider="mollie", account_id="org_1", access_token="test_abc")
    with pytest.raises(ProviderNotFound):
        await provider.fetch_payment(account, "cs_stripe")


def test_subscription_webhook_names_the_subscription() -> None:
    from donate.providers.mollie import MollieProvider

    notice = MollieProvider().parse_webhook(b"id=sub_8JfGzs6v3K", {})
    assert (notice.subscription_id, notice.payment_ref) == ("sub_8JfGzs6v3K", None)
    payment = MollieProvider().parse_webhook(b"id=tr_WDqYK6vllg", {})
    assert payment.subscription_id is None
