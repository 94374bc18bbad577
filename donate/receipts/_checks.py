"""Validation of a ReceiptSnapshot against DOMAIN.md §1 (called from its __post_init__)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, cast

from donate.domain.money import Money

from .errors import InvalidReceipt, ReceiptIncomplete
from .numbering import parse_receipt_number
from .vocabulary import PAYMENT_MODES

if TYPE_CHECKING:
    from .snapshot import Address, CompanyDonor, IndividualDonor, ReceiptSnapshot

_SIREN = re.compile(r"^\d{9}$")
# RNA: "W" + 9 characters; Corsican départements put letters in it (W2A…, W2B…).
_RNA = re.compile(r"^W[0-9A-Z]{9}$")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_FORM_ARTICLES: dict[str, frozenset[str]] = {
    # Since 2022 companies must use 16216 (art. 238 bis); 11580 keeps 200 and 978 (IFI).
    "11580": frozenset({"200", "978"}),
    "16216": frozenset({"238 bis"}),
}


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def _missing_address(prefix: str, a: Address, *, need_postcode: bool) -> list[str]:
    missing = []
    if not any(line.strip() for line in a.lines):
        missing.append(f"{prefix}.lines")
    # Some countries have no postcode; a French address without one is incomplete.
    if _blank(a.postal_code) and (need_postcode or a.country.strip().lower() == "france"):
        missing.append(f"{prefix}.postal_code")
    if _blank(a.city):
        missing.append(f"{prefix}.city")
    if _blank(a.country):
        missing.append(f"{prefix}.country")
    return missing


def _missing_mentions(s: ReceiptSnapshot) -> list[str]:
    missing: list[str] = []

    def need(path: str, value: str | None) -> None:
        if _blank(value):
            missing.append(path)

    need("number", s.number)  # mention 1
    b = s.beneficiary  # mentions 2-4
    need("beneficiary.legal_name", b.legal_name)
    missing += _missing_address("beneficiary.address", b.address, need_postcode=True)
    need("beneficiary.object", b.object)
    if _blank(b.siren) and _blank(b.rna):
        missing.append("beneficiary.siren_or_rna")
    need("beneficiary.qualification", b.qualification)
    if s.is_company:  # mention 5
        c = cast("CompanyDonor", s.donor)
        need("donor.company_name", c.company_name)
        need("donor.legal_form", c.legal_form)
        need("donor.siren", c.siren)
    else:
        i = cast("IndividualDonor", s.donor)
        need("donor.last_name", i.last_name)
        need("donor.first_name", i.first_name)
    missing += _missing_address("donor.address", s.donor.address, need_postcode=False)
    if not s.articles:  # mention 6
        missing.append("articles")
    if not s.payments:  # mention 8
        missing.append("payments")
    if s.kind == "annual" and s.period is None:
        missing.append("period")
    need("gift_form", s.gift_form)  # mention 9
    need("nature", s.nature)  # mention 10
    # Mention 11 applies to gifts in cash ("en numéraire") only.
    if s.nature == "Numéraire" and not any(m.strip() for m in s.payment_modes):
        missing.append("payment_modes")
    need("place_of_issue", s.place_of_issue)  # mention 12
    need("signatory.name", s.signatory.name)
    need("signatory.role", s.signatory.role)
    return missing


def _check_amounts(s: ReceiptSnapshot) -> None:
    # CERFA receipts reduce French tax, assessed in euros: another currency must be
    # converted (at the payment date's rate) before the receipt is made, not here.
    for m in (s.amount, *(p.amount for p in s.payments)):
        if m.currency != "EUR":
            raise InvalidReceipt(f"CERFA receipts are in EUR only, got {m.currency}")
        if m.minor <= 0:
            raise InvalidReceipt(f"receipt amounts must be positive, got {m}")
    total = sum((p.amount for p in s.payments), Money.zero("EUR"))
    if total != s.amount:
        raise InvalidReceipt(f"payments add up to {total}, receipt says {s.amount}")


def _check_rules(s: ReceiptSnapshot) -> None:
    if s.schema_version != 1:
        raise InvalidReceipt(f"unsupported schema_version {s.schema_version}")
    try:
        parse_receipt_number(s.number)
        if s.replaces is not None:
            parse_receipt_number(s.replaces)
    except ValueError as exc:
        raise InvalidReceipt(str(exc)) from exc
    if s.replaces == s.number:
        raise InvalidReceipt("a receipt cannot replace itself (numbers are never reused)")
    if s.kind not in ("single", "annual"):
        raise InvalidReceipt(f"unknown receipt kind {s.kind!r}")
    allowed = _FORM_ARTICLES.get(s.form)
    if allowed is None:
        raise InvalidReceipt(f"unknown cerfa form {s.form!r}")
    if len(set(s.articles)) != len(s.articles) or not set(s.articles) <= allowed:
        raise InvalidReceipt(f"articles {list(s.articles)} do not fit form {s.form}")
    if s.is_company != (s.form == "16216"):
        raise InvalidReceipt("companies use form 16216, individuals form 11580")
    b = s.beneficiary
    if b.siren and not _SIREN.match(b.siren):
        raise InvalidReceipt(f"beneficiary SIREN must be 9 digits: {b.siren!r}")
    if b.rna and not _RNA.match(b.rna):
        raise InvalidReceipt(f"beneficiary RNA must look like W123456789: {b.rna!r}")
    if s.is_company and not _SIREN.match(cast("CompanyDonor", s.donor).siren):
        raise InvalidReceipt("donor SIREN must be 9 digits")
    _check_amounts(s)
    if s.kind == "single" and len(s.payments) != 1:
        raise InvalidReceipt("a single receipt covers exactly one payment")
    if s.period is not None:
        if s.period.start > s.period.end:
            raise InvalidReceipt("period starts after it ends")
        for p in s.payments:
            if not s.period.start <= p.date <= s.period.end:
                raise InvalidReceipt(f"payment of {p.date} is outside the period")
    if max(p.date for p in s.payments) > s.issued_on:
        raise InvalidReceipt("a receipt cannot be issued before the payment it certifies")
    unknown = [m for m in s.payment_modes if m not in PAYMENT_MODES]
    if unknown:
        # Each mode must tick a cerfa box; use vocabulary.payment_mode_label.
        raise InvalidReceipt(f"unknown payment mode(s) {unknown}")
    png = s.signatory.signature_png
    if png is not None and not png.startswith(_PNG_MAGIC):
        raise InvalidReceipt("signature image must be a PNG")


def check_snapshot(s: ReceiptSnapshot) -> None:
    """Raise ReceiptIncomplete naming every missing mention, then InvalidReceipt on rules."""
    missing = _missing_mentions(s)
    if missing:
        raise ReceiptIncomplete(tuple(missing))
    _check_rules(s)
