from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from donate.domain.errors import CurrencyMismatch, DomainError, InvalidAmount
from donate.domain.money import ISO_4217, Money, check_currency, exponent

# One currency per ISO exponent, so every branch of the text format is exercised.
CURRENCY_BY_EXPONENT = {0: "JPY", 2: "EUR", 3: "KWD", 4: "CLF"}

currencies = st.sampled_from(sorted(ISO_4217))
minors = st.integers(min_value=-(10**15), max_value=10**15)


@st.composite
def money(draw: st.DrawFn, currency: str | None = None) -> Money:
    return Money(draw(minors), currency or draw(currencies))


# --- currencies ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "digits"),
    [
        ("EUR", 2),
        ("USD", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("ISK", 0),
        ("KWD", 3),
        ("TND", 3),
        ("CLF", 4),
        ("UYW", 4),
    ],
)
def test_exponent(currency: str, digits: int) -> None:
    assert exponent(currency) == digits


@pytest.mark.parametrize("code", ["", "eur", "EURO", "XXX", "XAU", "FRF", "HRK", " EUR"])
def test_unknown_currency_refused(code: str) -> None:
    with pytest.raises(InvalidAmount, match="unknown ISO 4217"):
        check_currency(code)
    with pytest.raises(InvalidAmount):
        exponent(code)
    with pytest.raises(InvalidAmount):
        Money(100, code)


def test_errors_are_domain_errors_and_value_errors() -> None:
    assert issubclass(InvalidAmount, DomainError)
    assert issubclass(CurrencyMismatch, DomainError)
    assert issubclass(InvalidAmount, ValueError)


# --- construction -------------------------------------------------------------------------------


@pytest.mark.parametrize("minor", [1.0, 10.5, "100", None, True, False])
def test_minor_must_be_an_exact_int(minor: Any) -> None:
    # bool is an int subclass; True cents would be a silent bug, so type(x) is int is required.
    with pytest.raises(InvalidAmount, match="must be an int"):
        Money(minor, "EUR")


def test_int_subclass_refused() -> None:
    class Cents(int):
        pass

    with pytest.raises(InvalidAmount):
        Money(Cents(5), "EUR")


def test_value_semantics() -> None:
    assert Money(1050, "EUR") == Money(1050, "EUR")
    assert Money(1050, "EUR") != Money(1050, "USD")
    assert len({Money(1, "EUR"), Money(1, "EUR"), Money(1, "USD")}) == 2
    assert Money.zero("JPY") == Money(0, "JPY")
    assert not Money.zero("EUR")
    assert Money(-1, "EUR")
    with pytest.raises(AttributeError):
        Money(1, "EUR").minor = 2  # type: ignore[misc]


# --- arithmetic ---------------------------------------------------------------------------------


def test_arithmetic_examples() -> None:
    a, b = Money(1050, "EUR"), Money(250, "EUR")
    assert a + b == Money(1300, "EUR")
    assert a - b == Money(800, "EUR")
    assert b - a == Money(-800, "EUR")
    assert -a == Money(-1050, "EUR")
    assert a * 3 == 3 * a == Money(3150, "EUR")
    assert b < a
    assert b <= a
    assert a > b
    assert a >= b
    assert a <= a


@pytest.mark.parametrize("factor", [1.5, True, "2"])
def test_multiplication_by_non_int_refused(factor: Any) -> None:
    with pytest.raises(TypeError):
        Money(100, "EUR") * factor


def test_combining_with_non_money_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        Money(100, "EUR") + 1  # type: ignore[operator]


@given(st.data(), currencies)
def test_addition_commutative_and_associative(data: st.DataObject, currency: str) -> None:
    a, b, c = (data.draw(money(currency)) for _ in range(3))
    assert a + b == b + a
    assert (a + b) + c == a + (b + c)
    assert a + Money.zero(currency) == a


@given(money())
def test_subtracting_itself_gives_zero(m: Money) -> None:
    assert m - m == Money.zero(m.currency)
    assert m + (-m) == Money.zero(m.currency)


@given(money(), money())
def test_mixed_currencies_raise(a: Money, b: Money) -> None:
    if a.currency == b.currency:
        assert (a + b).minor == a.minor + b.minor
        return
    for op in (
        lambda: a + b,
        lambda: a - b,
        lambda: a < b,
        lambda: a <= b,
        lambda: a > b,
        lambda: a >= b,
    ):
        with pytest.raises(CurrencyMismatch):
            op()


@given(money("EUR"), money("EUR"))
def test_ordering_follows_minor_units(a: Money, b: Money) -> None:
    assert (a < b) == (a.minor < b.minor)
    assert (a >= b) == (a.minor >= b.minor)


# --- decimal text (the Mollie wire format) ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("10.50", "EUR", 1050),
        ("10.5", "EUR", 1050),
        ("10", "EUR", 1000),
        ("0.01", "EUR", 1),
        ("-0.01", "EUR", -1),
        ("-0.00", "EUR", 0),
        (" 10.00\n", "EUR", 1000),
        ("10.500", "EUR", 1050),  # exact value: trailing zeros are harmless
        ("1000", "JPY", 1000),
        ("1000.0", "JPY", 1000),
        ("1.234", "KWD", 1234),
        ("0.0001", "CLF", 1),
        # Past Decimal's 28 significant digits: must stay exact.
        ("12345678901234567890123456789.05", "EUR", 1234567890123456789012345678905),
    ],
)
def test_from_decimal_text(text: str, currency: str, minor: int) -> None:
    assert Money.from_decimal_text(text, currency) == Money(minor, currency)


@pytest.mark.parametrize(
    "text",
    [
        *("", " ", "abc", "1e3", "1E3", "10,50", "+10", "10.", ".5", "1 000", "--1", "0x10"),
        *("NaN", "Infinity", "١٠", "１０", "10.5€", "10.5.0", "-", "1_000", "9" * 65),
    ],
)
def test_from_decimal_text_refuses_garbage(text: str) -> None:
    with pytest.raises(InvalidAmount, match="not a decimal amount"):
        Money.from_decimal_text(text, "EUR")


@pytest.mark.parametrize(
    ("text", "currency"),
    [("10.505", "EUR"), ("0.001", "EUR"), ("1.5", "JPY"), ("1.2345", "KWD"), ("0.00001", "CLF")],
)
def test_from_decimal_text_refuses_too_many_decimals(text: str, currency: str) -> None:
    with pytest.raises(InvalidAmount, match="more than"):
        Money.from_decimal_text(text, currency)


def test_from_decimal_text_refuses_unknown_currency() -> None:
    with pytest.raises(InvalidAmount, match="unknown ISO 4217"):
        Money.from_decimal_text("10.00", "XYZ")


@pytest.mark.parametrize(
    ("m", "text"),
    [
        (Money(1050, "EUR"), "10.50"),
        (Money(5, "EUR"), "0.05"),
        (Money(-5, "EUR"), "-0.05"),
        (Money(0, "EUR"), "0.00"),
        (Money(1000, "JPY"), "1000"),
        (Money(-7, "JPY"), "-7"),
        (Money(1234, "KWD"), "1.234"),
        (Money(1, "CLF"), "0.0001"),
    ],
)
def test_to_decimal_text(m: Money, text: str) -> None:
    assert m.to_decimal_text() == text
    assert str(m) == f"{text} {m.currency}"


@given(st.sampled_from(sorted(CURRENCY_BY_EXPONENT.items())), minors)
def test_decimal_text_round_trip_every_exponent(item: tuple[int, str], minor: int) -> None:
    digits, currency = item
    m = Money(minor, currency)
    text = m.to_decimal_text()
    assert Money.from_decimal_text(text, currency) == m
    # Exactly the currency's decimals, never more, never fewer.
    assert len(text.partition(".")[2]) == digits


@given(money())
def test_decimal_text_round_trip_any_currency(m: Money) -> None:
    assert Money.from_decimal_text(m.to_decimal_text(), m.currency) == m
