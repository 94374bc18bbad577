from __future__ import annotations

import pytest

from donate.domain.money import Money
from donate.receipts.amount_words import amount_in_french_words, format_euros, framed_figures

# Traditional spelling (num2words): hyphens only below one hundred.
WORDS = [
    (7100, "soixante et onze euros"),
    (8000, "quatre-vingts euros"),
    (8100, "quatre-vingt-un euros"),
    (9100, "quatre-vingt-onze euros"),
    (10000, "cent euros"),
    (12000, "cent vingt euros"),
    (20000, "deux cents euros"),
    (20100, "deux cent un euros"),
    (100000, "mille euros"),
    (198000, "mille neuf cent quatre-vingts euros"),
    (2100, "vingt et un euros"),
    (8_000_000, "quatre-vingt mille euros"),
    (100_000_000, "un million d'euros"),
    (200_000_000, "deux millions d'euros"),
    (300_000_000_000, "trois milliards d'euros"),
    (120_000_000, "un million deux cent mille euros"),
    (100_000_100, "un million un euros"),
    (100, "un euro"),
    (0, "zéro euro"),
    (1, "un centime"),
    (50, "cinquante centimes"),
    (101, "un euro et un centime"),
    (1005, "dix euros et cinq centimes"),
    (1050, "dix euros et cinquante centimes"),
    (123456, "mille deux cent trente-quatre euros et cinquante-six centimes"),
]


@pytest.mark.parametrize(("minor", "words"), WORDS)
def test_amount_in_french_words(minor: int, words: str) -> None:
    assert amount_in_french_words(Money(minor, "EUR")) == words


@pytest.mark.parametrize(
    ("minor", "text"),
    [
        (12000, "***120,00\u00a0€***"),
        (5, "***0,05\u00a0€***"),
        (123456, "***1\u202f234,56\u00a0€***"),
        (200_000_000, "***2\u202f000\u202f000,00\u00a0€***"),
    ],
)
def test_framed_figures(minor: int, text: str) -> None:
    assert framed_figures(Money(minor, "EUR")) == text


def test_format_euros_thousands_use_narrow_no_break_space() -> None:
    assert format_euros(Money(123456, "EUR")) == "1\u202f234,56\u00a0€"


@pytest.mark.parametrize("fn", [amount_in_french_words, framed_figures])
def test_only_euros(fn: object) -> None:
    assert callable(fn)
    with pytest.raises(ValueError, match="EUR"):
        fn(Money(100, "USD"))


def test_negative_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        amount_in_french_words(Money(-100, "EUR"))


@pytest.mark.parametrize(
    "minor",
    [
        1,
        5,
        99,
        100,
        1250,
        99_999,
        100_000,
        123_456,
        1_000_000,
        100_000_000,
        9_999_999_999,
        -123_450,
    ],
)
def test_format_euros_writes_what_babel_writes(minor: int) -> None:
    # Hand-made for speed; Babel's fr_FR pattern is the reference.
    from decimal import Decimal

    from babel.numbers import format_currency

    money = Money(minor, "EUR")
    expected = format_currency(Decimal(money.to_decimal_text()), "EUR", locale="fr_FR")
    assert format_euros(money) == expected
