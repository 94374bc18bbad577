"""Pure renderers: ReceiptSnapshot → PDF bytes (cerfa 11580*05 / 16216*02 layout).

A custom layout is lawful if it reproduces every mention of the model (BOI-IR-RICI-250-40);
the sections below follow the cerfa's order. Same snapshot, same bytes: callers store
the SHA-256 of the result and may re-render to check it.
"""

from __future__ import annotations

import json
from datetime import datetime
from io import BytesIO
from xml.sax.saxutils import escape

from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.platypus import Flowable, Image, KeepTogether, Spacer, Table

from . import _pdf
from ._pdf import AMOUNT, BODY, SMALL, SUBTITLE, TITLE, boxes, french_date, para, rich, section
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
    return sep.join(escape(x) for x in lines)


def _header(s: ReceiptSnapshot) -> list[Flowable]:
    cerfa, form_no, title, subtitle = _CERFA[s.form]
    left = [
        rich("<b>Reçu au titre des dons à certains organismes d'intérêt général</b>", TITLE),
        para(f"{title} {subtitle}", SUBTITLE),
    ]
    right = [
        para(f"cerfa n° {cerfa}", _pdf.RIGHT),
        para(f"Formulaire n° {form_no}", _pdf.RIGHT),
        rich(f"<b>Numéro d'ordre du reçu : {escape(s.number)}</b>", _pdf.RIGHT),
    ]
    table = Table([[left, right]], colWidths=[_pdf.CONTENT_WIDTH - 58 * mm, 58 * mm])
    table.setStyle(
        _pdf.table_style(
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (0, 0), 0),
            ("RIGHTPADDING", (-1, 0), (-1, 0), 0),
        )
    )
    story: list[Flowable] = [table]
    if s.kind == "annual" and s.period is not None:
        story.append(
            para(
                "Reçu récapitulatif des dons et versements effectués du "
                f"{french_date(s.period.start)} au {french_date(s.period.end)}."
            )
        )
    if s.replaces:
        story.append(para(f"Ce reçu annule et remplace le reçu n° {s.replaces}."))
    return story


def _beneficiary(s: ReceiptSnapshot) -> list[Flowable]:
    b = s.beneficiary
    rows: list[tuple[str, Flowable | str]] = [("Nom ou dénomination", b.legal_name)]
    if b.siren:
        rows.append(("N° SIREN", b.siren))
    if b.rna:
        rows.append(("N° RNA", b.rna))
    rows += [
        ("Adresse", rich(_address(b.address))),
        ("Objet", b.object),
        ("Qualité de l'organisme", f"{_pdf.CHECKED} {b.qualification}"),
    ]
    return [section("Bénéficiaire des versements"), _pdf.field_table(rows)]


def _donor(s: ReceiptSnapshot) -> list[Flowable]:
    d = s.donor
    if isinstance(d, CompanyDonor):
        rows: list[tuple[str, Flowable | str]] = [
            ("Dénomination ou raison sociale", d.company_name),
            ("Forme juridique", d.legal_form),
            ("N° SIREN", d.siren),
            ("Adresse", rich(_address(d.address))),
        ]
        return [section("Entreprise donatrice"), _pdf.field_table(rows)]
    assert isinstance(d, IndividualDonor)
    rows = [
        ("Nom", d.last_name),
        ("Prénoms", d.first_name),
        ("Adresse", rich(_address(d.address))),
    ]
    return [section("Donateur"), _pdf.field_table(rows)]


def _payments_table(payments: tuple[Payment, ...]) -> Table:
    cells = [
        [para(f"{p.date:%d/%m/%Y}", _pdf.CELL), para(format_euros(p.amount), _pdf.CELL_RIGHT)]
        for p in sorted(payments, key=lambda p: p.date)
    ]
    rows: list[list[Flowable | str]] = []
    for i in range(0, len(cells), _PAIRS_PER_ROW):
        chunk = [c for pair in cells[i : i + _PAIRS_PER_ROW] for c in pair]
        rows.append(chunk + [""] * (2 * _PAIRS_PER_ROW - len(chunk)))
    header: list[Flowable | str] = [para("Date", _pdf.CELL), para("Montant", _pdf.CELL_RIGHT)]
    width = _pdf.CONTENT_WIDTH / _PAIRS_PER_ROW
    table = Table(
        [header * _PAIRS_PER_ROW, *rows],
        colWidths=[width * 0.5, width * 0.5] * _PAIRS_PER_ROW,
        repeatRows=1,
    )
    table.setStyle(
        _pdf.table_style(
            ("GRID", (0, 0), (-1, -1), 0.25, _pdf.RULE),
            ("BACKGROUND", (0, 0), (-1, 0), _pdf.SHADE),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ("TOPPADDING", (0, 0), (-1, -1), 1),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
        )
    )
    return table


def _amount(s: ReceiptSnapshot) -> list[Flowable]:
    story: list[Flowable] = [
        section("Dons et versements"),
        para(
            "Le bénéficiaire reconnaît avoir reçu au titre des dons et versements ouvrant "
            "droit à réduction d'impôt la somme de :"
        ),
        para(framed_figures(s.amount), AMOUNT),
        rich(f"<b>Somme en toutes lettres :</b> {escape(amount_in_french_words(s.amount))}"),
    ]
    if s.kind == "single":
        when = french_date(s.payments[0].date)
        story.append(rich(f"<b>Date du versement ou du don :</b> {when}"))
    else:
        assert s.period is not None
        story.append(
            rich(
                f"<b>Période des versements :</b> du {french_date(s.period.start)} au "
                f"{french_date(s.period.end)} — {len(s.payments)} versement(s) aux dates "
                "suivantes :"
            )
        )
    return story


def _certification(s: ReceiptSnapshot) -> list[Flowable]:
    arts = sorted(s.articles, key=ARTICLES.index)
    which = (
        f"à l'article {arts[0]}"
        if len(arts) == 1
        else "aux articles " + ", ".join(arts[:-1]) + f" et {arts[-1]}"
    )
    options = ["238 bis du CGI"] if s.form == "16216" else ["200 du CGI", "978 du CGI"]
    return [
        section("Certification"),
        para(
            "Le bénéficiaire certifie sur l'honneur que les dons et versements qu'il reçoit "
            f"ouvrent droit à la réduction d'impôt prévue {which} du code général des impôts."
        ),
        rich(boxes(options, [f"{a} du CGI" for a in arts])),
    ]


def _gift(s: ReceiptSnapshot) -> list[Flowable]:
    def chosen(value: str, options: tuple[str, ...]) -> tuple[str, str]:
        # A value outside the cerfa's boxes ticks "Autres" and is spelled out.
        if value in options:
            return value, ""
        return "Autres", f" ({value})"

    form, form_extra = chosen(s.gift_form, GIFT_FORMS)
    nature, nature_extra = chosen(s.nature, NATURES)
    mode_text = boxes(MODE_BOXES, [mode_box(m) for m in s.payment_modes])
    if s.payment_modes:
        mode_text += "<br/>Moyen(s) utilisé(s) : " + escape(", ".join(s.payment_modes))
    rows: list[tuple[str, Flowable | str]] = [
        ("Forme du don", rich(boxes(GIFT_FORMS, [form]) + escape(form_extra))),
        ("Nature du don", rich(boxes(NATURES, [nature]) + escape(nature_extra))),
        ("En cas de don en numéraire, mode de versement", rich(mode_text)),
    ]
    return [section("Forme, nature et mode de versement du don"), _pdf.field_table(rows)]


def _signature_block(s: ReceiptSnapshot, on: str) -> list[Flowable]:
    sig = s.signatory
    cell: list[Flowable] = [
        para(f"Fait à {s.place_of_issue}, le {on}"),
        rich(f"<b>{escape(sig.name)}</b>, {escape(sig.role)}"),
    ]
    if sig.signature_png:
        w, h = ImageReader(BytesIO(sig.signature_png)).getSize()
        scale = min(60 * mm / w, 22 * mm / h)
        cell.append(Image(BytesIO(sig.signature_png), width=w * scale, height=h * scale))
    table = Table([["", cell]], colWidths=[_pdf.CONTENT_WIDTH - 80 * mm, 80 * mm])
    table.setStyle(_pdf.table_style(("VALIGN", (0, 0), (-1, -1), "TOP")))
    return [section("Date et signature"), Spacer(1, 2 * mm), table]


def render_receipt_pdf(snapshot: ReceiptSnapshot) -> bytes:
    """The fiscal receipt as PDF bytes; byte-identical for an equal snapshot."""
    _pdf.register_fonts()  # before any Paragraph: styles name the DejaVu fonts
    s = snapshot
    cerfa = _CERFA[s.form][0]
    # KeepTogether: no section heading stranded at the foot of a page. The payment table
    # stays outside so a long annual list may break across pages (header row repeated).
    story: list[Flowable] = [
        *_header(s),
        KeepTogether(_beneficiary(s)),
        KeepTogether(_donor(s)),
        KeepTogether(_amount(s)),
        *([_payments_table(s.payments)] if s.kind == "annual" else []),
        KeepTogether(_certification(s)),
        KeepTogether(_gift(s)),
        KeepTogether(_signature_block(s, french_date(s.issued_on))),
    ]
    return _pdf.build_pdf(
        story,
        title=f"Reçu fiscal n° {s.number}",
        author=s.beneficiary.legal_name,
        subject=f"Reçu au titre des dons — cerfa n° {cerfa} — {format_euros(s.amount)}",
        created=s.issued_on,
        fingerprint=_fingerprint(s),
        footer=f"Reçu fiscal n° {s.number} — cerfa n° {cerfa} — {s.beneficiary.legal_name}",
    )


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
    _pdf.register_fonts()
    b = s.beneficiary
    ids = " — ".join(x for x in (b.siren and f"SIREN {b.siren}", b.rna and f"RNA {b.rna}") if x)
    donor = (
        s.donor.company_name
        if isinstance(s.donor, CompanyDonor)
        else f"{s.donor.first_name} {s.donor.last_name}"
    )
    story: list[Flowable] = [
        rich(f"<b>{escape(b.legal_name)}</b>", SUBTITLE),
        rich(_address(b.address, "<br/>"), SMALL),
        para(ids, SMALL),
        Spacer(1, 8 * mm),
        para(f"Annulation du reçu n° {s.number}", TITLE),
        Spacer(1, 4 * mm),
        para(
            f"Le reçu fiscal n° {s.number} (cerfa n° {_CERFA[s.form][0]}) délivré le "
            f"{french_date(s.issued_on)} à {donor} pour la somme de "
            f"{framed_figures(s.amount)} ({amount_in_french_words(s.amount)}) est annulé "
            f"à compter du {french_date(on)}.",
            BODY,
        ),
        Spacer(1, 2 * mm),
        rich(f"<b>Motif :</b> {escape(reason.strip())}"),
        Spacer(1, 2 * mm),
        para(
            "Ce reçu ne peut plus être utilisé pour obtenir une réduction d'impôt. Son numéro "
            "ne sera jamais réattribué ; si une partie du don reste acquise, un nouveau reçu "
            "portant un nouveau numéro est établi pour ce montant."
        ),
        *_signature_block(s, french_date(on)),
    ]
    return _pdf.build_pdf(
        story,
        title=f"Annulation du reçu fiscal n° {s.number}",
        author=b.legal_name,
        subject=f"Annulation du reçu n° {s.number}",
        created=on,
        fingerprint=_fingerprint(s, "cancellation", canceled_at.isoformat(), reason),
        footer=f"Annulation du reçu fiscal n° {s.number} — {b.legal_name}",
    )
