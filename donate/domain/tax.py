"""What a gift really costs a French taxpayer after the income-tax reduction (CGI art. 200).

Only for the donor's information on campaign pages and in the widget: the receipt itself
never shows a rate. The reduction is rounded *down* to the minor unit, so the cost we print
is never lower than the real one.
"""

from __future__ import annotations

from donate.domain.money import Money

# 0 (no receipts), 60 % (companies), 66 % (general interest), 75 % ("Coluche" regime).
ALLOWED_BPS = frozenset({0, 6000, 6600, 7500})


def tax_reduction(amount: Money, reduction_bps: int) -> Money:
    if reduction_bps not in ALLOWED_BPS:
        raise ValueError(f"unsupported tax reduction rate: {reduction_bps} bps")
    return Money(amount.minor * reduction_bps // 10_000, amount.currency)


def cost_after_reduction(amount: Money, reduction_bps: int) -> Money:
    """``Money(10000, "EUR")`` at 6600 bps → ``Money(3400, "EUR")``."""
    return Money(amount.minor - tax_reduction(amount, reduction_bps).minor, amount.currency)
