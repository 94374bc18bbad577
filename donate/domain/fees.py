"""Provider fee estimates, for the donor's optional "cover the fees" box.

An estimate only: the real fee is read from the provider after payment (balance
transactions, settlements). Integer arithmetic throughout, rounding up to the minor unit so
that covering the fees never leaves the association short.
"""

from __future__ import annotations

from dataclasses import dataclass

from donate.domain.errors import InvalidAmount
from donate.domain.money import Money

_BASIS = 10_000  # rates are in basis points: 150 = 1.5 %


@dataclass(frozen=True, slots=True)
class _Rate:
    basis_points: int
    fixed_eur_minor: int  # euro cents; see _fixed_minor for other currencies


# Public EEA list prices from the providers' pricing pages; they change, so re-check them.
# The default is the card rate: the method is often unknown when the box is shown, and cards
# are the most expensive common method.
_RATES: dict[str, dict[str, _Rate]] = {
    "stripe": {
        "card": _Rate(150, 25),
        "sepa_debit": _Rate(0, 35),
    },
    "mollie": {
        "card": _Rate(180, 25),
        "ideal": _Rate(0, 29),
        "bancontact": _Rate(0, 39),
        "sepa_debit": _Rate(0, 25),
        "banktransfer": _Rate(0, 25),
    },
}

# Provider-specific method ids mapped to the names the adapters normalise to.
_ALIASES: dict[str, str] = {"creditcard": "card", "directdebit": "sepa_debit"}


def _rate(provider: str, method: str | None) -> _Rate:
    try:
        rates = _RATES[provider]
    except KeyError:
        raise ValueError(f"no fee schedule for provider {provider!r}") from None
    name = _ALIASES.get(method, method) if method is not None else "card"
    return rates.get(name, rates["card"])


def _fixed_minor(rate: _Rate, currency: str) -> int:
    # The fixed part is priced in EUR; converting it needs an exchange rate this pure layer
    # does not have, so other currencies get the percentage only (a slight underestimate).
    return rate.fixed_eur_minor if currency == "EUR" else 0


def _fee_minor(rate: _Rate, fixed: int, minor: int) -> int:
    if minor == 0:
        return 0  # no payment, no fee
    return -(-minor * rate.basis_points // _BASIS) + fixed  # ceiling division


def _check(amount: Money) -> None:
    if amount.minor < 0:
        raise InvalidAmount(f"a fee is estimated on a positive amount, got {amount}")


def estimate_fee(provider: str, method: str | None, amount: Money) -> Money:
    """Estimated provider fee on a payment of ``amount`` (rounded up to the minor unit).

    ``method`` is the normalised method name ("card", "sepa_debit", "ideal", "bancontact");
    ``None`` or an unknown method is estimated at the card rate. Raises ``ValueError`` for an
    unknown provider and ``InvalidAmount`` for a negative amount.
    """
    _check(amount)
    rate = _rate(provider, method)
    return Money(
        _fee_minor(rate, _fixed_minor(rate, amount.currency), amount.minor), amount.currency
    )


def gross_up_for_fees(provider: str, method: str | None, gift: Money) -> Money:
    """The smallest extra to charge so that, after the estimated fee, the association gets
    at least ``gift``: the least ``extra`` with ``gift + extra - fee(gift + extra) >= gift``.
    """
    _check(gift)
    if gift.minor == 0:
        return Money.zero(gift.currency)
    rate = _rate(provider, method)
    fixed = _fixed_minor(rate, gift.currency)
    # a - ceil(a*p/B) - f >= g  <=>  a*(B - p) >= B*(g + f)  (a - f - g is an integer),
    # so the least charge is ceil(B*(g + f) / (B - p)).
    charge = -(-_BASIS * (gift.minor + fixed) // (_BASIS - rate.basis_points))
    return Money(charge - gift.minor, gift.currency)
