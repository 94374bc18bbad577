from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from donate.domain.donation import (
    SETTLED,
    UNSETTLED,
    DonationStatus,
    PaymentFacts,
    check_transition,
    counted_minor,
    derive_status,
)
from donate.domain.errors import InvalidAmount, InvalidTransition

S = DonationStatus


def facts(
    status: str, amount: int = 1000, refunded: int = 0, disputed: int = 0, dispute: bool = False
) -> PaymentFacts:
    return PaymentFacts(status, amount, refunded, disputed, dispute)


@pytest.mark.parametrize(
    ("f", "status", "counted"),
    [
        (facts("open"), S.PENDING, 0),
        (facts("pending"), S.PENDING, 0),
        (facts("failed"), S.FAILED, 0),
        (facts("canceled"), S.CANCELED, 0),
        (facts("expired"), S.CANCELED, 0),
        (facts("paid"), S.PAID, 1000),
        (facts("paid", refunded=1), S.PARTIALLY_REFUNDED, 999),
        (facts("paid", refunded=999), S.PARTIALLY_REFUNDED, 1),
        (facts("paid", refunded=1000), S.REFUNDED, 0),
        (facts("paid", refunded=1200), S.REFUNDED, 0),
        (facts("paid", disputed=1000, dispute=True), S.DISPUTED, 0),
        (facts("paid", disputed=300, dispute=True), S.DISPUTED, 700),
        # Open dispute whose amount is not known yet: still disputed, still counted.
        (facts("paid", dispute=True), S.DISPUTED, 1000),
        # A dispute wins over refunds for the status; both reduce the count, never below 0.
        (facts("paid", refunded=400, disputed=1000, dispute=True), S.DISPUTED, 0),
        (facts("paid", refunded=400, disputed=300, dispute=True), S.DISPUTED, 300),
        # A disputed amount is open or lost by definition, even without the flag.
        (facts("paid", disputed=300), S.DISPUTED, 700),
        # Refund/dispute figures on an unpaid payment count for nothing.
        (facts("failed", refunded=500), S.FAILED, 0),
    ],
)
def test_derive_status_and_counted(f: PaymentFacts, status: DonationStatus, counted: int) -> None:
    assert derive_status(f) is status
    assert counted_minor(f) == counted


def test_status_values_are_the_stored_strings() -> None:
    assert [s.value for s in S] == [
        "pending",
        "paid",
        "failed",
        "canceled",
        "refunded",
        "partially_refunded",
        "disputed",
    ]
    assert frozenset(S) == SETTLED | UNSETTLED
    assert not SETTLED & UNSETTLED


def test_provider_status_enum_members_are_accepted() -> None:
    # Adapters pass a StrEnum (providers.base.PaymentStatus); any str subclass must work.
    import enum

    class PaymentStatus(enum.StrEnum):
        PAID = "paid"

    assert derive_status(PaymentFacts(PaymentStatus.PAID, 500)) is S.PAID


@pytest.mark.parametrize("status", ["", "PAID", "authorized", "succeeded", "refunded"])
def test_unknown_provider_status_refused(status: str) -> None:
    with pytest.raises(ValueError, match="unknown provider payment status"):
        facts(status)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"amount": 0},
        {"amount": -1},
        {"refunded": -1},
        {"disputed": -5},
        {"amount": 10.0},
        {"amount": True},
        {"refunded": "1"},
    ],
)
def test_bad_amounts_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidAmount):
        facts("paid", **kwargs)


# --- transitions --------------------------------------------------------------------------------


@pytest.mark.parametrize(("old", "new"), list(itertools.product(SETTLED, UNSETTLED)))
def test_settled_never_falls_back(old: DonationStatus, new: DonationStatus) -> None:
    with pytest.raises(InvalidTransition, match=f"{old} donation cannot become {new}"):
        check_transition(old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [(o, n) for o, n in itertools.product(S, S) if not (o in SETTLED and n in UNSETTLED)],
)
def test_every_other_transition_allowed(old: DonationStatus, new: DonationStatus) -> None:
    check_transition(old, new)


# --- properties over provider histories ---------------------------------------------------------


@st.composite
def histories(draw: st.DrawFn) -> list[PaymentFacts]:
    """Snapshots of one payment in real time order: the provider status moves forward and
    refund/dispute totals only grow once paid."""
    amount = draw(st.integers(min_value=1, max_value=10**9))
    early = draw(st.lists(st.sampled_from(["open", "pending"]), max_size=3))
    snapshots = [PaymentFacts(s, amount) for s in early]
    outcome = draw(st.sampled_from(["open", "pending", "paid", "failed", "canceled", "expired"]))
    if outcome != "paid":
        return [*snapshots, PaymentFacts(outcome, amount)]
    refunded = disputed = 0
    dispute = False
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        refunded += draw(st.integers(min_value=0, max_value=amount))
        disputed += draw(st.integers(min_value=0, max_value=amount))
        dispute = dispute or disputed > 0 or draw(st.booleans())
        snapshots.append(PaymentFacts("paid", amount, refunded, disputed, dispute))
    return snapshots


def apply(current: DonationStatus | None, f: PaymentFacts) -> DonationStatus:
    """What the convergence point does: derive, then keep the old status if refused."""
    new = derive_status(f)
    if current is None:
        return new
    try:
        check_transition(current, new)
    except InvalidTransition:
        return current
    return new


@given(histories())
def test_in_order_history_never_refused_and_ends_on_last_snapshot(
    history: list[PaymentFacts],
) -> None:
    status: DonationStatus | None = None
    for f in history:
        new = derive_status(f)
        if status is not None:
            check_transition(status, new)  # a real history is never refused
        status = new
    assert status is derive_status(history[-1])


@given(histories(), st.randoms(use_true_random=False))
def test_out_of_order_delivery_converges_on_latest_snapshot(
    history: list[PaymentFacts], rnd: random.Random
) -> None:
    # Stale snapshots arrive in any order; the latest one is fetched last (the cron/re-fetch).
    stale = history[:-1]
    rnd.shuffle(stale)
    status: DonationStatus | None = None
    for f in stale:
        status = apply(status, f)
    assert apply(status, history[-1]) is derive_status(history[-1])


@given(histories(), st.randoms(use_true_random=False))
def test_once_paid_never_unsettled(history: list[PaymentFacts], rnd: random.Random) -> None:
    shuffled = list(history)
    rnd.shuffle(shuffled)
    status: DonationStatus | None = None
    seen_settled = False
    for f in shuffled:
        status = apply(status, f)
        seen_settled = seen_settled or status in SETTLED
        assert not (seen_settled and status in UNSETTLED)


@given(histories())
def test_counted_bounds_and_monotone(history: list[PaymentFacts]) -> None:
    previous_paid: int | None = None
    for f in history:
        counted = counted_minor(f)
        assert 0 <= counted <= f.amount_minor
        assert (counted > 0) <= (derive_status(f) in SETTLED)
        if f.status == "paid":
            # Refunds and disputes only grow, so what is counted only shrinks.
            assert previous_paid is None or counted <= previous_paid
            previous_paid = counted


@given(
    st.sampled_from(["open", "pending", "paid", "failed", "canceled", "expired"]),
    st.integers(min_value=1, max_value=10**12),
    st.integers(min_value=0, max_value=10**12),
    st.integers(min_value=0, max_value=10**12),
    st.booleans(),
)
def test_any_facts(status: str, amount: int, refunded: int, disputed: int, flag: bool) -> None:
    f = PaymentFacts(status, amount, refunded, disputed, flag)
    counted = counted_minor(f)
    assert 0 <= counted <= amount
    derived = derive_status(f)
    assert (derived in SETTLED) == (status == "paid")
    if derived is S.REFUNDED:
        assert counted == 0
    if derived is S.PAID:
        assert counted == amount
