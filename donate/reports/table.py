"""The movement table every report format shares: columns, labels (fr, en) and typed values.

Columns follow HelloAsso's payout export (campaign, operation type, credit, debit, order
and payment ids, payment date, method and status, payout date and id, designation, payer
company, name, e-mail, SIREN), plus the fee split, net, receipt number and match.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from donate.domain.money import exponent
from donate.domain.payouts import PayoutHeader, ReportLine

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
    value: Callable[[ReportLine, str], Value]

    def label(self, locale: str) -> str:
        return self.en if locale == "en" else self.fr


def _m(get: Callable[[ReportLine], int]) -> Callable[[ReportLine, str], Value]:
    return lambda ln, _loc: amount(get(ln), ln.currency)


def _gift(ln: ReportLine, _loc: str) -> Value:
    if ln.donation_amount_minor is None:
        return None
    return amount(ln.donation_amount_minor, ln.currency)


def _campaign_kind(ln: ReportLine, loc: str) -> Value:
    return text(ln.campaign_kind, loc) if ln.campaign_kind else ""


COLUMNS: tuple[Column, ...] = (
    Column("date", "Date", "Date", "datetime", lambda ln, _: local(ln.occurred_at)),
    Column("type", "Type d'opération", "Operation type", "text", lambda ln, lc: text(ln.kind, lc)),
    Column("donation_id", "N° de don", "Donation id", "text", lambda ln, _: ln.donation_id or ""),
    Column("payment_id", "Réf. paiement", "Payment id", "text", lambda ln, _: ln.payment_ref or ""),
    Column("source_id", "Réf. mouvement", "Movement id", "text", lambda ln, _: ln.source_id or ""),
    Column("method", "Moyen de paiement", "Payment method", "text", lambda ln, _: ln.method or ""),
    Column(
        "status", "Statut du don", "Donation status", "text", lambda ln, _: ln.donation_status or ""
    ),
    Column("campaign_kind", "Type de campagne", "Campaign type", "text", _campaign_kind),
    Column("campaign", "Campagne", "Campaign", "text", lambda ln, _: ln.campaign_title or ""),
    Column("designation", "Désignation", "Designation", "text", lambda ln, _: ln.description),
    Column(
        "donor", "Donateur", "Donor", "text", lambda ln, lc: ln.donor_label(text("anonymous", lc))
    ),
    Column("company", "Société", "Company", "text", lambda ln, _: ln.company_name or ""),
    Column("last_name", "Nom", "Last name", "text", lambda ln, _: ln.last_name),
    Column("first_name", "Prénom", "First name", "text", lambda ln, _: ln.first_name),
    Column("email", "E-mail", "E-mail", "text", lambda ln, _: ln.email),
    Column("siren", "SIREN", "SIREN", "text", lambda ln, _: ln.siren or ""),
    Column("receipt", "N° de reçu", "Receipt number", "text",
           lambda ln, _: ln.receipt_number or ""),
    Column("gift", "Montant du don", "Gift amount", "money", _gift),
    Column("gross", "Brut", "Gross", "money", _m(lambda ln: ln.gross_minor)),
    Column("provider_fee", "Frais prestataire", "Provider fee", "money",
           _m(lambda ln: ln.split.provider_fee)),
    Column("platform_fee", "Commission plateforme", "Platform fee", "money",
           _m(lambda ln: ln.split.platform_fee)),
    Column("tip", "Pourboire", "Tip", "money", _m(lambda ln: ln.split.tip)),
    Column("fee", "Frais total", "Total fee", "money", _m(lambda ln: ln.fee_minor)),
    Column("net", "Net", "Net", "money", _m(lambda ln: ln.net_minor)),
    Column("credit", "Crédit", "Credit", "money", _m(lambda ln: max(ln.net_minor, 0))),
    Column("debit", "Débit", "Debit", "money", _m(lambda ln: max(-ln.net_minor, 0))),
    Column("currency", "Devise", "Currency", "text", lambda ln, _: ln.currency),
    Column("payout", "Versement", "Payout", "text", lambda ln, _: ln.payout_ref),
    Column("payout_date", "Date du versement", "Payout date", "date",
           lambda ln, _: ln.payout_date),
    Column("provider", "Prestataire", "Provider", "text", lambda ln, _: ln.provider),
    Column("matched", "Rapproché", "Matched", "text",
           lambda ln, lc: text("yes" if ln.matched else "no", lc)),
)  # fmt: skip


def row(line: ReportLine, locale: str) -> list[Value]:
    """The typed values of one movement, in ``COLUMNS`` order (anonymity respected)."""
    shown = line.anonymised()
    return [c.value(shown, locale) for c in COLUMNS]


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
