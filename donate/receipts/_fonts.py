"""The receipts' embedded fonts (DejaVu), built once per process instead of once per PDF.

The costly part of a small PDF is its embedded font: subsetting DejaVu and compressing it.
So each document's font subset is seeded with one fixed repertoire (every character a
French receipt uses): every receipt then embeds the *same* subset, and its font program,
widths, ToUnicode map and font dictionaries are built, compressed and formatted once per
process (the caches below), not once per PDF. A character outside the repertoire still
works: the document assigns it a code of its own, and that subset is built afresh. The
caches hold pure functions of their keys, so a cached object is byte-identical to a fresh
one (tests/receipts/test_render_cache.py renders cold and warm).
"""

from __future__ import annotations

import functools
import zlib
from pathlib import Path
from typing import Any

from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.ttfonts import SUBSETN, TTFont, makeToUnicodeCMap

FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"
_FONT_DIR = Path(__file__).resolve().parent.parent / "fonts"

# Seeded first into every document's font subset, in this order.
REPERTOIRE = (
    "".join(chr(c) for c in range(0xC0, 0x100) if c not in (0xD7, 0xF7))
    + "ŒœŸ€☒☐—–‘’“”«»…•°\u202f×·ªº§²³"
)


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


def seed_document(doc: Any) -> None:
    """Give a new document the seeded subsets, and name both faces now, in this order, so
    that text operators drawn for one receipt are valid in every other (``_pdf.Page``)."""
    for name in (FONT, FONT_BOLD):
        font = pdfmetrics.getFont(name)
        assert isinstance(font, _ReceiptFont)
        font.seed(doc)
        font.getSubsetInternalName(0, doc)


# Characters whose codes are the same in every document (ASCII, then the repertoire; a
# no-break space is drawn as a space).
SEEDED_CHARS = frozenset(REPERTOIRE + "".join(map(chr, range(32, 127))) + "\u00a0")
