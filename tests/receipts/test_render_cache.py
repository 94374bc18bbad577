"""The renderer's caches (seeded font subset, text operators, formatted font objects) are an
optimisation only: a receipt rendered cold, in a fresh process, and warm, after thousands
of others, is the same PDF; a character outside the seeded repertoire still renders."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from dataclasses import replace
from datetime import date
from io import BytesIO
from pathlib import Path
from typing import Any

from pypdf import PdfReader

from donate.receipts.render import render_receipt_pdf
from donate.receipts.snapshot import Address, IndividualDonor, Payment

from .factories import INDIVIDUAL, SIGNATORY, company, eur, single, tiny_png

ROOT = Path(__file__).resolve().parents[2]

# Ł, ő, ń and Ŝ are not in the seeded repertoire: the document assigns them codes itself.
RARE = IndividualDonor(
    last_name="Łukasiewicz-Erdős",
    first_name="Ŝofia",
    address=Address(("7 Ulica Długa",), "80-831", "Gdańsk", "Pologne"),
)

_COLD = """
import hashlib, sys
from dataclasses import replace
from tests.receipts.factories import single, company
from tests.receipts.test_render_cache import RARE, variants
out = [hashlib.sha256(__import__("donate.receipts.render", fromlist=["x"])
       .render_receipt_pdf(s)).hexdigest() for s in variants()]
sys.stdout.write(",".join(out))
"""


def variants() -> list[Any]:
    return [
        single(),
        single(donor=RARE),
        company(),
        single(signatory=replace(SIGNATORY, signature_png=tiny_png(30, 8))),
    ]


def _digests() -> list[str]:
    return [hashlib.sha256(render_receipt_pdf(s)).hexdigest() for s in variants()]


def test_cold_and_warm_renders_are_the_same_bytes() -> None:
    for i in range(200):  # warm every cache with other donors, amounts and numbers
        donor = replace(INDIVIDUAL, last_name=f"Nom{i}", address=replace(INDIVIDUAL.address,
                        lines=(f"{i} rue Basse",)))  # fmt: skip
        amount = eur(1000 + 37 * i)
        render_receipt_pdf(single(number=f"2026-{i + 1:06d}", donor=donor, amount=amount,
                                  payments=(Payment(date(2026, 1, 15), amount),)))  # fmt: skip
    warm = _digests()
    cold = subprocess.run(
        [sys.executable, "-c", _COLD], capture_output=True, text=True, check=True, cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": "3"},
    )  # fmt: skip
    assert cold.stdout.split(",") == warm


def test_rare_characters_render_and_extract() -> None:
    pdf = render_receipt_pdf(single(donor=RARE))
    reader = PdfReader(BytesIO(pdf))
    text = re.sub(r"\s+", " ", reader.pages[0].extract_text())
    for mention in ("Łukasiewicz-Erdős", "Ŝofia", "7 Ulica Długa, 80-831 Gdańsk, Pologne"):
        assert mention in text, mention
    fonts: Any = reader.pages[0]["/Resources"]["/Font"]  # type: ignore[index]
    names = sorted(str(fonts[k].get_object()["/BaseFont"]) for k in fonts)
    # Past the seeded repertoire, each face's subset takes the rare characters too.
    assert {n.split("+")[-1] for n in names} == {"DejaVuSans", "DejaVuSans-Bold"}
    assert render_receipt_pdf(single(donor=RARE)) == pdf
