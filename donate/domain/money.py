"""Money as integer minor units plus an ISO 4217 code. Never floats.

Formatting for people (fr/en, with Babel) lives in ``donate.i18n``; this module
stays pure so every layer can use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from donate.domain.errors import CurrencyMismatch, InvalidAmount


def _codes(table: str) -> list[str]:
    # Space-separated tables read better than a list of 180 quoted strings.
    return table.split()


# ISO 4217 minor-unit exponents that differ from the usual 2.
_EXPONENT_EXCEPTIONS: dict[str, int] = {
    **dict.fromkeys(
        _codes("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"), 0
    ),
    **dict.fromkeys(_codes("BHD IQD JOD KWD LYD OMR TND"), 3),
    **dict.fromkeys(_codes("CLF UYW"), 4),
}

# Active ISO 4217 codes (list one, 2024 amendments).
ISO_4217: frozenset[str] = frozenset(
    _codes(
        """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD
    BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP
    ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK
    JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK
    MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN
    PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS
    TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD XCG
    XOF XPF YER ZAR ZMW ZWG"""
    )
)

# ASCII digits only: ``\d`` would also take other scripts' digits ("١٠") that Decimal accepts.
_DECIMAL_TEXT = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?", re.ASCII)
# Longer text is not an amount; the bound also keeps int() far from its digit limit.
_MAX_TEXT = 64


def exponent(currency: str) -> int:
    """Number of minor-unit digits of an ISO 4217 currency (EUR 2, JPY 0, KWD 3)."""
    return _EXPONENT_EXCEPTIONS.get(check_currency(currency), 2)


def check_currency(currency: str) -> str:
    """Return the code if it is an active ISO 4217 currency, else raise InvalidAmount."""
    if currency not in ISO_4217:
        raise InvalidAmount(f"unknown ISO 4217 currency: {currency!r}")
    return currency


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An exact amount: ``minor`` units (cents for EUR) of ``currency``."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.minor) is not int:
            raise InvalidAmount(f"minor units must be an int, got {type(self.minor).__name__}")
        check_currency(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def from_decimal_text(cls, text: str, currency: str) -> Money:
        """Parse a plain decimal string such as ``"10.50"`` (the Mollie wire format)."""
        text = text.strip()
        match = _DECIMAL_TEXT.fullmatch(text) if len(text) <= _MAX_TEXT else None
        if match is None:
            raise InvalidAmount(f"not a decimal amount: {text[:_MAX_TEXT]!r}")
        sign, whole, frac = match.group(1), match.group(2), match.group(3) or ""
        digits = exponent(currency)
        # Integer arithmetic: Decimal would round silently past 28 significant digits.
        # Trailing zeros beyond the exponent are exact ("10.500" EUR), so they are accepted.
        if frac[digits:].strip("0"):
            raise InvalidAmount(f"{text!r} has more than {digits} decimals for {currency}")
        minor = int(whole) * 10**digits + int(frac[:digits].ljust(digits, "0") or "0")
        return cls(-minor if sign else minor, currency)

    def to_decimal_text(self) -> str:
        """Plain decimal string with exactly the currency's decimals (``"10.50"``, ``"1000"``)."""
        digits = exponent(self.currency)
        sign = "-" if self.minor < 0 else ""
        whole, frac = divmod(abs(self.minor), 10**digits)
        return f"{sign}{whole}.{frac:0{digits}d}" if digits else f"{sign}{whole}"

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency} cannot be combined")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __mul__(self, factor: int) -> Money:
        if type(factor) is not int:
            raise TypeError("Money can only be multiplied by an int")
        return Money(self.minor * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.minor >= other.minor

    def __bool__(self) -> bool:
        return self.minor != 0

    def __str__(self) -> str:
        return f"{self.to_decimal_text()} {self.currency}"
