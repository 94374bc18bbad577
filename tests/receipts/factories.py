"""Builders of valid receipt snapshots for the receipts tests (no conftest by design)."""

from __future__ import annotations

import struct
import zlib
from dataclasses import replace
from datetime import date
from typing import Any

from donate.domain.money import Money
from donate.receipts.snapshot import (
    Address,
    Beneficiary,
    CompanyDonor,
    IndividualDonor,
    Payment,
    Period,
    ReceiptSnapshot,
    Signatory,
)


def eur(minor: int) -> Money:
    return Money(minor, "EUR")


def tiny_png(width: int = 4, height: int = 2) -> bytes:
    """A valid greyscale PNG built by hand, so tests need no imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + bytes([(x * 60) % 256 for x in range(width)]) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


BENEFICIARY = Beneficiary(
    legal_name="Les Amis de l'Œuvre Solidaire",
    address=Address(("12 rue des Écoles", "Bâtiment B"), "75005", "Paris", "France"),
    object="Aide alimentaire et accompagnement des personnes en difficulté",
    qualification="Œuvre ou organisme d'intérêt général",
    siren="123456789",
    rna="W751234567",
)
INDIVIDUAL = IndividualDonor(
    last_name="Dupré",
    first_name="Hélène",
    address=Address(("3 allée des Châtaigniers",), "69003", "Lyon", "France"),
)
COMPANY = CompanyDonor(
    company_name="Boulangerie Fénelon",
    legal_form="SARL",
    siren="987654321",
    address=Address(("8 place du Marché",), "33000", "Bordeaux", "France"),
)
SIGNATORY = Signatory(name="Marie-Claire Lefèvre", role="Trésorière")


def single(**overrides: Any) -> ReceiptSnapshot:
    base = ReceiptSnapshot(
        number="2026-000123",
        kind="single",
        form="11580",
        articles=("200",),
        beneficiary=BENEFICIARY,
        donor=INDIVIDUAL,
        amount=eur(12000),
        payments=(Payment(date(2026, 1, 15), eur(12000)),),
        payment_modes=("Carte bancaire",),
        issued_on=date(2026, 1, 16),
        place_of_issue="Paris",
        signatory=SIGNATORY,
    )
    return replace(base, **overrides)


def company(**overrides: Any) -> ReceiptSnapshot:
    return single(
        **{
            "form": "16216",
            "articles": ("238 bis",),
            "donor": COMPANY,
            "payment_modes": ("Virement",),
            **overrides,
        }
    )


MONTHLY = tuple(Payment(date(2025, month, 5), eur(2500)) for month in range(1, 13))


def annual(**overrides: Any) -> ReceiptSnapshot:
    return single(
        **{
            "number": "2026-000007",
            "kind": "annual",
            "amount": eur(30000),
            "payments": MONTHLY,
            "period": Period(date(2025, 1, 1), date(2025, 12, 31)),
            "payment_modes": ("Prélèvement",),
            "issued_on": date(2026, 1, 20),
            **overrides,
        }
    )
