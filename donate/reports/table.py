"""The movement table every report format shares: columns, labels (fr, en) and typed values.

Columns follow HelloAsso's payout export (campaign, operation type, credit, debit, order
and payment ids, payment date, method and status, payout date and id, designation, payer
company, name, e-mail, SIREN), plus the fee split, net, receipt number and match.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from donate.domain.money import exponent
from donate.domain.payouts import FeeSplit, PayoutHeader, ReportLine

PARIS = ZoneInfo("Europe/Paris")
Value = str | int | Decimal | date | datetime | None
ColumnType = Literal["text", "money", "date", "datetime"]

_TEXT: dict[str, dict[str, str]] = {
    "fr": {
        "anonymous": "anonyme",
        "yes": "oui",
        "no": "non",
        "payment": "Paiement",
        "refund": "Remboursement",
        "dispute": "Contestation / impayé",
        "fee": "Frais du prestataire",
        "application_fee": "Commission plateforme et pourboires",
        "adjustment": "Ajustement",
        "payout": "Virement",
        "donation": "Don",
        "crowdfunding": "Financement participatif",
        "association": "Association",
        "report": "Rapport de versement",
        "period_report": "Versements de la période",
        "in_transit": "Dons encaissés pas encore versés",
        "provider": "Prestataire",
        "payout_id": "Versement",
        "status": "Statut",
        "arrival": "Date d'arrivée en banque",
        "amount": "Montant du versement",
        "net_sum": "Somme des nets",
        "difference": "Écart",
        "movements": "Mouvements",
        "unmatched": "Non rapprochés",
        "check": "Contrôle",
        "check_ok": "OK : la somme des nets égale le montant du versement",
        "check_bad": "ÉCART : la somme des nets ne correspond PAS au montant du versement",
        "totals": "Totaux",
        "by_type": "Totaux par type",
        "by_campaign": "Totaux par campagne",
        "no_campaign": "(hors campagne)",
        "total": "Total",
        "count": "Nombre",
        "summary": "Résumé",
        "unmatched_lines": "Mouvements non rapprochés",
        "period": "Période",
    },
    "en": {
        "anonymous": "anonymous",
        "yes": "yes",
        "no": "no",
        "payment": "Payment",
        "refund": "Refund",
        "dispute": "Dispute / chargeback",
        "fee": "Provider fees",
        "application_fee": "Platform fee and tips",
        "adjustment": "Adjustment",
        "payout": "Transfer",
        "donation": "Donation",
        "crowdfunding": "Crowdfunding",
        "association": "Association",
        "report": "Payout report",
        "period_report": "Payouts of the period",
        "in_transit": "Gifts received, not yet paid out",
        "provider": "Provider",
        "payout_id": "Payout",
        "status": "Status",
        "arrival": "Bank arrival date",
        "amount": "Payout amount",
        "net_sum": "Sum of nets",
        "difference": "Difference",
        "movements": "Movements",
        "unmatched": "Unmatched",
        "check": "Check",
        "check_ok": "OK: the nets add up to the payout amount",
        "check_bad": "MISMATCH: the nets do NOT add up to the payout amount",
        "totals": "Totals",
        "by_type": "Totals by type",
        "by_campaign": "Totals by campaign",
        "no_campaign": "(no campaign)",
        "total": "Total",
        "count": "Count",
        "summary": "Summary",
        "unmatched_lines": "Unmatched movements",
        "period": "Period",
    },
}


def labels_of(locale: str) -> dict[str, str]:
    """Every label of ``locale`` (French for an unknown one), by key."""
    return dict(_TEXT.get(locale, _TEXT["fr"]))


def text(key: str, locale: str) -> str:
    return _TEXT.get(locale, _TEXT["fr"]).get(key, key)


def amount(minor: int, currency: str) -> Decimal:
    """Minor units as the decimal amount people read (zero-decimal currencies stay whole)."""
    return Decimal(minor).scaleb(-exponent(currency))


def local(moment: datetime | None) -> datetime | None:
    """Naive Paris time (spreadsheets have no time zones)."""
    return moment.astimezone(PARIS).replace(tzinfo=None) if moment else None


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    fr: str
    en: str
    type: ColumnType
    user_text: bool = False  # typed by people (names, titles): defused in the CSV

    def label(self, locale: str) -> str:
        return self.en if locale == "en" else self.fr


COLUMNS: tuple[Column, ...] = (
    Column("date", "Date", "Date", "datetime"),
    Column("type", "Type d'opération", "Operation type", "text"),
    Column("donation_id", "N° de don", "Donation id", "text"),
    Column("payment_id", "Réf. paiement", "Payment id", "text"),
    Column("source_id", "Réf. mouvement", "Movement id", "text"),
    Column("method", "Moyen de paiement", "Payment method", "text"),
    Column("status", "Statut du don", "Donation status", "text"),
    Column("campaign_kind", "Type de campagne", "Campaign type", "text"),
    Column("campaign", "Campagne", "Campaign", "text", user_text=True),
    Column("designation", "Désignation", "Designation", "text", user_text=True),
    Column("donor", "Donateur", "Donor", "text", user_text=True),
    Column("company", "Société", "Company", "text", user_text=True),
    Column("last_name", "Nom", "Last name", "text", user_text=True),
    Column("first_name", "Prénom", "First name", "text", user_text=True),
    Column("email", "E-mail", "E-mail", "text", user_text=True),
    Column("siren", "SIREN", "SIREN", "text"),
    Column("receipt", "N° de reçu", "Receipt number", "text"),
    Column("gift", "Montant du don", "Gift amount", "money"),
    Column("gross", "Brut", "Gross", "money"),
    Column("provider_fee", "Frais prestataire", "Provider fee", "money"),
    Column("platform_fee", "Commission plateforme", "Platform fee", "money"),
    Column("tip", "Pourboire", "Tip", "money"),
    Column("fee", "Frais total", "Total fee", "money"),
    Column("net", "Net", "Net", "money"),
    Column("credit", "Crédit", "Credit", "money"),
    Column("debit", "Débit", "Debit", "money"),
    Column("currency", "Devise", "Currency", "text"),
    Column("payout", "Versement", "Payout", "text"),
    Column("payout_date", "Date du versement", "Payout date", "date"),
    Column("provider", "Prestataire", "Provider", "text"),
    Column("matched", "Rapproché", "Matched", "text"),
)
MONEY_INDEXES = tuple(i for i, c in enumerate(COLUMNS) if c.type == "money")
# A cell as ``cells`` gives it: money in signed minor units of the line's currency.
Cell = str | int | datetime | date | None


class Cells:
    """The values of one movement in ``COLUMNS`` order, with one function call per line and
    labels looked up once per report (a year's report is a million lines). Money stays in
    minor units, dates stay dates (the movement's time in Paris, still aware: dropping the
    zone costs as much again): each format renders them its way. The donor's chosen
    anonymity is respected: no name, e-mail, company or SIREN."""

    def __init__(self, locale: str) -> None:
        table = self.labels = labels_of(locale)
        self.anonymous = table["anonymous"]
        self.yes, self.no = table["yes"], table["no"]

    def __call__(self, ln: ReportLine, split: FeeSplit) -> list[Cell]:
        labels = self.labels
        net = ln.net_minor
        if ln.donation_id is None:
            donor = company = last = first = email = siren = ""
        elif ln.anonymous:
            donor, company, last, first, email, siren = self.anonymous, "", "", "", "", ""
        else:
            company, last, first = ln.company_name or "", ln.last_name, ln.first_name
            email, siren = ln.email, ln.siren or ""
            donor = company or f"{first} {last}".strip()
        kind = ln.campaign_kind
        when = ln.occurred_at
        return [
            when.astimezone(PARIS) if when else None, labels.get(ln.kind, ln.kind),
            ln.donation_id or "", ln.payment_ref or "", ln.source_id or "", ln.method or "",
            ln.donation_status or "",
            labels.get(kind, kind) if kind else "", ln.campaign_title or "", ln.description,
            donor, company, last, first, email, siren, ln.receipt_number or "",
            ln.donation_amount_minor, ln.gross_minor, split.provider_fee, split.platform_fee,
            split.tip, ln.fee_minor, net, net if net > 0 else 0, -net if net < 0 else 0,
            ln.currency, ln.payout_ref, ln.payout_date, ln.provider,
            self.yes if ln.matched else self.no,
        ]  # fmt: skip


def row(line: ReportLine, locale: str) -> list[Value]:
    """The typed values of one movement, in ``COLUMNS`` order, money as ``Decimal`` (the
    reference rendering: the XLSX writer renders ``Cells`` faster, the same way, and
    PostgreSQL renders the CSV's, as tests/reports/test_csv_copy.py checks)."""
    out: list[Value] = []
    for i, value in enumerate(Cells(locale)(line, line.split)):
        if i in MONEY_INDEXES and isinstance(value, int):
            out.append(amount(value, line.currency))
        elif isinstance(value, datetime):
            out.append(value.replace(tzinfo=None))
        else:
            out.append(value)
    return out


SUMMARY_KEYS = ("provider", "payout_id", "status", "arrival", "amount", "net_sum", "difference")


def summary_row(h: PayoutHeader) -> list[Value]:
    """One payout in the summary: provider, id, status, arrival, amount, nets, difference,
    movements, unmatched, check."""
    return [
        h.provider,
        h.provider_payout_id,
        h.status,
        h.arrival_date,
        amount(h.amount_minor, h.currency),
        amount(h.net_sum_minor, h.currency),
        amount(h.difference_minor, h.currency),
    ]


def check_text(headers: list[PayoutHeader], locale: str) -> str:
    bad = [h for h in headers if not h.balanced]
    if not bad:
        return text("check_ok", locale)
    ids = ", ".join(h.provider_payout_id for h in bad)
    return f"!!! {text('check_bad', locale)} ({ids}) !!!"
