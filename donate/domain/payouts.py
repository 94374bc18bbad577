"""Payout reconciliation arithmetic: what each movement of a payout is, how its fee splits
between the provider, the platform and the donor's tip, and the totals that must add up.

Every amount is integer minor units of the payout's currency. A payout's movements are its
provider lines except the transfer itself (Stripe lists the payout's own balance
transaction, whose net is minus the payout amount); their nets must sum to the payout amount.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from typing import Any, NamedTuple

KINDS = ("payment", "refund", "dispute", "fee", "application_fee", "adjustment", "payout")
# Kinds that belong to a gift: a line of these kinds without a donation is unmatched.
DONATION_KINDS = frozenset({"payment", "refund", "dispute"})
_MATCHABLE = DONATION_KINDS | {"adjustment"}


def classify(provider: str, kind: str, description: str) -> str:
    """The adapter's kind, refined: Mollie deducts the platform's application fees as a cost
    line, which is not the provider's own fee."""
    if provider == "mollie" and kind == "fee" and "application fee" in description.lower():
        return "application_fee"
    return kind if kind in KINDS else "adjustment"


class FeeSplit(NamedTuple):
    # A tuple: computed for every line of a report, a million times for a year's.
    provider_fee: int
    platform_fee: int
    tip: int


def split_fee(
    kind: str, fee: int, *, tip: int = 0, platform_fee: int = 0, tip_pool: int = 0
) -> FeeSplit:
    """Who a line's fee goes to.

    A Stripe charge's fee includes the application fee (tip + platform fee of its donation);
    a Mollie payment has no fee of its own and the application fees of the settlement come
    as one cost line, of which ``tip_pool`` (the tips of the settlement's payments) is tips.
    """
    if kind == "payment" and fee > 0:
        tip_part = min(tip, fee)
        platform_part = min(platform_fee, fee - tip_part)
        return FeeSplit(fee - tip_part - platform_part, platform_part, tip_part)
    if kind == "application_fee" and fee > 0:
        tip_part = min(max(tip_pool, 0), fee)
        return FeeSplit(0, fee - tip_part, tip_part)
    return FeeSplit(fee, 0, 0)


@dataclass(frozen=True, slots=True)
class PayoutHeader:
    id: str
    organization_name: str
    organization_siren: str | None
    provider: str
    provider_payout_id: str
    amount_minor: int
    currency: str
    status: str
    arrival_date: date | None
    created_at: datetime | None
    lines_count: int
    unmatched_count: int
    net_sum_minor: int  # the sum of the movements' nets

    @property
    def difference_minor(self) -> int:
        return self.net_sum_minor - self.amount_minor

    @property
    def balanced(self) -> bool:
        return self.difference_minor == 0


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ is 3x slower, per line
class ReportLine:
    """One movement of a payout, with what we know of its gift (when matched)."""

    line_id: str
    occurred_at: datetime | None
    kind: str
    source_id: str | None
    payment_ref: str | None
    description: str
    gross_minor: int
    fee_minor: int
    net_minor: int
    currency: str
    provider: str
    payout_ref: str  # po_… / stl_…
    payout_date: date | None
    donation_id: str | None = None
    donation_amount_minor: int | None = None
    donation_status: str | None = None
    method: str | None = None
    campaign_kind: str | None = None
    campaign_title: str | None = None
    anonymous: bool = False
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    company_name: str | None = None
    siren: str | None = None
    receipt_number: str | None = None
    tip_minor: int = 0
    platform_fee_minor: int = 0
    tip_pool_minor: int = 0  # application-fee lines only: the tips among the payout's payments

    @property
    def matched(self) -> bool:
        return self.donation_id is not None or self.kind not in _MATCHABLE

    @property
    def split(self) -> FeeSplit:
        return split_fee(
            self.kind,
            self.fee_minor,
            tip=self.tip_minor,
            platform_fee=self.platform_fee_minor,
            tip_pool=self.tip_pool_minor,
        )

    def donor_label(self, anonymous_label: str) -> str:
        """The donor as the report shows them: the chosen anonymity is respected."""
        if self.donation_id is None:
            return ""
        if self.anonymous:
            return anonymous_label
        if self.company_name:
            return self.company_name
        return f"{self.first_name} {self.last_name}".strip()

    def anonymised(self) -> ReportLine:
        """The same line without the personal fields of an anonymous donor."""
        if not self.anonymous:
            return self
        return replace(self, first_name="", last_name="", email="", company_name=None, siren=None)


@dataclass(slots=True)
class Amounts:
    count: int = 0
    gross: int = 0
    provider_fee: int = 0
    platform_fee: int = 0
    tip: int = 0
    fee: int = 0
    net: int = 0

    def add(self, line: ReportLine) -> None:
        s = line.split
        self.count += 1
        self.gross += line.gross_minor
        self.provider_fee += s.provider_fee
        self.platform_fee += s.platform_fee
        self.tip += s.tip
        self.fee += line.fee_minor
        self.net += line.net_minor


# A group's running sums: count, gross, provider fee, platform fee, tip, fee, net.
_Sums = list[int]


@dataclass(slots=True)
class Totals:
    """Running totals of a stream of lines (nothing but the sums is kept in memory): one row
    of sums per (kind, campaign, matched), so a line costs one dict lookup, and the
    breakdowns are summed from the groups when read."""

    groups: dict[tuple[str, str, bool], _Sums] = field(default_factory=dict)

    def add(self, line: ReportLine, split: FeeSplit | None = None) -> None:
        s = split or line.split
        kind = line.kind
        matched = line.donation_id is not None or kind not in _MATCHABLE  # line.matched, inline
        key = (kind, line.campaign_title or "", matched)
        g = self.groups.get(key)
        if g is None:
            g = self.groups[key] = [0, 0, 0, 0, 0, 0, 0]
        g[0] += 1
        g[1] += line.gross_minor
        g[2] += s.provider_fee
        g[3] += s.platform_fee
        g[4] += s.tip
        g[5] += line.fee_minor
        g[6] += line.net_minor

    def _by(self, pick: Callable[[tuple[str, str, bool]], str | None]) -> dict[str, Amounts]:
        out: dict[str, list[int]] = {}
        for key, g in self.groups.items():
            name = pick(key)
            if name is None:
                continue
            acc = out.setdefault(name, [0] * 7)
            for i, v in enumerate(g):
                acc[i] += v
        return {k: Amounts(*v) for k, v in out.items()}

    @property
    def by_kind(self) -> dict[str, Amounts]:
        return self._by(lambda k: k[0])

    @property
    def by_campaign(self) -> dict[str, Amounts]:
        return self._by(lambda k: k[1])

    @property
    def all(self) -> Amounts:
        return self._by(lambda k: "").get("", Amounts())

    @property
    def unmatched(self) -> Amounts:
        return self._by(lambda k: None if k[2] else "").get("", Amounts())


DEFAULT_ACCOUNTS: dict[str, str] = {
    "bank": "512",  # the association's bank account
    "clearing": "58",  # virements internes: the provider balance between gift and payout
    "fees": "627",  # services bancaires: provider and platform fees
    "gifts": "7541",  # dons manuels
    "gifts_company": "7542",  # mécénat (a company gave)
    "tips": "4671",  # donors' tips to the platform, passed through
    "suspense": "471",  # compte d'attente: movements we could not match
}
DEFAULT_JOURNALS: dict[str, str] = {"movements": "DON", "bank": "BQ"}


@dataclass(frozen=True, slots=True)
class ChartOfAccounts:
    bank: str = DEFAULT_ACCOUNTS["bank"]
    clearing: str = DEFAULT_ACCOUNTS["clearing"]
    fees: str = DEFAULT_ACCOUNTS["fees"]
    gifts: str = DEFAULT_ACCOUNTS["gifts"]
    gifts_company: str = DEFAULT_ACCOUNTS["gifts_company"]
    tips: str = DEFAULT_ACCOUNTS["tips"]
    suspense: str = DEFAULT_ACCOUNTS["suspense"]
    journal_movements: str = DEFAULT_JOURNALS["movements"]
    journal_bank: str = DEFAULT_JOURNALS["bank"]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ChartOfAccounts:
        """Overrides from the association's settings; unknown keys and values that are not
        account numbers (3+ digits, alphanumeric after) are ignored."""
        known = {f.name for f in fields(cls)}
        values: dict[str, str] = {}
        for key, value in data.items():
            if key not in known or not isinstance(value, str) or not value.isalnum():
                continue
            if key.startswith("journal_") or (len(value) >= 3 and value[:3].isdigit()):
                values[key] = value
        return cls(**values)
