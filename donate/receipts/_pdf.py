"""reportlab plumbing of the receipt renderers: fonts, text layout, deterministic output.

Speed (load_tests/bench_receipts.py): receipts are drawn on the canvas directly, with a
little line-breaking of our own, not laid out by platypus (~15× slower for this page). The
costly part of a small PDF is its embedded font: subsetting DejaVu and compressing it. So
each document's font subset is seeded with one fixed repertoire (every character a French
receipt uses); every receipt then embeds the *same* subset, and its font program, widths and
ToUnicode map are built and compressed once per process (``_cached``), not once per PDF.
A character outside the repertoire still works: it goes to a further subset, built afresh.

Determinism (DESIGN rule 6: the PDF is a pure function of the snapshot) needs a fixed
creation date (the issue date, midnight in Paris), a fixed /ID (derived from the content)
and no clock or random input anywhere else, which ``invariant=1`` provides. The caches hold
pure functions of their keys, so a cached object is byte-identical to a fresh one.
"""

from __future__ import annotations

import functools
import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.ttfonts import SUBSETN, TTFont, makeToUnicodeCMap
from reportlab.pdfgen.canvas import Canvas

FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"
_FONT_DIR = Path(__file__).resolve().parent.parent / "fonts"
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

# Seeded first into every document's font subset, in this order (see the module docstring).
REPERTOIRE = (
    "".join(chr(c) for c in range(0xC0, 0x100) if c not in (0xD7, 0xF7))
    + "ŒœŸ€☒☐—–‘’“”«»…•°\u202f×·ªº§²³"
)

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


# --------------------------------------------------------------------------- fonts


class _Model:
    """Stands for a document while the seeded subset state is made (weak-referenceable)."""


class _ReceiptFont(TTFont):  # type: ignore[misc]
    """A TTFont whose per-document PDF objects come from process-wide caches."""

    _seeded: Any = None

    def seed(self, doc: Any) -> None:
        """Give ``doc`` the subset state of REPERTOIRE, assigned once and copied after."""
        if self._seeded is None:
            model = _Model()
            self.splitString(REPERTOIRE, model)
            self._seeded = self.state.pop(model)
        seeded, state = self._seeded, TTFont.State.__new__(TTFont.State)
        state.assignments = dict(seeded.assignments)
        state.subsets = [list(x) for x in seeded.subsets]
        state.nextCode = seeded.nextCode
        state.internalName = None
        state.frozen = 0
        self.state[doc] = state

    def addObjects(self, doc: Any) -> None:
        # reportlab's TTFont.addObjects, with the subset's objects cached by content.
        state = self._assignState(doc)
        state.frozen = 1
        for n, subset in enumerate(state.subsets):
            internal = self.getSubsetInternalName(n, doc)[1:]
            base = (b"".join((SUBSETN(n), b"+", self.face.name, self.face.subfontNameX))).decode(
                "pdfdoc"
            )
            key = tuple(subset)
            cmap = doc.Reference(_stream(_cached(self, "cmap", key, base)), "toUnicodeCMap:" + base)
            descriptor = self._descriptor(doc, base, key)

            def font_dict(
                cmap: Any = cmap, descriptor: Any = descriptor, internal: str = internal,
                base: str = base, key: tuple[int, ...] = key,
            ) -> Any:  # fmt: skip
                font = pdfdoc.PDFTrueTypeFont()
                font.Name = internal
                font.BaseFont = base
                font.FirstChar = 0
                font.LastChar = len(key) - 1
                font.Widths = _Raw(_cached(self, "widths", key, base))
                font.ToUnicode = cmap
                font.FontDescriptor = descriptor
                return font

            font = _formatted(doc, ("font", internal, key, base), font_dict, cmap, descriptor)
            doc.Reference(font, internal)
            doc.idToObject["BasicFonts"].dict[internal] = font
        del self.state[doc]

    def _descriptor(self, doc: Any, base: str, key: tuple[int, ...]) -> Any:
        face = self.face
        program, length1 = _cached(self, "program", key, base)
        file_stream = _stream(program, Length1=length1)
        ref = doc.Reference(file_stream, f"fontFile:{face.filename}({base})")
        descriptor = _formatted(
            doc, ("descriptor", self.fontName, key, base), lambda: self._descriptor_dict(ref, base),
            ref,
        )  # fmt: skip
        return doc.Reference(descriptor, "fontDescriptor:" + base)

    def _descriptor_dict(self, ref: Any, base: str) -> Any:
        face = self.face
        return pdfdoc.PDFDictionary(
            {
                "Type": "/FontDescriptor",
                "Ascent": face.ascent,
                "CapHeight": face.capHeight,
                "Descent": face.descent,
                "Flags": (face.flags & ~32) | 4,  # symbolic, as reportlab marks subsets
                "FontBBox": pdfdoc.PDFArray(face.bbox),
                "FontName": pdfdoc.PDFName(base),
                "ItalicAngle": face.italicAngle,
                "StemV": face.stemV,
                "FontFile2": ref,
                "MissingWidth": face.defaultWidth,
            }
        )


_CACHE: dict[tuple[str, str, tuple[int, ...], str], Any] = {}
_CACHE_MAX = 256  # subsets beyond the seeded one vary with rare characters: keep it bounded


def _cached(font: _ReceiptFont, what: str, key: tuple[int, ...], base: str) -> Any:
    k = (font.fontName, what, key, base)
    hit = _CACHE.get(k)
    if hit is None:
        if what == "widths":  # formatted once: 250 numbers per font and document
            hit = pdfdoc.PDFArray([font.face.getCharWidth(c) for c in key]).format(None)
        elif what == "cmap":
            hit = zlib.compress(makeToUnicodeCMap(base, list(key)).encode("latin-1"))
        else:
            raw = font.face.makeSubset(list(key))
            hit = (zlib.compress(raw), len(raw))
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[k] = hit
    return hit


class _Raw(pdfdoc.PDFObject):  # type: ignore[misc]
    """An already formatted PDF value."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def format(self, document: Any) -> bytes:
        return self.data


_FORMATTED: dict[tuple[Any, ...], bytes] = {}


class _RawObject(_Raw):
    __RefOnly__ = 1  # an indirect object: others refer to it, never copy it inline


def _formatted(doc: Any, key: tuple[Any, ...], make: Any, *refs: Any) -> _RawObject:
    """The font dictionaries as bytes, formatted once for the object numbers they refer
    to (the same in every receipt of the same shape): ~0.5 ms per document otherwise."""
    numbers = tuple(doc.idToObjectNumberAndVersion[r.name] for r in refs)
    k = (*key, numbers)
    data = _FORMATTED.get(k)
    if data is None:
        data = pdfdoc.format(make(), doc, toplevel=1)
        if len(_FORMATTED) >= _CACHE_MAX:
            _FORMATTED.clear()
        _FORMATTED[k] = data
    return _RawObject(data)


_STREAMS: dict[int, tuple[bytes, bytes]] = {}


def _stream(compressed: bytes, **entries: Any) -> _RawObject:
    """A compressed stream object, formatted once (its bytes are cached with it)."""
    hit = _STREAMS.get(id(compressed))
    if hit is None or hit[0] is not compressed:
        # "Filter" already set: reportlab writes the bytes as they are, compressing nothing.
        stream = pdfdoc.PDFStream(content=compressed)
        stream.dictionary["Filter"] = pdfdoc.PDFArray([pdfdoc.PDFName("FlateDecode")])
        for name, value in entries.items():
            stream.dictionary[name] = value
        hit = (compressed, stream.format(pdfdoc.PDFDocument(invariant=1)))
        if len(_STREAMS) >= _CACHE_MAX:
            _STREAMS.clear()
        _STREAMS[id(compressed)] = hit  # the bytes object is kept alive in _CACHE
    return _RawObject(hit[1])


@functools.cache
def register_fonts() -> None:
    """Embed DejaVu (subset) so accents, Œ, € and ☒ render in every viewer."""
    pdfmetrics.registerFont(_ReceiptFont(FONT, str(_FONT_DIR / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(_ReceiptFont(FONT_BOLD, str(_FONT_DIR / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD)


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
_SEEDED_CHARS = frozenset(REPERTOIRE + "".join(map(chr, range(32, 127))) + "\u00a0")


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
        for name in (FONT, FONT_BOLD):  # the seeded, cached subset (module docstring)
            font = pdfmetrics.getFont(name)
            assert isinstance(font, _ReceiptFont)
            font.seed(c._doc)
            # Named now, in this order, in every document: cached text operators name them.
            font.getSubsetInternalName(0, c._doc)
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
            if _SEEDED_CHARS.issuperset("".join(t for line in lines for t, _ in line)):
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
