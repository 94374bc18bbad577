"""The French FEC ("fichier des écritures comptables", LPF art. A47 A-1): accounting entries
of the payouts, built line by line so a year's file streams.

Two journals. Movements (gifts, refunds, chargebacks, fees) go through the clearing account
(the provider balance): a gift of 25 € with a 2 € tip, on which the provider kept 0,50 €
and the 2 € tip, is ``D 58 24,50 / D 627 0,50 / C 7541 25,00`` (the tip went straight back
out, the tips account nets to zero). Bank transfers are ``D 512 / C 58``. Every entry
balances; entries are numbered 1, 2, 3… per journal in chronological order (the caller
passes movements in time order). Unmatched movements post to the suspense account.
Amounts are in the payout currency; for another currency than EUR, ``Montantdevise`` and
``Idevise`` carry it too (there is no conversion rate to apply here).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from donate.domain.payouts import ChartOfAccounts, PayoutHeader, ReportLine
from donate.reports.table import amount, local, text

COLUMNS = (
    "JournalCode", "JournalLib", "EcritureNum", "EcritureDate", "CompteNum", "CompteLib",
    "CompAuxNum", "CompAuxLib", "PieceRef", "PieceDate", "EcritureLib", "Debit", "Credit",
    "EcritureLet", "DateLet", "ValidDate", "Montantdevise", "Idevise",
)  # fmt: skip
SEPARATORS = ("\t", "|")
ENCODING = "iso-8859-15"  # one of the encodings A47 A-1 names; has € and Œ
EOL = "\r\n"

_ACCOUNT_LABELS = {
    "bank": "Banque",
    "clearing": "Virements internes (prestataire de paiement)",
    "fees": "Services bancaires et assimilés",
    "gifts": "Dons manuels",
    "gifts_company": "Mécénat",
    "tips": "Pourboires à reverser à la plateforme",
    "suspense": "Compte d'attente",
}
_JOURNAL_LABELS = {"movements": "Dons en ligne", "bank": "Banque"}


def file_name(siren: str | None, closing: date) -> str:
    """``{SIREN}FEC{AAAAMMJJ}.txt``, the closing date of the period."""
    return f"{siren or '000000000'}FEC{closing:%Y%m%d}.txt"


def fec_amount(minor: int, currency: str) -> str:
    """Decimal comma, no thousands separator: ``1234,56``."""
    return format(amount(minor, currency), "f").replace(".", ",")


@dataclass(frozen=True, slots=True)
class Posting:
    account: str  # a key of _ACCOUNT_LABELS
    minor: int  # signed: debit > 0, credit < 0


def postings(line: ReportLine) -> list[Posting]:
    """The balanced postings of one movement (zero-amount accounts left out)."""
    split = line.split
    if line.donation_id is not None and line.kind in ("payment", "refund", "dispute"):
        counter = "gifts_company" if line.company_name else "gifts"
    elif line.kind in ("fee", "application_fee"):
        counter = "fees"
    else:
        counter = "suspense"
    sums: dict[str, int] = {}

    def post(account: str, minor: int) -> None:
        sums[account] = sums.get(account, 0) + minor

    post("clearing", line.net_minor)
    post("fees", split.provider_fee + split.platform_fee)
    post("tips", split.tip)
    post(counter, -line.gross_minor)
    if line.kind == "payment" and counter.startswith("gifts") and line.tip_minor > 0:
        # The donor's tip is not a gift: it is owed to the platform.
        tip_in = min(line.tip_minor, line.gross_minor)
        post(counter, tip_in)
        post("tips", -tip_in)
    assert sum(sums.values()) == 0, sums
    return [Posting(a, m) for a, m in sums.items() if m != 0]


class FecWriter:
    """Text of the file in pieces: ``header``, ``movements`` (time order, any number of
    times), ``transfers``. Keeps only the running entry number of each journal."""

    def __init__(self, chart: ChartOfAccounts, sep: str = "\t", locale: str = "fr") -> None:
        if sep not in SEPARATORS:
            raise ValueError("the FEC separator is a tab or |")
        self.chart = chart
        self.sep = sep
        self.locale = locale
        self.numbers = {"movements": 0, "bank": 0}
        self.balance = 0  # debits minus credits so far: stays 0

    def header(self) -> str:
        return self.sep.join(COLUMNS) + EOL

    def _clean(self, value: str) -> str:
        return " ".join(value.replace(self.sep, " ").split())[:200]

    def _entry(
        self, journal: str, day: date, piece: str, label: str, posts: list[Posting], currency: str
    ) -> str:
        self.numbers[journal] += 1
        code = getattr(self.chart, f"journal_{journal}")
        out: list[str] = []
        for p in posts:
            self.balance += p.minor
            value, zero = fec_amount(abs(p.minor), currency), fec_amount(0, currency)
            foreign = currency != "EUR"
            fields = [
                code, _JOURNAL_LABELS[journal], str(self.numbers[journal]), f"{day:%Y%m%d}",
                getattr(self.chart, p.account), _ACCOUNT_LABELS[p.account], "", "",
                self._clean(piece), f"{day:%Y%m%d}", self._clean(label),
                value if p.minor > 0 else zero, value if p.minor < 0 else zero, "", "",
                f"{day:%Y%m%d}", value if foreign else "", currency if foreign else "",
            ]  # fmt: skip
            out.append(self.sep.join(fields))
        return EOL.join(out) + EOL

    def _label(self, line: ReportLine) -> str:
        kind = text(line.kind, self.locale)
        if line.donation_id is None:
            return f"{kind} {line.description or line.source_id or line.line_id}"
        donor = line.donor_label(text("anonymous", self.locale))
        return f"{kind} {line.campaign_title or ''} {donor}"

    def movements(self, lines: Iterable[ReportLine], fallback_day: date) -> str:
        chunks: list[str] = []
        for line in lines:
            posts = postings(line)
            if not posts:
                continue
            when = local(line.occurred_at)
            day = when.date() if when else (line.payout_date or fallback_day)
            piece = line.source_id or line.line_id
            chunks.append(
                self._entry("movements", day, piece, self._label(line), posts, line.currency)
            )
        return "".join(chunks)

    def transfers(self, payouts: Iterable[PayoutHeader]) -> str:
        """One bank entry per payout (``D bank / C clearing``; reversed when negative)."""
        chunks: list[str] = []
        ordered = sorted(payouts, key=lambda h: (h.arrival_date or date.min, h.provider_payout_id))
        for h in ordered:
            if h.amount_minor == 0 or h.arrival_date is None:
                continue
            posts = [Posting("bank", h.amount_minor), Posting("clearing", -h.amount_minor)]
            label = f"{text('payout', self.locale)} {h.provider} {h.provider_payout_id}"
            chunks.append(
                self._entry("bank", h.arrival_date, h.provider_payout_id, label, posts, h.currency)
            )
        return "".join(chunks)


def parse_amount(text_value: str) -> Decimal:
    """``1234,56`` → Decimal (for checks and tests)."""
    return Decimal(text_value.replace(",", "."))
