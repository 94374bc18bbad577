"""Render the README's pictures of the two fiscal receipt forms (docs/receipt-*.png).

    .venv/bin/python docs/make_receipt_images.py

Builds realistic snapshots for the demo association (``donate demo``'s seed), renders them
with the real renderer, and rasterises page 1 with poppler's ``pdftoppm`` (Debian package
``poppler-utils``), then reduces the palette so each PNG stays small.
"""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from donate.domain.money import Money  # noqa: E402
from donate.receipts.render import render_receipt_pdf  # noqa: E402
from donate.receipts.snapshot import (  # noqa: E402
    Address,
    CompanyDonor,
    IndividualDonor,
    Payment,
    ReceiptSnapshot,
    Signatory,
)
from donate.services import receipt_snapshot  # noqa: E402
from donate.services.seed import _MAIN_ORG  # noqa: E402

DPI = 100


def signature_png() -> bytes:
    """A hand-drawn-looking signature, as an association would upload one."""
    img = Image.new("L", (360, 110), 255)
    pen = ImageDraw.Draw(img)
    points = [
        (20 + t * 3.2, 60 - 28 * math.sin(t / 6.0) * math.exp(-t / 120) + 10 * math.sin(t / 2.3))
        for t in range(100)
    ]
    pen.line(points, fill=30, width=4, joint="curve")
    pen.line([(40, 85), (300, 78)], fill=60, width=3)
    out = io.BytesIO()
    img.save(out, "PNG", optimize=True)
    return out.getvalue()


def snapshots() -> dict[str, ReceiptSnapshot]:
    org = {"address_line2": None, "utilite_publique_decree": None, **_MAIN_ORG}
    beneficiary = receipt_snapshot.beneficiary(org)
    signatory = Signatory(
        _MAIN_ORG["receipt_signatory_name"], _MAIN_ORG["receipt_signatory_role"], signature_png()
    )
    paid = date(2026, 11, 24)
    common = {
        "kind": "single", "beneficiary": beneficiary, "issued_on": date(2026, 11, 25),
        "place_of_issue": _MAIN_ORG["city"], "signatory": signatory,
    }  # fmt: skip
    individual = ReceiptSnapshot(
        number="2026-000042", form="11580", articles=("200",),
        donor=IndividualDonor(
            "Lovelace", "Ada", Address(("1 rue de la Paix",), "75002", "Paris", "France")
        ),
        amount=Money(12_000, "EUR"), payments=(Payment(paid, Money(12_000, "EUR")),),
        payment_modes=("Carte bancaire",), **common,  # type: ignore[arg-type]
    )  # fmt: skip
    company = ReceiptSnapshot(
        number="2026-000043", form="16216", articles=("238 bis",),
        donor=CompanyDonor(
            "Boulangerie Fénelon", "SARL", "552100554",
            Address(("8 place du Marché",), "33000", "Bordeaux", "France"),
        ),
        amount=Money(250_000, "EUR"), payments=(Payment(paid, Money(250_000, "EUR")),),
        payment_modes=("Virement",), **common,  # type: ignore[arg-type]
    )  # fmt: skip
    return {"11580": individual, "16216": company}


def main() -> int:
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        print("pdftoppm not found: apt-get install -y poppler-utils", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        for form, snapshot in snapshots().items():
            pdf = Path(tmp) / f"receipt-{form}.pdf"
            pdf.write_bytes(render_receipt_pdf(snapshot))
            base = Path(tmp) / f"receipt-{form}"
            subprocess.run(  # noqa: S603 - our own arguments, pdftoppm found on PATH
                [pdftoppm, "-png", "-r", str(DPI), "-f", "1", "-l", "1", "-singlefile",
                 str(pdf), str(base)],
                check=True,
            )  # fmt: skip
            out = ROOT / "docs" / f"receipt-{form}.png"
            with Image.open(f"{base}.png") as page:
                page.convert("RGB").quantize(colors=32).save(out, "PNG", optimize=True)
            print(f"{out.relative_to(ROOT)}: {out.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
