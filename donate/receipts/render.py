"""Pure renderers: ReceiptSnapshot → PDF bytes (cerfa 11580*05 / 16216*02 layout).

A custom layout is lawful if it reproduces every mention of the model (BOI-IR-RICI-250-40);
the sections below follow the cerfa's order. Same snapshot, same bytes: callers store
the SHA-256 of the result and may re-render to check it.
"""

from __future__ import annotations

import json
from datetime import datetime
from io import BytesIO

from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader

from . import _pdf
from ._pdf import AMOUNT, BODY, CHECKED, SMALL, SUBTITLE, TITLE, Page, Run, boxes, french_date
from .amount_words import amount_in_french_words, format_euros, framed_figures
from .numbering import local_date_of
from .snapshot import (
    ARTICLES,
    Address,
    CompanyDonor,
    IndividualDonor,
    Payment,
    ReceiptSnapshot,
)
from .vocabulary import GIFT_FORMS, MODE_BOXES, NATURES, mode_box

__all__ = ["render_cancellation_pdf", "render_receipt_pdf"]

_CERFA = {
    "11580": (
        "11580*05",
        "2041-RD",
        "Reçu des dons et versements effectués par les particuliers",
        "au titre des articles 200 et 978 du code général des impôts",
    ),
    "16216": (
        "16216*02",
        "2041-MEC-SD",
        "Reçu des dons et versements effectués par les entreprises",
        "au titre de l'article 238 bis du code général des impôts",
    ),
}
_PAIRS_PER_ROW = 4  # payment table: 4 × (date, amount) keeps 52 weekly gifts on one page


def _fingerprint(snapshot: ReceiptSnapshot, *extra: str) -> bytes:
    canonical = json.dumps(snapshot.to_json(), sort_keys=True, ensure_ascii=False)
    return "\n".join((canonical, *extra)).encode("utf-8")


def _address(a: Address, sep: str = ", ") -> str:
    lines = [*(x for x in a.lines if x.strip()), f"{a.postal_code} {a.city}".strip(), a.country]
    return sep.join(lines)


def _header(p: Page, s: ReceiptSnapshot) -> None:
    cerfa, form_no, title, subtitle = _CERFA[s.form]
    right_w = 58 * mm
    left_w = _pdf.CONTENT_WIDTH - right_w - 6
    left = _pdf.wrap([("Reçu au titre des dons à certains organismes d'intérêt général", True)],
                     left_w, TITLE.size)  # fmt: skip
    sub = _pdf.wrap([(f"{title} {subtitle}", False)], left_w, SUBTITLE.size)
    right = [
        [(f"cerfa n° {cerfa}", False)],
        [(f"Formulaire n° {form_no}", False)],
        *_pdf.wrap([(f"Numéro d'ordre du reçu : {s.number}", True)], right_w, BODY.size),
    ]
    x_right = _pdf.LEFT + _pdf.CONTENT_WIDTH - right_w
    p.lines_at(left, _pdf.LEFT, p.y, left_w, TITLE)
    p.lines_at(sub, _pdf.LEFT, p.y - len(left) * TITLE.leading, left_w, SUBTITLE)
    p.lines_at(right, x_right, p.y, right_w, _pdf.RIGHT)
    p.y -= max(len(left) * TITLE.leading + len(sub) * SUBTITLE.leading,
               len(right) * BODY.leading) + 4  # fmt: skip
    if s.kind == "annual" and s.period is not None:
        p.block(
            "Reçu récapitulatif des dons et versements effectués du "
            f"{french_date(s.period.start)} au {french_date(s.period.end)}."
        )
    if s.replaces:
        p.block(f"Ce reçu annule et remplace le reçu n° {s.replaces}.")


def _beneficiary(p: Page, s: ReceiptSnapshot) -> None:
    b = s.beneficiary
    rows: list[tuple[str, str]] = [("Nom ou dénomination", b.legal_name)]
    if b.siren:
        rows.append(("N° SIREN", b.siren))
    if b.rna:
        rows.append(("N° RNA", b.rna))
    rows += [
        ("Adresse", _address(b.address)),
        ("Objet", b.object),
        ("Qualité de l'organisme", f"{CHECKED} {b.qualification}"),
    ]
    p.section("Bénéficiaire des versements", 15 * len(rows))
    p.fields(rows)


def _donor(p: Page, s: ReceiptSnapshot) -> None:
    d = s.donor
    if isinstance(d, CompanyDonor):
        p.section("Entreprise donatrice", 60)
        p.fields([
            ("Dénomination ou raison sociale", d.company_name),
            ("Forme juridique", d.legal_form),
            ("N° SIREN", d.siren),
            ("Adresse", _address(d.address)),
        ])  # fmt: skip
        return
    assert isinstance(d, IndividualDonor)
    p.section("Donateur", 45)
    p.fields([("Nom", d.last_name), ("Prénoms", d.first_name), ("Adresse", _address(d.address))])


def _payments_table(p: Page, payments: tuple[Payment, ...]) -> None:
    """Date | amount pairs, _PAIRS_PER_ROW to a row; the header repeats on a new page."""
    cells = [(f"{x.date:%d/%m/%Y}", format_euros(x.amount))
             for x in sorted(payments, key=lambda x: x.date)]  # fmt: skip
    col = _pdf.CONTENT_WIDTH / _PAIRS_PER_ROW
    row_h = 12.0
    c = p.canvas

    def row(pairs: list[tuple[str, str]], shade: bool) -> None:
        p.ensure(row_h + (0 if shade else row_h))
        if not shade and p.y == _pdf.TOP:
            row([("Date", "Montant")] * _PAIRS_PER_ROW, True)
        top = p.y
        if shade:
            p.fill(_pdf.SHADE)
            c.rect(_pdf.LEFT, top - row_h, _pdf.CONTENT_WIDTH, row_h, stroke=0, fill=1)
        c.setStrokeColor(_pdf.RULE)
        c.setLineWidth(0.25)
        c.grid([_pdf.LEFT + i * col / 2 for i in range(2 * _PAIRS_PER_ROW + 1)],
               [top, top - row_h])  # fmt: skip
        for i, (when, amount) in enumerate(pairs):
            x = _pdf.LEFT + i * col
            p.lines_at([[(when, False)]], x + 3, top - 1, col / 2 - 6, _pdf.CELL)
            p.lines_at([[(amount, False)]], x + col / 2 + 3, top - 1, col / 2 - 6,
                       _pdf.CELL_RIGHT)  # fmt: skip
        p.y -= row_h

    row([("Date", "Montant")] * _PAIRS_PER_ROW, True)
    for i in range(0, len(cells), _PAIRS_PER_ROW):
        row(cells[i : i + _PAIRS_PER_ROW], False)
    p.y -= 4


def _amount(p: Page, s: ReceiptSnapshot) -> None:
    p.section("Dons et versements", 80)
    p.block(
        "Le bénéficiaire reconnaît avoir reçu au titre des dons et versements ouvrant "
        "droit à réduction d'impôt la somme de :"
    )
    p.block(framed_figures(s.amount), AMOUNT)
    p.block([("Somme en toutes lettres :", True), (" " + amount_in_french_words(s.amount), False)])
    if s.kind == "single":
        when = french_date(s.payments[0].date)
        p.block([("Date du versement ou du don :", True), (f" {when}", False)])
    else:
        assert s.period is not None
        p.block([
            ("Période des versements :", True),
            (f" du {french_date(s.period.start)} au {french_date(s.period.end)} — "
             f"{len(s.payments)} versement(s) aux dates suivantes :", False),
        ])  # fmt: skip


def _certification(p: Page, s: ReceiptSnapshot) -> None:
    arts = sorted(s.articles, key=ARTICLES.index)
    which = (
        f"à l'article {arts[0]}"
        if len(arts) == 1
        else "aux articles " + ", ".join(arts[:-1]) + f" et {arts[-1]}"
    )
    options = ["238 bis du CGI"] if s.form == "16216" else ["200 du CGI", "978 du CGI"]
    p.section("Certification", 40)
    p.block(
        "Le bénéficiaire certifie sur l'honneur que les dons et versements qu'il reçoit "
        f"ouvrent droit à la réduction d'impôt prévue {which} du code général des impôts."
    )
    p.block(boxes(options, [f"{a} du CGI" for a in arts]))


def _gift(p: Page, s: ReceiptSnapshot) -> None:
    def chosen(value: str, options: tuple[str, ...]) -> tuple[str, str]:
        # A value outside the cerfa's boxes ticks "Autres" and is spelled out.
        if value in options:
            return value, ""
        return "Autres", f" ({value})"

    form, form_extra = chosen(s.gift_form, GIFT_FORMS)
    nature, nature_extra = chosen(s.nature, NATURES)
    mode_text = boxes(MODE_BOXES, [mode_box(m) for m in s.payment_modes])
    if s.payment_modes:
        mode_text += "\nMoyen(s) utilisé(s) : " + ", ".join(s.payment_modes)
    p.section("Forme, nature et mode de versement du don", 60)
    p.fields([
        ("Forme du don", boxes(GIFT_FORMS, [form]) + form_extra),
        ("Nature du don", boxes(NATURES, [nature]) + nature_extra),
        ("En cas de don en numéraire, mode de versement", mode_text),
    ])  # fmt: skip


def _signature_block(p: Page, s: ReceiptSnapshot, on: str) -> None:
    sig = s.signatory
    image: tuple[float, float] | None = None
    if sig.signature_png:
        w, h = ImageReader(BytesIO(sig.signature_png)).getSize()
        scale = min(60 * mm / w, 22 * mm / h)
        image = (w * scale, h * scale)
    x, w = _pdf.LEFT + _pdf.CONTENT_WIDTH - 80 * mm + 6, 80 * mm - 12
    lines: list[tuple[Run, ...]] = [
        *_pdf.wrap([(f"Fait à {s.place_of_issue}, le {on}", False)], w, BODY.size),
        *_pdf.wrap([(sig.name, True), (f", {sig.role}", False)], w, BODY.size),
    ]
    height = len(lines) * BODY.leading + (image[1] + 4 if image else 0)
    p.section("Date et signature", height + 8)
    p.y -= 2 * mm
    p.lines_at(lines, x, p.y - 3, w, BODY)
    p.y -= len(lines) * BODY.leading + 3
    if image and sig.signature_png:
        p.canvas.drawImage(ImageReader(BytesIO(sig.signature_png)), x, p.y - image[1] - 2,
                           width=image[0], height=image[1])  # fmt: skip
        p.y -= image[1] + 4


def render_receipt_pdf(snapshot: ReceiptSnapshot) -> bytes:
    """The fiscal receipt as PDF bytes; byte-identical for an equal snapshot."""
    s = snapshot
    cerfa = _CERFA[s.form][0]
    p = Page(
        title=f"Reçu fiscal n° {s.number}",
        author=s.beneficiary.legal_name,
        subject=f"Reçu au titre des dons — cerfa n° {cerfa} — {format_euros(s.amount)}",
        created=s.issued_on,
        fingerprint=_fingerprint(s),
        footer=f"Reçu fiscal n° {s.number} — cerfa n° {cerfa} — {s.beneficiary.legal_name}",
    )
    # Sections keep their heading with their first lines; a long annual list of payments
    # may break across pages (its header row repeated).
    _header(p, s)
    _beneficiary(p, s)
    _donor(p, s)
    _amount(p, s)
    if s.kind == "annual":
        _payments_table(p, s.payments)
    _certification(p, s)
    _gift(p, s)
    _signature_block(p, s, french_date(s.issued_on))
    return p.finish()


def render_cancellation_pdf(snapshot: ReceiptSnapshot, canceled_at: datetime, reason: str) -> bytes:
    """Written notice that receipt ``snapshot.number`` is cancelled (refund, chargeback…).

    ``canceled_at`` must be timezone-aware (printed as its Paris date) and not before
    the issue date; ``reason`` must not be blank. Raises ValueError otherwise.
    """
    s = snapshot
    on = local_date_of(canceled_at)
    if on < s.issued_on:
        raise ValueError("a receipt cannot be cancelled before it was issued")
    if not reason.strip():
        raise ValueError("a cancellation needs a reason")
    b = s.beneficiary
    ids = " — ".join(x for x in (b.siren and f"SIREN {b.siren}", b.rna and f"RNA {b.rna}") if x)
    donor = (
        s.donor.company_name
        if isinstance(s.donor, CompanyDonor)
        else f"{s.donor.first_name} {s.donor.last_name}"
    )
    p = Page(
        title=f"Annulation du reçu fiscal n° {s.number}",
        author=b.legal_name,
        subject=f"Annulation du reçu n° {s.number}",
        created=on,
        fingerprint=_fingerprint(s, "cancellation", canceled_at.isoformat(), reason),
        footer=f"Annulation du reçu fiscal n° {s.number} — {b.legal_name}",
    )
    p.block([(b.legal_name, True)], SUBTITLE)
    p.block(_address(b.address, "\n"), SMALL)
    p.block(ids, SMALL)
    p.y -= 8 * mm
    p.block(f"Annulation du reçu n° {s.number}", TITLE)
    p.y -= 4 * mm
    p.block(
        f"Le reçu fiscal n° {s.number} (cerfa n° {_CERFA[s.form][0]}) délivré le "
        f"{french_date(s.issued_on)} à {donor} pour la somme de "
        f"{framed_figures(s.amount)} ({amount_in_french_words(s.amount)}) est annulé "
        f"à compter du {french_date(on)}."
    )
    p.y -= 2 * mm
    p.block([("Motif :", True), (" " + reason.strip(), False)])
    p.y -= 2 * mm
    p.block(
        "Ce reçu ne peut plus être utilisé pour obtenir une réduction d'impôt. Son numéro "
        "ne sera jamais réattribué ; si une partie du don reste acquise, un nouveau reçu "
        "portant un nouveau numéro est établi pour ce montant."
    )
    _signature_block(p, s, french_date(on))
    return p.finish()
