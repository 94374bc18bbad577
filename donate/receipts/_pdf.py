"""reportlab plumbing of the receipt renderers: text layout, deterministic output.

Speed (load_tests/bench_receipts.py): receipts are drawn on the canvas directly, with a
little line-breaking of our own, not laid out by platypus (~15× slower for this page); the
embedded fonts are built once per process (``_fonts``), and so are the text operators of
everything that reads the same on every receipt (``_TEXT_OPS``).

Determinism (DESIGN rule 6: the PDF is a pure function of the snapshot) needs a fixed
creation date (the issue date, midnight in Paris), a fixed /ID (derived from the content)
and no clock or random input anywhere else, which ``invariant=1`` provides.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from ._fonts import FONT, FONT_BOLD, SEEDED_CHARS, register_fonts, seed_document

PAGE_W, PAGE_H = A4
LEFT = 16 * mm + 6  # the margin and padding of the former platypus frame: same page look
CONTENT_WIDTH = PAGE_W - 2 * LEFT
TOP = PAGE_H - LEFT
BOTTOM = 20 * mm + 6
LABEL_WIDTH = 52 * mm
GREY = colors.HexColor("#555555")
RULE = colors.HexColor("#999999")
LIGHT_RULE = colors.HexColor("#dddddd")
SHADE = colors.HexColor("#eeeeee")
BLACK = colors.black

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


@dataclass(frozen=True, slots=True)
class Style:
    size: float = 9
    leading: float = 11.5
    bold: bool = False
    color: colors.Color = BLACK
    align: str = "left"  # "left" | "right" | "center"


BODY = Style()
SMALL = Style(7.5, 9.5, color=GREY)
LABEL = Style(color=GREY)
TITLE = Style(12.5, 15.5, bold=True)
SUBTITLE = Style(9.5, 12)
SECTION = Style(10, 13, bold=True)
AMOUNT = Style(15, 19, bold=True, align="center")
RIGHT = Style(align="right")
CELL = Style(8.5, 10)
CELL_RIGHT = Style(8.5, 10, align="right")

Run = tuple[str, bool]  # (text, bold)


def french_date(d: date) -> str:
    """``"1er janvier 2026"``, ``"15 mars 2026"`` (hand-made: no locale data can drift)."""
    day = "1er" if d.day == 1 else str(d.day)
    return f"{day} {_MONTHS[d.month - 1]} {d.year}"


def boxes(options: Sequence[str], chosen: Sequence[str]) -> str:
    """Cerfa tick boxes: ``☒ Numéraire   ☐ Titres de sociétés cotés``."""
    parts = [f"{CHECKED if o in chosen else UNCHECKED}\u00a0{o}" for o in options]
    return "\u00a0\u00a0\u00a0 ".join(parts)


@functools.lru_cache(maxsize=2048)
def width(text: str, bold: bool, size: float) -> float:
    return float(pdfmetrics.stringWidth(text, FONT_BOLD if bold else FONT, size))


# --------------------------------------------------------------------------- layout


Lines = tuple[tuple[Run, ...], ...]


def wrap(runs: Sequence[Run], max_width: float, size: float) -> Lines:
    """Break runs of text into lines no wider than ``max_width`` (at spaces; a word
    longer than a line is cut where it must be)."""
    return _wrap(tuple(runs), max_width, size)


@functools.lru_cache(maxsize=2048)  # most paragraphs are the same on every receipt
def _wrap(runs: tuple[Run, ...], max_width: float, size: float) -> Lines:
    lines: list[list[Run]] = [[]]
    x = 0.0
    for text, bold in runs:
        for i, part in enumerate(text.split("\n")):
            if i:
                lines.append([])
                x = 0.0
            for j, word in enumerate(part.split(" ")):
                # A run carries its own leading space; words inside it get one each.
                piece = word if j == 0 or (x == 0 and not lines[-1]) else " " + word
                if not piece:
                    continue
                w = width(piece, bold, size)
                if x + w > max_width and lines[-1]:
                    lines.append([])
                    piece, x = word, 0.0
                    w = width(piece, bold, size)
                while w > max_width and len(piece) > 1:  # an unbreakable long word
                    cut = len(piece) - 1
                    while cut > 1 and width(piece[:cut], bold, size) > max_width:
                        cut -= 1
                    lines[-1].append((piece[:cut], bold))
                    lines.append([])
                    piece = piece[cut:]
                    w = width(piece, bold, size)
                line = lines[-1]
                if line and line[-1][1] == bold:  # one text operator per run of a font
                    line[-1] = (line[-1][0] + piece, bold)
                else:
                    line.append((piece, bold))
                x += w
    return tuple(tuple(line) for line in lines)


def _pdf_date(d: date) -> str:
    # Midnight in Paris on that day, with its real offset (CET or CEST).
    offset = datetime.combine(d, time(0), ZoneInfo("Europe/Paris")).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    hh, mm_ = divmod(abs(minutes), 60)
    return f"D:{d:%Y%m%d}000000{sign}{hh:02d}'{mm_:02d}'"


# Text operators by what they draw and where. Text of seeded characters only: the seeded
# subsets and font names are the same in every document, so are the operators (a rarer
# character is assigned a code by the document, and its text is drawn afresh each time).
_TEXT_OPS: dict[tuple[Any, ...], str] = {}
_TEXT_OPS_MAX = 2_000  # the fixed texts stay hot; donors' names and addresses churn


class Page:
    """A top-down cursor over A4 pages; ``finish()`` returns the PDF bytes."""

    def __init__(
        self, *, title: str, author: str, subject: str, created: date, fingerprint: bytes,
        footer: str,
    ) -> None:  # fmt: skip
        register_fonts()
        self._buf = BytesIO()
        c = self.canvas = Canvas(
            self._buf, pagesize=A4, invariant=1, pageCompression=1, initialFontName=FONT,
            lang="fr-FR",
        )  # fmt: skip
        c.setTitle(title)
        c.setAuthor(author)
        c.setSubject(subject)
        c.setCreator("donate")
        c.setProducer("donate (ReportLab)")
        stamp = _pdf_date(created)
        c.setDateFormatter(lambda *_: stamp)
        # reportlab would derive /ID from its own timestamp (SOURCE_DATE_EPOCH…).
        digest = hashlib.sha256(fingerprint).hexdigest()[:32].upper().encode("ascii")
        c._doc._ID = b"\n[<" + digest + b"><" + digest + b">]\n"
        seed_document(c._doc)
        self._footer = footer
        self._color: colors.Color | None = None
        self.number = 1
        self.y = TOP

    def ensure(self, height: float) -> None:
        """Start a new page unless ``height`` points still fit on this one."""
        if self.y - height < BOTTOM and self.y < TOP:
            self._end_page()
            self.canvas.showPage()
            self.number += 1
            self.y = TOP

    def _end_page(self) -> None:
        c = self.canvas
        c.setFont(FONT, 7.5)
        self.fill(GREY)
        c.drawString(LEFT, 9 * mm, self._footer)
        c.drawRightString(PAGE_W - LEFT, 9 * mm, f"page {self.number}")

    def fill(self, color: colors.Color) -> None:
        if color is not self._color:  # reportlab's setter costs ~20 µs: only on a change
            self.canvas.setFillColor(color)
            self._color = color

    def lines_at(
        self, lines: Sequence[Sequence[Run]], x: float, y: float, w: float, style: Style
    ) -> None:
        """Draw wrapped lines with their first baseline ``style.size`` under ``y``."""
        c = self.canvas
        self.fill(style.color)
        key = (tuple(tuple(line) for line in lines), x, y, w, style.size, style.leading,
               style.align)  # fmt: skip
        code = _TEXT_OPS.get(key)
        if code is None:
            code = self._text_ops(lines, x, y, w, style)
            if SEEDED_CHARS.issuperset("".join(t for line in lines for t, _ in line)):
                if len(_TEXT_OPS) >= _TEXT_OPS_MAX:
                    _TEXT_OPS.clear()
                _TEXT_OPS[key] = code
        c._code.append(code)

    def _text_ops(
        self, lines: Sequence[Sequence[Run]], x: float, y: float, w: float, style: Style
    ) -> str:
        t = self.canvas.beginText()
        current: bool | None = None
        base = y - style.size
        for i, line in enumerate(lines):
            dx = 0.0
            if style.align != "left":
                total = sum(width(s, b, style.size) for s, b in line)
                dx = w - total if style.align == "right" else (w - total) / 2
            t.setTextOrigin(x + dx, base - i * style.leading)
            for text, bold in line:
                if bold != current:
                    t.setFont(FONT_BOLD if bold else FONT, style.size, style.leading)
                    current = bold
                t.textOut(text)
        return str(t.getCode())

    def block(
        self, runs: Sequence[Run] | str, style: Style = BODY, *, x: float = LEFT,
        w: float = CONTENT_WIDTH, after: float = 2,
    ) -> None:  # fmt: skip
        """A paragraph that flows down the page."""
        if isinstance(runs, str):
            runs = [(runs, style.bold)]
        lines = wrap(runs, w, style.size)
        height = len(lines) * style.leading
        self.ensure(height)
        self.lines_at(lines, x, self.y, w, style)
        self.y -= height + after

    def rule(self, x0: float, x1: float, y: float, thick: float, color: colors.Color) -> None:
        c = self.canvas
        c.setStrokeColor(color)
        c.setLineWidth(thick)
        c.line(x0, y, x1, y)

    def section(self, title: str, needs: float) -> None:
        """A heading with a rule under it, kept with the next ``needs`` points."""
        self.y -= 7
        self.ensure(13 + 4 + needs)
        self.lines_at([[(title, True)]], LEFT, self.y, CONTENT_WIDTH, SECTION)
        self.y -= 13 + 2
        self.rule(LEFT, LEFT + CONTENT_WIDTH, self.y, 0.8, RULE)
        self.y -= 4

    def fields(self, rows: Sequence[tuple[str, Sequence[Run] | str]]) -> None:
        """Label | value rows, like the cerfa's boxes."""
        vw = CONTENT_WIDTH - LABEL_WIDTH - 6
        for i, (label, value) in enumerate(rows):
            runs: Sequence[Run] = [(value, False)] if isinstance(value, str) else value
            left = wrap([(label, False)], LABEL_WIDTH - 6, LABEL.size)
            right = wrap(runs, vw, BODY.size)
            height = max(len(left), len(right)) * BODY.leading + 3
            self.ensure(height)
            self.lines_at(left, LEFT, self.y - 1.5, LABEL_WIDTH - 6, LABEL)
            self.lines_at(right, LEFT + LABEL_WIDTH, self.y - 1.5, vw, BODY)
            self.y -= height
            if i < len(rows) - 1:
                self.rule(LEFT, LEFT + CONTENT_WIDTH, self.y, 0.25, LIGHT_RULE)

    def finish(self) -> bytes:
        self._end_page()
        self.canvas.save()
        return self._buf.getvalue()
