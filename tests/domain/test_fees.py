from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from donate.domain.errors import InvalidAmount
from donate.domain.fees import estimate_fee, gross_up_for_fees
from donate.domain.money import Money

EUR = "EUR"

METHODS: list[tuple[str, str | None]] = [
    ("stripe", None),
    ("stripe", "card"),
    ("stripe", "sepa_debit"),
    ("mollie", None),
    ("mollie", "card"),
    ("mollie", "creditcard"),
    ("mollie", "ideal"),
    ("mollie", "bancontact"),
    ("mollie", "sepa_debit"),
    ("mollie", "directdebit"),
    ("mollie", "banktransfer"),
]


@pytest.mark.parametrize(
    ("provider", "method", "amount", "fee"),
    [
        ("stripe", "card", 1000, 40),  # 15 + 25
        ("stripe", None, 1000, 40),
        ("stripe", "card", 1001, 41),  # 15.015 rounds up to 16
        ("stripe", "card", 100_00, 175),
        ("stripe", "sepa_debit", 1000, 35),
        ("stripe", "sepa_debit", 5000_00, 35),
        ("stripe", "klarna", 1000, 40),  # unknown method: card rate
        ("mollie", "card", 1000, 43),  # 18 + 25
        ("mollie", "creditcard", 1001, 44),  # 18.018 rounds up to 19
        ("mollie", "ideal", 1000, 29),
        ("mollie", "bancontact", 100_00, 39),
        ("mollie", "sepa_debit", 1000, 25),
        ("mollie", "directdebit", 1000, 25),
        ("stripe", "card", 1, 26),
        ("stripe", "card", 0, 0),  # no payment, no fee
    ],
)
def test_estimate_fee_eur(provider: str, method: str | None, amount: int, fee: int) -> None:
    assert estimate_fee(provider, method, Money(amount, EUR)) == Money(fee, EUR)


@pytest.mark.parametrize(
    ("provider", "method", "amount", "fee"),
    [
        ("stripe", "card", Money(1000, "USD"), Money(15, "USD")),  # percentage only
        ("stripe", "card", Money(1000, "JPY"), Money(15, "JPY")),
        ("stripe", "card", Money(1, "JPY"), Money(1, "JPY")),
        ("mollie", "card", Money(10_000, "KWD"), Money(180, "KWD")),
        ("mollie", "ideal", Money(1000, "GBP"), Money(0, "GBP")),  # flat EUR fee unknown in GBP
    ],
)
def test_estimate_fee_other_currencies(
    provider: str, method: str | None, amount: Money, fee: Money
) -> None:
    assert estimate_fee(provider, method, amount) == fee


def test_unknown_provider_refused() -> None:
    with pytest.raises(ValueError, match="no fee schedule"):
        estimate_fee("paypal", None, Money(1000, EUR))
    with pytest.raises(ValueError, match="no fee schedule"):
        gross_up_for_fees("paypal", None, Money(1000, EUR))


def test_negative_amount_refused() -> None:
    with pytest.raises(InvalidAmount):
        estimate_fee("stripe", "card", Money(-1, EUR))
    with pytest.raises(InvalidAmount):
        gross_up_for_fees("stripe", "card", Money(-1, EUR))


@pytest.mark.parametrize(
    ("provider", "method", "gift", "extra"),
    [
        # 10.00 € by card on Stripe: charge 10.41, fee ceil(15.615) + 25 = 41, net 10.00.
        ("stripe", "card", 1000, 41),
        ("stripe", "sepa_debit", 1000, 35),
        ("mollie", "ideal", 2500, 29),
        ("mollie", "card", 1000, 44),
        ("stripe", "card", 0, 0),
    ],
)
def test_gross_up_examples(provider: str, method: str | None, gift: int, extra: int) -> None:
    got = gross_up_for_fees(provider, method, Money(gift, EUR))
    assert got == Money(extra, EUR)
    charge = Money(gift + extra, EUR)
    assert charge - estimate_fee(provider, method, charge) >= Money(gift, EUR)


@given(
    st.sampled_from(METHODS),
    st.sampled_from(["EUR", "EUR", "USD", "JPY", "KWD"]),
    st.integers(min_value=0, max_value=10**12),
)
def test_estimate_fee_bounds(method: tuple[str, str | None], currency: str, minor: int) -> None:
    amount = Money(minor, currency)
    fee = estimate_fee(*method, amount)
    assert fee.currency == currency
    assert fee.minor >= 0
    assert fee.minor <= minor * 2 // 100 + 1 + 39  # never above 2 % + the largest fixed part
    if minor == 0:
        assert fee.minor == 0


@given(
    st.sampled_from(METHODS),
    st.sampled_from(["EUR", "EUR", "USD", "JPY", "KWD"]),
    st.integers(min_value=0, max_value=10**12),
)
def test_gross_up_covers_the_fee_and_is_minimal(
    method: tuple[str, str | None], currency: str, minor: int
) -> None:
    gift = Money(minor, currency)
    extra = gross_up_for_fees(*method, gift)
    assert extra.minor >= 0
    charge = gift + extra
    assert charge - estimate_fee(*method, charge) >= gift
    if extra.minor > 0:
        # One minor unit less and the association would be short.
        smaller = charge - Money(1, currency)
        assert smaller - estimate_fee(*method, smaller) < gift


@given(st.sampled_from(METHODS), st.integers(min_value=0, max_value=10**9))
def test_fee_is_monotone(method: tuple[str, str | None], minor: int) -> None:
    a, b = Money(minor, EUR), Money(minor + 1, EUR)
    assert estimate_fee(*method, a) <= estimate_fee(*method, b)
