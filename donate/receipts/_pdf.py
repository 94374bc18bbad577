"""reportlab plumbing shared by the receipt renderers: fonts, styles, deterministic output.

Determinism (DESIGN rule 6: the PDF is a pure function of the snapshot) needs three
things reportlab does not give by default: a fixed creation date (we use the issue
date, midnight in Paris), a fixed /ID (we derive it from the content) and no clock or
random input anywhere else, which ``invariant=1`` provides.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from datetime import date, datetime, time
from io import BytesIO
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Table, TableStyle

FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"
_FONT_DIR = Path(__file__).resolve().parent.parent / "fonts"
MARGIN = 16 * mm
_FRAME_PADDING = 6  # platypus' default Frame padding, on each side
CONTENT_WIDTH = A4[0] - 2 * MARGIN - 2 * _FRAME_PADDING
LABEL_WIDTH = 52 * mm
GREY = colors.HexColor("#555555")
RULE = colors.HexColor("#999999")
SHADE = colors.HexColor("#eeeeee")

CHECKED, UNCHECKED = "☒", "☐"

_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


@functools.cache
def register_fonts() -> None:
    """Embed DejaVu (subset) so accents, Œ, € and ☒ render in every viewer."""
    pdfmetrics.registerFont(TTFont(FONT, str(_FONT_DIR / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(_FONT_DIR / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD)


def _style(name: str, **kw: Any) -> ParagraphStyle:
    base: dict[str, Any] = {"fontName": FONT, "fontSize": 9, "leading": 11.5}
    base.update(kw)
    return ParagraphStyle(name, **base)


BODY = _style("body", spaceAfter=2)
SMALL = _style("small", fontSize=7.5, leading=9.5, textColor=GREY)
LABEL = _style("label", textColor=GREY)
TITLE = _style("title", fontName=FONT_BOLD, fontSize=12.5, leading=15.5)
SUBTITLE = _style("subtitle", fontSize=9.5, leading=12)
SECTION = _style("section", fontName=FONT_BOLD, fontSize=10, leading=13, spaceBefore=7)
AMOUNT = _style("amount", fontName=FONT_BOLD, fontSize=15, leading=19, alignment=1)
RIGHT = _style("right", alignment=2)
CELL = _style("cell", fontSize=8.5, leading=10)
CELL_RIGHT = _style("cell_right", fontSize=8.5, leading=10, alignment=2)


def french_date(d: date) -> str:
    """``"1er janvier 2026"``, ``"15 mars 2026"`` (hand-made: no locale data can drift)."""
    day = "1er" if d.day == 1 else str(d.day)
    return f"{day} {_MONTHS[d.month - 1]} {d.year}"


def para(text: str, style: ParagraphStyle = BODY) -> Paragraph:
    """A paragraph of plain text: user data is escaped, never read as markup."""
    return Paragraph(escape(text), style)


def rich(markup: str, style: ParagraphStyle = BODY) -> Paragraph:
    """A paragraph of trusted markup (our own <b> tags around escaped values)."""
    return Paragraph(markup, style)


def boxes(options: Sequence[str], chosen: Sequence[str]) -> str:
    """Markup of cerfa tick boxes: ``☒ Numéraire   ☐ Titres de sociétés cotés``."""
    parts = [f"{CHECKED if o in chosen else UNCHECKED}\u00a0{escape(o)}" for o in options]
    return "&nbsp;&nbsp;&nbsp; ".join(parts)


def table_style(*commands: tuple[Any, ...]) -> TableStyle:
    """A TableStyle on DejaVu: reportlab sets each cell's font, even around flowables,
    and its default (Helvetica) would be referenced unembedded."""
    return TableStyle([("FONTNAME", (0, 0), (-1, -1), FONT), *commands])


def field_table(rows: Sequence[tuple[str, Flowable | str]]) -> Table:
    """Two columns, label | value, like the cerfa's boxes."""
    data = [[para(label, LABEL), para(v) if isinstance(v, str) else v] for label, v in rows]
    table = Table(data, colWidths=[LABEL_WIDTH, CONTENT_WIDTH - LABEL_WIDTH])
    table.setStyle(
        table_style(
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (0, -1), 0),
            ("TOPPADDING", (0, 0), (-1, -1), 1.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
            ("LINEBELOW", (0, 0), (-1, -2), 0.25, colors.HexColor("#dddddd")),
        )
    )
    return table


def section(title: str) -> Table:
    """A section heading with a rule under it."""
    table = Table([[para(title, SECTION)]], colWidths=[CONTENT_WIDTH])
    table.setStyle(
        table_style(
            ("LINEBELOW", (0, 0), (-1, -1), 0.8, RULE),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        )
    )
    return table


def _pdf_date(d: date) -> str:
    # Midnight in Paris on that day, with its real offset (CET or CEST).
    offset = datetime.combine(d, time(0), ZoneInfo("Europe/Paris")).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    hh, mm_ = divmod(abs(minutes), 60)
    return f"D:{d:%Y%m%d}000000{sign}{hh:02d}'{mm_:02d}'"


def build_pdf(
    story: list[Flowable],
    *,
    title: str,
    author: str,
    subject: str,
    created: date,
    fingerprint: bytes,
    footer: str,
) -> bytes:
    """Lay out ``story`` on A4 portrait and return the bytes; same input, same bytes.

    ``fingerprint`` (any bytes describing the content) seeds the PDF /ID, which
    reportlab would otherwise derive from its own timestamp (SOURCE_DATE_EPOCH…).
    """
    register_fonts()
    digest = hashlib.sha256(fingerprint).hexdigest()[:32].upper().encode("ascii")
    stamp = _pdf_date(created)

    def on_page(canv: Any, doc: Any) -> None:
        # Private reportlab attributes, set before save(): reportlab >= 4 reads _ID
        # lazily and uses the date formatter for /CreationDate and /ModDate.
        canv.setDateFormatter(lambda *_: stamp)
        canv._doc._ID = b"\n[<" + digest + b"><" + digest + b">]\n"
        canv.saveState()
        canv.setFont(FONT, 7.5)
        canv.setFillColor(GREY)
        left, right = MARGIN + _FRAME_PADDING, A4[0] - MARGIN - _FRAME_PADDING
        canv.drawString(left, 9 * mm, footer)
        canv.drawRightString(right, 9 * mm, f"page {doc.page}")
        canv.restoreState()

    buf = BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 4 * mm,
        title=title,
        author=author,
        subject=subject,
        creator="donate",
        producer="donate (ReportLab)",
        invariant=1,
        lang="fr-FR",
        initialFontName=FONT,  # else reportlab references an unembedded Helvetica
    )
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buf.getvalue()
