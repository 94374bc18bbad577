"""Amounts and dates for people, in their locale (Babel), and locale negotiation.

``Money`` itself stays pure and locale-free (``donate.domain.money``); this module is the
only place that turns it into text a person reads or parses what a person typed.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.dates import format_date as _babel_format_date
from babel.numbers import (
    NumberPattern,
    format_currency,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
)

from donate.domain.errors import InvalidAmount
from donate.domain.money import Money, exponent

SUPPORTED_LOCALES: tuple[str, ...] = ("fr", "en", "nl", "de")
DEFAULT_LOCALE = "fr"

# What people (and Babel: U+202F in fr) put between thousands: space, no-break space,
# narrow no-break space, thin space, figure space.
_SPACES = frozenset(" \u00a0\u202f\u2009\u2007")
_MINUS = frozenset("-\u2212")
_MAX_TEXT = 64  # longer input is not an amount someone typed
_MAX_RANGES = 32  # Accept-Language entries looked at; the header is client-controlled
_QVALUE = re.compile(r"(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)", re.ASCII)
_FRACTION = re.compile(r"[0-9]+", re.ASCII)
_TAG = re.compile(r"[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*", re.ASCII)


@lru_cache(maxsize=64)
def _locale(locale: str) -> Locale:
    return Locale.parse(locale.replace("-", "_"))


@lru_cache(maxsize=256)
def _currency_pattern(locale: str, digits: int) -> NumberPattern:
    # The locale's own pattern (symbol position, spacing), with exactly the ISO decimals:
    # Babel's CLDR digits differ from ISO for some currencies, and must never round.
    pattern: NumberPattern = copy.copy(_locale(locale).currency_formats["standard"])
    pattern.frac_prec = (digits, digits)
    return pattern


def format_money(m: Money, locale: str = DEFAULT_LOCALE) -> str:
    """``Money(123450, "EUR")`` → fr ``"1 234,50 €"`` (Babel's no-break spaces), en ``"€1,234.50"``.

    Exact: the value comes from the integer minor units, never rounded.
    """
    digits = exponent(m.currency)
    return format_currency(
        Decimal(m.to_decimal_text()),
        m.currency,
        format=_currency_pattern(locale, digits),
        locale=_locale(locale),
        currency_digits=False,
    )


@lru_cache(maxsize=256)
def _symbols(currency: str, locale: str) -> tuple[str, ...]:
    # What may surround a typed amount: the ISO code, the locale's symbol, and the English
    # one ("¥" where fr says "JPY"). Longest first so "US$" is not read as "$".
    found = {currency, get_currency_symbol(currency, _locale(locale))}
    found.add(get_currency_symbol(currency, "en"))
    return tuple(sorted(found, key=len, reverse=True))


def _strip_symbol(text: str, currency: str, locale: str) -> str:
    for symbol in _symbols(currency, locale):
        if text.startswith(symbol):
            return text[len(symbol) :].strip()
        if text.endswith(symbol):
            return text[: -len(symbol)].strip()
    return text


@dataclass(frozen=True, slots=True)
class _Marks:
    decimal: str
    groups: frozenset[str]
    alternative: str | None  # the other of , and . when it is also read as a decimal mark
    integer: re.Pattern[str]  # digits, optionally split by group marks


@lru_cache(maxsize=64)
def _marks(locale: str) -> _Marks:
    loc = _locale(locale)
    decimal = get_decimal_symbol(loc)
    group = get_group_symbol(loc)
    groups = {" "} | ({group} if group not in _SPACES else set())
    if group in ("\u2019", "'"):  # de_CH groups with ’ or ' (by CLDR version); people type either
        groups |= {"\u2019", "'"}
    # The other of , and . is read as the decimal mark when it cannot be a group mark
    # (fr "10.50"); en "10,50" and de "10.50" stay refused as misplaced group marks.
    other = {",": ".", ".": ","}.get(decimal)
    alternative = other if other is not None and other not in groups else None
    group_class = "".join(re.escape(g) for g in sorted(groups))
    integer = re.compile(f"[0-9]+(?:[{group_class}][0-9]+)*", re.ASCII)
    return _Marks(decimal, frozenset(groups), alternative, integer)


def _ungroup(text: str, integer: str, groups: frozenset[str]) -> str:
    used = {c for c in integer if c in groups}
    if not used:
        return integer
    if len(used) > 1:
        raise InvalidAmount(f"{text!r} mixes thousands separators")
    parts = integer.split(used.pop())
    if len(parts[0]) > 3 or any(len(p) != 3 for p in parts[1:]):
        raise InvalidAmount(f"{text!r} has a misplaced thousands separator")
    return "".join(parts)


def parse_money(text: str, currency: str, locale: str = DEFAULT_LOCALE) -> Money:
    """Read an amount as a person types it in ``locale``: fr ``"10"``, ``"10,5"``,
    ``"1 000,50"`` (any space), ``"10.50"``, ``"10 €"``; en ``"1,000.50"``, ``"$10"``.

    Zero is accepted (callers check their minimum). Raises ``InvalidAmount`` for an unknown
    currency, a negative amount, more decimals than the currency has, an ambiguous or
    misplaced separator, exponents and anything else that is not an amount.
    """
    digits = exponent(currency)
    if len(text) > _MAX_TEXT:
        raise InvalidAmount("the amount is too long")
    cleaned = "".join(" " if c in _SPACES else c for c in text.strip())
    if not cleaned:
        raise InvalidAmount("the amount is empty")
    number = _strip_symbol(cleaned, currency, locale)
    if cleaned[0] in _MINUS or number[:1] in _MINUS:
        raise InvalidAmount(f"the amount cannot be negative: {text!r}")

    marks = _marks(locale)
    mark = next((m for m in (marks.decimal, marks.alternative) if m and m in number), None)
    integer, _, fraction = number.partition(mark) if mark else (number, "", "")
    if not marks.integer.fullmatch(integer) or (mark and not _FRACTION.fullmatch(fraction)):
        raise InvalidAmount(f"not an amount: {text!r}")
    if (
        mark is not None
        and mark == marks.alternative
        and len(fraction) == 3
        and integer.isdigit()
        and len(integer) <= 3
        and integer[0] != "0"
    ):
        # fr "1.000": a thousand written the English way, or 1 with three decimals?
        raise InvalidAmount(
            f"{text!r} is ambiguous: write {integer}{marks.decimal}{fraction} or "
            f"{integer} {fraction}"
        )
    whole = _ungroup(text, integer, marks.groups)
    if len(fraction) > digits:
        # Stricter than the wire format on purpose: "10,500" € is more likely a typo (or a
        # thousand typed the English way) than ten euros fifty.
        what = "no decimals" if digits == 0 else f"at most {digits} decimals"
        raise InvalidAmount(f"{text!r}: {currency} amounts have {what}")
    return Money(int(whole) * 10**digits + int(fraction.ljust(digits, "0") or "0"), currency)


def format_date(
    d: date | datetime,
    locale: str = DEFAULT_LOCALE,
    format: str = "long",
    *,
    tz: tzinfo | None = None,
) -> str:
    """fr long: ``"5 mars 2026"``. ``format`` is a Babel length or a CLDR pattern.

    An aware datetime is first moved to ``tz`` when given (a payment at 23:30 UTC is the next
    day in Paris); otherwise its own calendar date is used.
    """
    if isinstance(d, datetime) and tz is not None and d.tzinfo is not None:
        d = d.astimezone(tz)
    day = d.date() if isinstance(d, datetime) else d
    return _babel_format_date(day, format=format, locale=_locale(locale))


def _qvalue_millis(params: str) -> int | None:
    """Weight of an Accept-Language entry in thousandths; None if malformed."""
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            value = value.strip()
            if not _QVALUE.fullmatch(value):
                return None
            whole, _, frac = value.partition(".")
            return int(whole) * 1000 + int(frac.ljust(3, "0"))
    return 1000


def negotiate_locale(
    accept_language: str | None,
    supported: Sequence[str] = SUPPORTED_LOCALES,
    default: str = DEFAULT_LOCALE,
) -> str:
    """The best of ``supported`` for an ``Accept-Language`` header, else ``default``.

    ``fr-CH`` matches ``fr``; ``fr`` matches ``fr_BE`` if only that is supported. Weights
    (``q=``) are honoured, ``q=0`` excludes, malformed entries are skipped, ``*`` gives the
    default. Returns an element of ``supported`` as written there, or ``default``.
    """
    if not accept_language:
        return default
    by_key = {s.lower().replace("_", "-"): s for s in supported}
    ranges: list[tuple[int, int, str]] = []
    refused: set[str] = set()
    for index, item in enumerate(accept_language.split(",")[:_MAX_RANGES]):
        tag, _, params = item.partition(";")
        tag = tag.strip().lower().replace("_", "-")
        weight = _qvalue_millis(params) if params else 1000
        if weight is None or not (tag == "*" or _TAG.fullmatch(tag)):
            continue
        if weight == 0:
            refused.add(tag)
        else:
            ranges.append((-weight, index, tag))
    for _, _, tag in sorted(ranges):
        if tag == "*":
            # Anything else is fine: our default, unless the client refused it explicitly.
            if default.lower().replace("_", "-") not in refused:
                return default
            others = [value for key, value in by_key.items() if key not in refused]
            return others[0] if others else default
        primary = tag.split("-")[0]
        if tag in by_key:
            return by_key[tag]
        if primary in by_key:
            return by_key[primary]
        for key, value in by_key.items():
            if key.split("-")[0] == primary:
                return value
    return default
