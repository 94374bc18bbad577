from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from donate.receipts.render import render_cancellation_pdf, render_receipt_pdf
from donate.receipts.snapshot import Payment, Period, ReceiptSnapshot

from .factories import SIGNATORY, annual, company, eur, single, tiny_png


def _text(pdf: bytes) -> str:
    reader = PdfReader(BytesIO(pdf))
    raw = "\n".join(page.extract_text() for page in reader.pages)
    # Babel's figures use no-break spaces; compare on plain spaces.
    return re.sub(r"[ \u00a0\u202f]+", " ", raw)


def test_same_snapshot_same_bytes() -> None:
    first = render_receipt_pdf(annual())
    render_receipt_pdf(company())  # interleaved renders must not leak state
    second = render_receipt_pdf(annual())
    assert first == second
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()
    assert first.startswith(b"%PDF-")


def test_bytes_ignore_the_environment_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    before = render_receipt_pdf(single())
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert render_receipt_pdf(single()) == before


def test_different_snapshots_different_ids() -> None:
    a, b = render_receipt_pdf(single()), render_receipt_pdf(single(number="2026-000124"))
    id_a, id_b = (re.search(rb"/ID\s*\[<([0-9A-F]+)>", x) for x in (a, b))
    assert id_a
    assert id_b
    assert id_a.group(1) != id_b.group(1)


def test_metadata_and_dates() -> None:
    reader = PdfReader(BytesIO(render_receipt_pdf(single())))
    meta = reader.metadata
    assert meta is not None
    assert meta.title == "Reçu fiscal n° 2026-000123"
    assert meta.author == "Les Amis de l'Œuvre Solidaire"
    assert meta.creator == "donate"
    assert "11580*05" in (meta.subject or "")
    assert str(meta["/CreationDate"]) == "D:20260116000000+01'00'"
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 portrait


def test_fonts_are_embedded_dejavu() -> None:
    page = PdfReader(BytesIO(render_receipt_pdf(single()))).pages[0]
    fonts: Any = page["/Resources"]["/Font"]  # type: ignore[index]
    names = {str(fonts[key].get_object()["/BaseFont"]) for key in fonts}
    # Subset prefixes ("AAAAAA+") then the face: only the two DejaVu faces we ship.
    assert {n.split("+")[-1] for n in names} == {"DejaVuSans", "DejaVuSans-Bold"}
    for key in fonts:
        descendant = fonts[key].get_object()
        assert "/FontFile2" in descendant["/FontDescriptor"].get_object()


# Mentions 1-12 of DOMAIN.md §1 for an individual's single receipt (13: A4 above).
INDIVIDUAL_MENTIONS = [
    "Numéro d'ordre du reçu : 2026-000123",
    "11580*05",
    "Reçu au titre des dons à certains organismes d'intérêt général",
    "articles 200 et 978 du code général des impôts",
    "Bénéficiaire des versements",
    "Les Amis de l'Œuvre Solidaire",
    "12 rue des Écoles, Bâtiment B, 75005 Paris, France",
    "Aide alimentaire et accompagnement des personnes en difficulté",
    "N° SIREN 123456789",
    "N° RNA W751234567",
    "☒ Œuvre ou organisme d'intérêt général",
    "Donateur",
    "Dupré",
    "Hélène",
    "3 allée des Châtaigniers, 69003 Lyon, France",
    "***120,00 €***",
    "cent vingt euros",
    "Date du versement ou du don : 15 janvier 2026",
    "certifie sur l'honneur que les dons et versements qu'il reçoit ouvrent droit à la "
    "réduction d'impôt prévue à l'article 200 du code général des impôts",
    "☒ 200 du CGI ☐ 978 du CGI",
    "☒ Déclaration de don manuel",
    "☐ Acte authentique",
    "☒ Numéraire",
    "☒ Virement, prélèvement, carte bancaire",
    "Carte bancaire",
    "Fait à Paris, le 16 janvier 2026",
    "Marie-Claire Lefèvre, Trésorière",
]


def test_every_mandatory_mention_is_printed() -> None:
    text = _text(render_receipt_pdf(single()))
    flat = re.sub(r"\s+", " ", text)
    missing = [m for m in INDIVIDUAL_MENTIONS if m not in flat]
    assert not missing, f"not found in PDF text: {missing}"


def test_company_form_16216() -> None:
    flat = re.sub(r"\s+", " ", _text(render_receipt_pdf(company())))
    for mention in [
        "16216*02",
        "effectués par les entreprises",
        "Entreprise donatrice",
        "Dénomination ou raison sociale Boulangerie Fénelon",
        "Forme juridique SARL",
        "N° SIREN 987654321",
        "8 place du Marché, 33000 Bordeaux",
        "prévue à l'article 238 bis du code général des impôts",
        "☒ 238 bis du CGI",
    ]:
        assert mention in flat, mention
    assert "Prénoms" not in flat


def test_annual_receipt_lists_every_payment() -> None:
    snapshot = annual()
    flat = re.sub(r"\s+", " ", _text(render_receipt_pdf(snapshot)))
    assert "du 1er janvier 2025 au 31 décembre 2025" in flat
    assert "***300,00 €***" in flat
    assert "trois cents euros" in flat
    for p in snapshot.payments:
        assert p.date.strftime("%d/%m/%Y") in flat
    assert flat.count("25,00 €") == 12
    assert "☒ Virement, prélèvement, carte bancaire" in flat
    assert "Prélèvement" in flat


def test_weekly_annual_receipt_stays_readable() -> None:
    start = date(2025, 1, 3)
    payments = tuple(Payment(start + timedelta(weeks=i), eur(1000)) for i in range(52))
    pdf = render_receipt_pdf(annual(payments=payments, amount=eur(52000)))
    flat = _text(pdf)
    assert all(p.date.strftime("%d/%m/%Y") in flat for p in payments)
    assert len(PdfReader(BytesIO(pdf)).pages) <= 2


def test_other_values_tick_autres() -> None:
    pdf = render_receipt_pdf(single(gift_form="Legs", payment_modes=("Chèque",)))
    flat = re.sub(r"\s+", " ", _text(pdf))
    assert "☒ Autres (Legs)" in flat
    assert "☒ Chèque" in flat
    assert "☐ Virement, prélèvement, carte bancaire" in flat


def test_ifi_and_income_tax_articles() -> None:
    flat = re.sub(r"\s+", " ", _text(render_receipt_pdf(single(articles=("978", "200")))))
    assert "prévue aux articles 200 et 978 du code général des impôts" in flat
    assert "☒ 200 du CGI ☒ 978 du CGI" in flat


def test_replacement_and_signature_image() -> None:
    snapshot = single(
        number="2026-000200",
        replaces="2026-000123",
        signatory=replace(SIGNATORY, signature_png=tiny_png(40, 10)),
    )
    pdf = render_receipt_pdf(snapshot)
    assert "annule et remplace le reçu n° 2026-000123" in _text(pdf)
    assert len(PdfReader(BytesIO(pdf)).pages[0].images) == 1
    assert render_receipt_pdf(snapshot) == pdf


def test_user_text_is_not_markup() -> None:
    snapshot = single(place_of_issue="Paris <b>&</b> banlieue")
    assert "Fait à Paris <b>&</b> banlieue" in _text(render_receipt_pdf(snapshot))


CANCELED_AT = datetime(2026, 2, 2, 23, 30, tzinfo=UTC)  # 3 February in Paris


def test_cancellation_notice() -> None:
    pdf = render_cancellation_pdf(single(), CANCELED_AT, "Remboursement du don")
    assert pdf == render_cancellation_pdf(single(), CANCELED_AT, "Remboursement du don")
    flat = re.sub(r"\s+", " ", _text(pdf))
    for mention in [
        "Annulation du reçu n° 2026-000123",
        "***120,00 €***",
        "Hélène Dupré",
        "annulé à compter du 3 février 2026",
        "Motif : Remboursement du don",
        "Fait à Paris, le 3 février 2026",
    ]:
        assert mention in flat, mention
    meta = PdfReader(BytesIO(pdf)).metadata
    assert meta is not None
    assert meta.title == "Annulation du reçu fiscal n° 2026-000123"
    assert pdf != render_cancellation_pdf(single(), CANCELED_AT, "Rétrofacturation")


@pytest.mark.parametrize(
    ("canceled_at", "reason", "message"),
    [
        (datetime(2026, 1, 10, tzinfo=UTC), "Remboursement", "before it was issued"),
        (CANCELED_AT, "  ", "reason"),
        (datetime(2026, 2, 3), "Remboursement", "timezone-aware"),  # noqa: DTZ001
    ],
)
def test_cancellation_rejects(canceled_at: datetime, reason: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_cancellation_pdf(single(), canceled_at, reason)


def test_annual_period_is_in_the_snapshot_not_the_clock() -> None:
    snap: ReceiptSnapshot = annual(period=Period(date(2025, 1, 1), date(2025, 12, 31)))
    assert render_receipt_pdf(snap) == render_receipt_pdf(ReceiptSnapshot.from_json(snap.to_json()))


_DIGEST_SCRIPT = """
import hashlib, sys
from tests.receipts.factories import annual
from donate.receipts.render import render_receipt_pdf
sys.stdout.write(hashlib.sha256(render_receipt_pdf(annual())).hexdigest())
"""


def test_same_bytes_across_processes_and_hash_seeds() -> None:
    # set/dict ordering changes with PYTHONHASHSEED; the bytes must not.
    digests = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", _DIGEST_SCRIPT],
            capture_output=True,
            text=True,
            check=True,
            env=env,
            cwd=Path(__file__).resolve().parents[2],
        )
        digests.add(done.stdout)
    assert digests == {hashlib.sha256(render_receipt_pdf(annual())).hexdigest()}
