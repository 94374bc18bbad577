"""Build the frozen ReceiptSnapshot of a receipt from the association, donor and gift rows.

Only mapping happens here: the snapshot validates itself (``ReceiptIncomplete`` names a
missing mention, ``InvalidReceipt`` a rule broken), so a receipt with a mention missing is
never issued.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from functools import cache
from typing import Any
from uuid import UUID

from babel import Locale

from donate.db.receipts import Gift
from donate.domain.money import Money
from donate.receipts.numbering import local_date_of
from donate.receipts.snapshot import (
    Address,
    Article,
    Beneficiary,
    CompanyDonor,
    Donor,
    Form,
    IndividualDonor,
    InvalidReceipt,
    Kind,
    Payment,
    Period,
    ReceiptSnapshot,
    Signatory,
    payment_mode_label,
)

# organizations.fiscal_qualification → the box of the cerfa (mention 4).
_QUALIFICATIONS = {
    "interet_general": "Œuvre ou organisme d'intérêt général",
    "utilite_publique": "Association ou fondation reconnue d'utilité publique par décret en "
    "date du {decree}",
    "fondation_utilite_publique": "Fondation reconnue d'utilité publique",
    "culte": "Association cultuelle ou de bienfaisance et établissement public des cultes "
    "reconnus d'Alsace-Moselle",
    "enseignement": "Établissement d'enseignement supérieur ou d'enseignement artistique public "
    "ou privé, d'intérêt général, à but non lucratif",
    "aide_personnes_difficulte": "Organisme d'aide aux personnes en difficulté (fourniture "
    "gratuite de repas, de soins ou de logement)",
}


Row = Any  # an asyncpg Record (or any mapping) of organizations / donors


# The providers' own method names (Mollie's differ from Stripe's) → our method codes.
_METHODS = {
    "creditcard": "card", "applepay": "card", "googlepay": "card", "directdebit": "sepa_debit",
    "banktransfer": "transfer", "sepa_credit_transfer": "transfer",
}  # fmt: skip


def _mode(method: str | None) -> str:
    """The cerfa's wording for a payment method; an unknown one is refused (InvalidReceipt):
    the receipt must tick a real box of the form."""
    code = method or "card"  # hosted checkouts that report no method took a card
    try:
        return payment_mode_label(_METHODS.get(code, code))
    except ValueError as exc:
        raise InvalidReceipt(str(exc)) from None


class NotEligible(Exception):
    """The association cannot issue receipts at all (its fiscal qualification is 'none')."""


@cache
def _country(code: str) -> str:
    name = Locale("fr").territories.get(code.strip().upper())
    return str(name) if name else code


def _address(row: Row) -> Address:
    lines = tuple(x for x in (row["address_line1"], row["address_line2"]) if x)
    return Address(lines, row["postal_code"] or "", row["city"] or "", _country(row["country"]))


def is_company(donor: Row) -> bool:
    return bool(donor["company_name"] and donor["siren"])


def form_of(donor: Row) -> Form:
    """Companies (name and SIREN given) get cerfa 16216, individuals cerfa 11580."""
    return "16216" if is_company(donor) else "11580"


def _donor(row: Row) -> Donor:
    if is_company(row):
        return CompanyDonor(
            row["company_name"], row["legal_form"] or "", row["siren"], _address(row)
        )
    return IndividualDonor(row["last_name"], row["first_name"], _address(row))


def _articles(org: Row, form: Form) -> tuple[Article, ...]:
    allowed: tuple[Article, ...] = ("238 bis",) if form == "16216" else ("200", "978")
    chosen = tuple(a for a in allowed if a in (org["cgi_articles"] or []))
    if not chosen:
        raise InvalidReceipt(f"the association issues no receipt under form {form}")
    return chosen


def beneficiary(org: Row) -> Beneficiary:
    qualification = org["fiscal_qualification"]
    if qualification not in _QUALIFICATIONS:
        raise NotEligible(f"fiscal qualification {qualification!r} opens no tax reduction")
    text = _QUALIFICATIONS[qualification].format(decree=org["utilite_publique_decree"] or "")
    return Beneficiary(
        legal_name=org["legal_name"],
        address=_address(org),
        object=org["object"],
        qualification=text,
        siren=org["siren"],
        rna=org["rna"],
    )


def build(
    *,
    org: Row,
    donor: Row,
    gifts: Sequence[Gift],
    amounts: Mapping[UUID, int],
    number: str,
    kind: Kind,
    issued_on: date,
    period: Period | None = None,
    replaces: str | None = None,
) -> ReceiptSnapshot:
    """The snapshot of a receipt certifying ``amounts[gift.id]`` for each gift."""
    form = form_of(donor)
    payments = []
    modes: list[str] = []
    for g in gifts:
        if g.paid_at is None:
            raise InvalidReceipt(f"gift {g.id} has no payment date")
        payments.append(Payment(local_date_of(g.paid_at), Money(amounts[g.id], g.currency)))
        label = _mode(g.method)
        if label not in modes:
            modes.append(label)
    png = org["receipt_signature_png"]
    return ReceiptSnapshot(
        number=number,
        kind=kind,
        form=form,
        articles=_articles(org, form),
        beneficiary=beneficiary(org),
        donor=_donor(donor),
        amount=Money(sum(amounts[g.id] for g in gifts), gifts[0].currency),
        payments=tuple(payments),
        payment_modes=tuple(modes),
        issued_on=issued_on,
        place_of_issue=org["city"],
        signatory=Signatory(
            name=org["receipt_signatory_name"] or "",
            role=org["receipt_signatory_role"] or "",
            signature_png=bytes(png) if png is not None else None,
        ),
        period=period,
        replaces=replaces,
    )
