"""The frozen copy of everything a fiscal receipt prints (DESIGN rule 6).

A snapshot is built once, when the number is allocated, stored as JSON next to the
receipt row and never changed: the PDF is a pure function of it, so re-rendering years
later gives the same bytes even if the association or the donor has moved since.
Construction validates the 13 mandatory mentions of DOMAIN.md §1 (``ReceiptIncomplete``
names what is missing) and the rules that make a receipt lawful (``InvalidReceipt``).
Receipts are in French by law: the donor's e-mail locale is deliberately not stored.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, TypeAlias, cast, get_args

from donate.domain.money import Money

from ._checks import check_snapshot
from .errors import InvalidReceipt, ReceiptIncomplete
from .vocabulary import (
    DEFAULT_GIFT_FORM,
    DEFAULT_NATURE,
    GIFT_FORMS,
    NATURES,
    PAYMENT_METHOD_LABELS,
    payment_mode_label,
)

__all__ = [
    "ARTICLES",
    "GIFT_FORMS",
    "NATURES",
    "PAYMENT_METHOD_LABELS",
    "SCHEMA_VERSION",
    "Address",
    "Article",
    "Beneficiary",
    "CompanyDonor",
    "Donor",
    "Form",
    "IndividualDonor",
    "InvalidReceipt",
    "Kind",
    "Payment",
    "Period",
    "ReceiptIncomplete",
    "ReceiptSnapshot",
    "Signatory",
    "payment_mode_label",
]

# Bump when the JSON shape changes; from_json must keep reading every older version
# because stored receipts are re-rendered for six years (LPF L102 E).
SCHEMA_VERSION = 1

Kind: TypeAlias = Literal["single", "annual"]
Form: TypeAlias = Literal["11580", "16216"]
Article: TypeAlias = Literal["200", "978", "238 bis"]
ARTICLES: tuple[Article, ...] = get_args(Article)


@dataclass(frozen=True, slots=True)
class Address:
    lines: tuple[str, ...]
    postal_code: str
    city: str
    country: str = "France"


@dataclass(frozen=True, slots=True)
class Beneficiary:
    legal_name: str
    address: Address
    object: str  # the association's purpose, stated explicitly (mention 2)
    qualification: str  # e.g. "Œuvre ou organisme d'intérêt général" (mention 4)
    siren: str | None = None
    rna: str | None = None


@dataclass(frozen=True, slots=True)
class IndividualDonor:
    last_name: str
    first_name: str
    address: Address


@dataclass(frozen=True, slots=True)
class CompanyDonor:
    company_name: str  # raison sociale
    legal_form: str  # forme juridique, e.g. "SAS"
    siren: str
    address: Address


Donor: TypeAlias = IndividualDonor | CompanyDonor


@dataclass(frozen=True, slots=True)
class Payment:
    date: date  # the payment date in Paris (numbering.local_date_of)
    amount: Money


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date


@dataclass(frozen=True, slots=True)
class Signatory:
    name: str
    role: str  # "Président", "Trésorière"…
    signature_png: bytes | None = None


@dataclass(frozen=True, slots=True)
class ReceiptSnapshot:
    """Everything printed on one receipt. Raises InvalidReceipt / ReceiptIncomplete."""

    number: str
    kind: Kind
    form: Form
    articles: tuple[Article, ...]
    beneficiary: Beneficiary
    donor: Donor
    amount: Money
    payments: tuple[Payment, ...]
    payment_modes: tuple[str, ...]  # labels, see payment_mode_label
    issued_on: date
    place_of_issue: str
    signatory: Signatory
    period: Period | None = None
    gift_form: str = DEFAULT_GIFT_FORM
    nature: str = DEFAULT_NATURE
    replaces: str | None = None  # number of the cancelled receipt this one replaces
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        check_snapshot(self)

    @property
    def is_company(self) -> bool:
        return isinstance(self.donor, CompanyDonor)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types only (str, int, list, dict, None); bytes as base64."""
        png = self.signatory.signature_png
        return {
            "schema_version": self.schema_version,
            "number": self.number,
            "kind": self.kind,
            "form": self.form,
            "articles": list(self.articles),
            "beneficiary": {
                "legal_name": self.beneficiary.legal_name,
                "address": _address_to_json(self.beneficiary.address),
                "object": self.beneficiary.object,
                "qualification": self.beneficiary.qualification,
                "siren": self.beneficiary.siren,
                "rna": self.beneficiary.rna,
            },
            "donor": _donor_to_json(self.donor),
            "amount": _money_to_json(self.amount),
            "payments": [
                {"date": p.date.isoformat(), "amount": _money_to_json(p.amount)}
                for p in self.payments
            ],
            "payment_modes": list(self.payment_modes),
            "issued_on": self.issued_on.isoformat(),
            "place_of_issue": self.place_of_issue,
            "signatory": {
                "name": self.signatory.name,
                "role": self.signatory.role,
                "signature_png": base64.b64encode(png).decode("ascii") if png else None,
            },
            "period": (
                {"start": self.period.start.isoformat(), "end": self.period.end.isoformat()}
                if self.period
                else None
            ),
            "gift_form": self.gift_form,
            "nature": self.nature,
            "replaces": self.replaces,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReceiptSnapshot:
        """Inverse of :meth:`to_json`. Malformed input raises InvalidReceipt."""
        try:
            return _from_json(data)
        except (KeyError, TypeError, AttributeError, binascii.Error) as exc:
            raise InvalidReceipt(f"malformed receipt snapshot: {exc!r}") from exc
        except InvalidReceipt:
            raise
        except ValueError as exc:  # bad ISO date, bad currency…
            raise InvalidReceipt(f"malformed receipt snapshot: {exc}") from exc


def _money_to_json(m: Money) -> dict[str, Any]:
    return {"minor": m.minor, "currency": m.currency}


def _address_to_json(a: Address) -> dict[str, Any]:
    return {
        "lines": list(a.lines),
        "postal_code": a.postal_code,
        "city": a.city,
        "country": a.country,
    }


def _donor_to_json(d: Donor) -> dict[str, Any]:
    if isinstance(d, CompanyDonor):
        return {
            "type": "company",
            "company_name": d.company_name,
            "legal_form": d.legal_form,
            "siren": d.siren,
            "address": _address_to_json(d.address),
        }
    return {
        "type": "individual",
        "last_name": d.last_name,
        "first_name": d.first_name,
        "address": _address_to_json(d.address),
    }


def _str(data: dict[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} must be a string")
    return value


def _opt_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else _str(data, key)


def _money(data: dict[str, Any]) -> Money:
    return Money(data["minor"], _str(data, "currency"))


def _address(data: dict[str, Any]) -> Address:
    lines = data["lines"]
    if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
        raise TypeError("address lines must be a list of strings")
    return Address(
        tuple(lines), _str(data, "postal_code"), _str(data, "city"), _str(data, "country")
    )


def _donor(data: dict[str, Any]) -> Donor:
    kind = data["type"]
    if kind == "company":
        return CompanyDonor(
            _str(data, "company_name"),
            _str(data, "legal_form"),
            _str(data, "siren"),
            _address(data["address"]),
        )
    if kind == "individual":
        return IndividualDonor(
            _str(data, "last_name"), _str(data, "first_name"), _address(data["address"])
        )
    raise InvalidReceipt(f"unknown donor type {kind!r}")


def _from_json(data: dict[str, Any]) -> ReceiptSnapshot:
    version = data["schema_version"]
    if version != SCHEMA_VERSION:
        raise InvalidReceipt(f"unsupported receipt schema_version {version!r}")
    ben = data["beneficiary"]
    sig = data["signatory"]
    png = sig.get("signature_png")
    period = data.get("period")
    return ReceiptSnapshot(
        number=_str(data, "number"),
        # Literal values are checked by check_snapshot, hence the casts.
        kind=cast(Kind, _str(data, "kind")),
        form=cast(Form, _str(data, "form")),
        articles=tuple(cast(Article, a) for a in data["articles"]),
        beneficiary=Beneficiary(
            legal_name=_str(ben, "legal_name"),
            address=_address(ben["address"]),
            object=_str(ben, "object"),
            qualification=_str(ben, "qualification"),
            siren=_opt_str(ben, "siren"),
            rna=_opt_str(ben, "rna"),
        ),
        donor=_donor(data["donor"]),
        amount=_money(data["amount"]),
        payments=tuple(
            Payment(date.fromisoformat(_str(p, "date")), _money(p["amount"]))
            for p in data["payments"]
        ),
        payment_modes=tuple(str(m) for m in data["payment_modes"]),
        issued_on=date.fromisoformat(_str(data, "issued_on")),
        place_of_issue=_str(data, "place_of_issue"),
        signatory=Signatory(
            name=_str(sig, "name"),
            role=_str(sig, "role"),
            signature_png=base64.b64decode(png, validate=True) if png is not None else None,
        ),
        period=(
            Period(date.fromisoformat(period["start"]), date.fromisoformat(period["end"]))
            if period is not None
            else None
        ),
        gift_form=_str(data, "gift_form"),
        nature=_str(data, "nature"),
        replaces=_opt_str(data, "replaces"),
        schema_version=version,
    )
