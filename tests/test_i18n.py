from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from donate.domain.errors import InvalidAmount
from donate.domain.money import Money
from donate.i18n import format_date, format_money, negotiate_locale, parse_money

NBSP, NNBSP, THIN = "\u00a0", "\u202f", "\u2009"

# --- format_money -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("m", "locale", "text"),
    [
        (Money(123450, "EUR"), "fr", f"1{NNBSP}234,50{NBSP}€"),
        (Money(123450, "EUR"), "en", "€1,234.50"),
        (Money(123450, "EUR"), "de", f"1.234,50{NBSP}€"),
        (Money(123450, "EUR"), "nl", f"€{NBSP}1.234,50"),
        (Money(5, "EUR"), "fr", f"0,05{NBSP}€"),
        (Money(0, "EUR"), "en", "€0.00"),
        (Money(-500, "EUR"), "fr", f"-5,00{NBSP}€"),
        # Zero-decimal currency: never "¥1,234.50", never rounded.
        (Money(1235, "JPY"), "en", "¥1,235"),
        (Money(1235, "JPY"), "fr", f"1{NNBSP}235{NBSP}JPY"),
        # ISO exponents, not Babel's 2: three and four decimals, all shown.
        (Money(1234567, "KWD"), "en", "KWD1,234.567"),
        (Money(1, "CLF"), "fr", f"0,0001{NBSP}CLF"),
        (Money(10**20 + 1, "EUR"), "en", "€1,000,000,000,000,000,000.01"),
        (Money(123450, "EUR"), "fr-BE", f"1{NNBSP}234,50{NBSP}€"),
    ],
)
def test_format_money(m: Money, locale: str, text: str) -> None:
    assert format_money(m, locale) == text


def test_format_money_default_locale_is_french() -> None:
    assert format_money(Money(1000, "EUR")) == f"10,00{NBSP}€"


# --- parse_money --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "locale", "currency", "minor"),
    [
        ("10", "fr", "EUR", 1000),
        ("10,5", "fr", "EUR", 1050),
        ("10,50", "fr", "EUR", 1050),
        ("  10,50  ", "fr", "EUR", 1050),
        ("1 000,50", "fr", "EUR", 100050),
        (f"1{NBSP}000,50", "fr", "EUR", 100050),
        (f"1{NNBSP}000,50", "fr", "EUR", 100050),
        (f"1{THIN}000{THIN}000", "fr", "EUR", 100000000),
        ("10.50", "fr", "EUR", 1050),  # the English mark is unambiguous here
        ("1 000.5", "fr", "EUR", 100050),
        ("10 €", "fr", "EUR", 1000),
        ("10€", "fr", "EUR", 1000),
        ("10 EUR", "fr", "EUR", 1000),
        ("0", "fr", "EUR", 0),  # callers enforce their minimum
        ("007", "fr", "EUR", 700),
        ("1,000.50", "en", "EUR", 100050),
        ("1000.50", "en", "EUR", 100050),
        ("€10", "en", "EUR", 1000),
        ("$1,000", "en", "USD", 100000),
        ("1.000,50", "de", "EUR", 100050),
        ("1.000", "de", "EUR", 100000),
        ("10,50 €", "nl", "EUR", 1050),
        ("1’000.50", "de_CH", "CHF", 100050),
        ("1'000.50", "de_CH", "CHF", 100050),
        ("1 235", "fr", "JPY", 1235),
        ("¥1,235", "en", "JPY", 1235),
        ("1,234", "fr", "KWD", 1234),
        ("0,0001", "fr", "CLF", 1),
        ("1 000,000", "fr", "KWD", 1000000),
    ],
)
def test_parse_money(text: str, locale: str, currency: str, minor: int) -> None:
    assert parse_money(text, currency, locale) == Money(minor, currency)


@pytest.mark.parametrize(
    ("text", "locale", "currency", "message"),
    [
        ("-10", "fr", "EUR", "negative"),
        ("\u221210", "fr", "EUR", "negative"),
        ("- 10 €", "fr", "EUR", "negative"),
        ("€-10", "en", "EUR", "negative"),
        ("10,505", "fr", "EUR", "at most 2 decimals"),
        ("10,500", "fr", "EUR", "at most 2 decimals"),  # exact, but likely a typo
        ("10,5", "fr", "JPY", "no decimals"),
        ("1.2345", "en", "KWD", "at most 3 decimals"),
        ("1e3", "fr", "EUR", "not an amount"),
        ("1E3", "en", "EUR", "not an amount"),
        ("", "fr", "EUR", "empty"),
        ("   ", "fr", "EUR", "empty"),
        ("abc", "fr", "EUR", "not an amount"),
        ("€", "fr", "EUR", "not an amount"),
        ("10,", "fr", "EUR", "not an amount"),
        (",5", "fr", "EUR", "not an amount"),
        ("10,5,0", "fr", "EUR", "not an amount"),
        ("1.000,50", "fr", "EUR", "not an amount"),
        ("+10", "fr", "EUR", "not an amount"),
        ("10 $", "fr", "EUR", "not an amount"),
        ("0x10", "fr", "EUR", "not an amount"),
        ("１０", "fr", "EUR", "not an amount"),
        ("١٠", "fr", "EUR", "not an amount"),
        ("NaN", "en", "EUR", "not an amount"),
        ("10  000", "fr", "EUR", "not an amount"),
        ("1.000", "fr", "EUR", "ambiguous"),
        ("1.000", "fr", "KWD", "ambiguous"),
        ("10,50", "en", "EUR", "misplaced"),
        ("10.50", "de", "EUR", "misplaced"),
        ("1 00", "fr", "EUR", "misplaced"),
        ("1000 000", "fr", "EUR", "misplaced"),
        ("1,000 000", "en", "EUR", "mixes"),
        ("1" * 65, "fr", "EUR", "too long"),
        ("10", "fr", "XYZ", "unknown ISO 4217"),
    ],
)
def test_parse_money_refuses(text: str, locale: str, currency: str, message: str) -> None:
    with pytest.raises(InvalidAmount, match=message):
        parse_money(text, currency, locale)


LOCALES = st.sampled_from(["fr", "en", "nl", "de", "de_CH", "fr_BE"])
CURRENCIES = st.sampled_from(["EUR", "USD", "GBP", "CHF", "JPY", "KWD", "CLF"])


@given(LOCALES, CURRENCIES, st.integers(min_value=0, max_value=10**15))
def test_parse_reads_back_what_format_writes(locale: str, currency: str, minor: int) -> None:
    m = Money(minor, currency)
    assert parse_money(format_money(m, locale), currency, locale) == m


@given(st.sampled_from(["fr", "en", "de_CH", "fr_BE"]), st.integers(min_value=0, max_value=10**12))
def test_plain_decimal_text_parses_where_dot_does_not_group(locale: str, minor: int) -> None:
    # What a donor pastes from elsewhere ("1234.56"); in nl/de "." groups, so it is refused.
    m = Money(minor, "EUR")
    assert parse_money(m.to_decimal_text(), "EUR", locale) == m


# --- format_date --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "locale", "fmt", "text"),
    [
        (date(2026, 3, 5), "fr", "long", "5 mars 2026"),
        (date(2026, 3, 5), "en", "long", "March 5, 2026"),
        (date(2026, 3, 5), "de", "long", "5. März 2026"),
        (date(2026, 3, 5), "nl", "long", "5 maart 2026"),
        (date(2026, 3, 5), "fr", "short", "05/03/2026"),
        (date(2026, 3, 5), "fr", "full", "jeudi 5 mars 2026"),
        (date(2026, 3, 5), "fr", "yyyyMMdd", "20260305"),
        (datetime(2026, 3, 5, 23, 30), "fr", "long", "5 mars 2026"),  # noqa: DTZ001
    ],
)
def test_format_date(value: date, locale: str, fmt: str, text: str) -> None:
    assert format_date(value, locale, fmt) == text


def test_format_date_defaults_to_french_long() -> None:
    assert format_date(date(2026, 1, 1)) == "1 janvier 2026"


def test_format_date_moves_aware_datetimes_to_the_given_zone() -> None:
    late = datetime(2026, 3, 5, 23, 30, tzinfo=UTC)
    assert format_date(late) == "5 mars 2026"
    assert format_date(late, tz=ZoneInfo("Europe/Paris")) == "6 mars 2026"


# --- negotiate_locale ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "fr"),
        ("", "fr"),
        ("en", "en"),
        ("en-US,en;q=0.9", "en"),
        ("de-CH", "de"),
        ("NL-be", "nl"),
        ("es, nl;q=0.5", "nl"),
        ("es", "fr"),
        ("en;q=0.8, de;q=0.9", "de"),
        ("en;q=0.8, de;q=0.8", "en"),  # equal weights keep header order
        ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", "fr"),
        ("en;q=0, fr;q=0.1", "fr"),
        ("en;q=0", "fr"),
        ("*", "fr"),
        ("fr;q=0, *", "en"),  # the default itself was refused
        ("xx;q=abc, nl", "nl"),  # a malformed weight drops its entry only
        ("en;q=1.5, de", "de"),
        ("en;q=nan, de", "de"),
        ("123, ;q=1, ,,, de", "de"),
        ("pt-BR;q=0.9, EN_gb;q=0.8", "en"),
    ],
)
def test_negotiate_locale(header: str | None, expected: str) -> None:
    assert negotiate_locale(header) == expected


def test_negotiate_locale_custom_supported_and_default() -> None:
    assert negotiate_locale("fr-CA", supported=("fr_BE", "en")) == "fr_BE"
    assert negotiate_locale("fr_BE", supported=("fr", "fr_BE")) == "fr_BE"
    assert negotiate_locale("es", supported=("fr", "en"), default="en") == "en"


@given(st.text(max_size=200))
def test_negotiate_locale_never_fails(header: str) -> None:
    assert negotiate_locale(header) in ("fr", "en", "nl", "de")
