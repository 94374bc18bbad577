"""The donation state machine: provider facts in, our status and counted amount out.

The status is *derived* from a fresh snapshot of the provider's payment (state, not
event order, is the truth), then ``check_transition`` refuses the one kind of change a
stale snapshot could cause: a settled donation falling back to an unsettled state::

         UNSETTLED                                          SETTLED
    ┌─────────────────┐                   ┌──────────────────────────────────────────┐
    │ pending         │   paid snapshot   │ paid ──► partially_refunded ──► refunded │
    │   ├──► failed   │  ───────────────► │  ▲  ◄──── a refund failed ◄────┘         │
    │   └──► canceled │  ◄──────✗──────── │  └──► disputed ──► back if won           │
    │ (each ↔ each)   │  InvalidTransition│ (each ↔ each; any can be disputed)       │
    └─────────────────┘  (stale snapshot) └──────────────────────────────────────────┘

Every move inside a box, and from unsettled to settled, is allowed. Refunds and
disputes are read from the snapshot's totals, so out-of-order webhooks converge.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from donate.domain.errors import InvalidAmount, InvalidTransition


class DonationStatus(enum.StrEnum):
    PENDING = "pending"  # checkout open or payment submitted; result unknown
    PAID = "paid"
    FAILED = "failed"
    CANCELED = "canceled"  # canceled or expired before payment
    REFUNDED = "refunded"  # refunds cover the whole amount
    PARTIALLY_REFUNDED = "partially_refunded"
    DISPUTED = "disputed"  # a chargeback/dispute is open or was lost


SETTLED: frozenset[DonationStatus] = frozenset(
    {
        DonationStatus.PAID,
        DonationStatus.PARTIALLY_REFUNDED,
        DonationStatus.REFUNDED,
        DonationStatus.DISPUTED,
    }
)
UNSETTLED: frozenset[DonationStatus] = frozenset(
    {DonationStatus.PENDING, DonationStatus.FAILED, DonationStatus.CANCELED}
)

# Provider payment statuses, as normalised by the adapters (``providers.base.PaymentStatus``
# is a StrEnum with these values, so its members can be passed as they are).
_PROVIDER_STATUS: dict[str, DonationStatus] = {
    "open": DonationStatus.PENDING,
    "pending": DonationStatus.PENDING,
    "paid": DonationStatus.PAID,
    "failed": DonationStatus.FAILED,
    "canceled": DonationStatus.CANCELED,
    "expired": DonationStatus.CANCELED,
}


@dataclass(frozen=True, slots=True)
class PaymentFacts:
    """One snapshot of a provider payment, in the payment's currency minor units.

    ``disputed_minor`` totals the disputes/chargebacks that are open or lost (a won dispute
    gave the money back, so it is not counted).
    """

    status: str  # "open" | "pending" | "paid" | "failed" | "canceled" | "expired"
    amount_minor: int
    refunded_minor: int = 0
    disputed_minor: int = 0
    dispute_open_or_lost: bool = False

    def __post_init__(self) -> None:
        if self.status not in _PROVIDER_STATUS:
            raise ValueError(f"unknown provider payment status: {self.status!r}")
        for name in ("amount_minor", "refunded_minor", "disputed_minor"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise InvalidAmount(f"{name} must be a non-negative int, got {value!r}")
        if self.amount_minor == 0:
            raise InvalidAmount("amount_minor must be positive")


def derive_status(facts: PaymentFacts) -> DonationStatus:
    """Our status for a provider snapshot. A pure function of the snapshot alone."""
    status = _PROVIDER_STATUS[facts.status]
    if status is not DonationStatus.PAID:
        return status
    # A disputed amount is by definition open or lost, even if the flag was not set.
    if facts.dispute_open_or_lost or facts.disputed_minor > 0:
        return DonationStatus.DISPUTED
    if facts.refunded_minor >= facts.amount_minor:
        return DonationStatus.REFUNDED
    if facts.refunded_minor > 0:
        return DonationStatus.PARTIALLY_REFUNDED
    return DonationStatus.PAID


def counted_minor(facts: PaymentFacts) -> int:
    """What this payment adds to the campaign total: kept money only, never below zero."""
    if _PROVIDER_STATUS[facts.status] is not DonationStatus.PAID:
        return 0
    # Refunds and disputes may overlap (a chargeback after a partial refund): clamp at zero.
    return max(0, facts.amount_minor - facts.refunded_minor - facts.disputed_minor)


def check_transition(old: DonationStatus, new: DonationStatus) -> None:
    """Raise ``InvalidTransition`` if moving from ``old`` to ``new`` is forbidden.

    Only settled → unsettled is refused: once money was captured, a pending, failed or
    canceled snapshot can only be stale and must not undo the payment. Same → same is a no-op.
    """
    if old in SETTLED and new in UNSETTLED:
        raise InvalidTransition(f"a {old} donation cannot become {new}")
