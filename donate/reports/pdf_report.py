"""PDF summary of a payout report (reportlab): the payouts and their check, totals by type
and by campaign, and the movements we could not match. The full movement list is in the
CSV and XLSX; a mismatch is printed in red capitals at the top."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from donate.domain.payouts import Amounts, PayoutHeader, ReportLine, Totals
from donate.reports.table import SUMMARY_KEYS, amount, check_text, local, summary_row, text

FONT, FONT_BOLD = "DejaVuSans", "DejaVuSans-Bold"
_FONT_DIR = Path(__file__).resolve().parent.parent / "fonts"
MAX_UNMATCHED = 200  # listed in the PDF; the CSV/XLSX list them all


@functools.cache
def _fonts() -> None:
    pdfmetrics.registerFont(TTFont(FONT, str(_FONT_DIR / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(_FONT_DIR / "DejaVuSans-Bold.ttf")))


@dataclass
class PdfSummary:
    """Collects totals (and the first unmatched lines) from a stream, then renders."""

    locale: str = "fr"
    totals: Totals = field(default_factory=Totals)
    unmatched: list[ReportLine] = field(default_factory=list)
    currency: str = ""

    def lines(self, lines: list[ReportLine]) -> None:
        for line in lines:
            self.currency = self.currency or line.currency
            self.totals.add(line)
            if not line.matched and len(self.unmatched) < MAX_UNMATCHED:
                self.unmatched.append(line)

    def render(
        self, title: str, organization: str, headers: list[PayoutHeader], period: str = ""
    ) -> bytes:
        _fonts()
        loc = self.locale
        base = ParagraphStyle("base", fontName=FONT, fontSize=9, leading=12)
        h1 = ParagraphStyle("h1", parent=base, fontName=FONT_BOLD, fontSize=15, leading=19)
        h2 = ParagraphStyle("h2", parent=base, fontName=FONT_BOLD, fontSize=11, leading=15)
        ok = all(h.balanced for h in headers)
        check = ParagraphStyle(
            "check", parent=base, fontName=FONT_BOLD, fontSize=12 if ok else 14, leading=18,
            textColor=colors.HexColor("#006100" if ok else "#C00000"),
        )  # fmt: skip
        cur = headers[0].currency if headers else (self.currency or "EUR")
        story: list[object] = [
            Paragraph(escape(f"{text(title, loc)} — {organization}"), h1),
            Spacer(0, 3 * mm),
        ]
        if period:
            story.append(Paragraph(escape(f"{text('period', loc)} : {period}"), base))
        if headers:
            story.append(Paragraph(escape(check_text(headers, loc)), check))
            rows = [[text(k, loc) for k in SUMMARY_KEYS]]
            rows += [[_cell(v) for v in summary_row(h)] for h in headers]
            story += [Spacer(0, 2 * mm), self._table(rows)]
        story += [Spacer(0, 5 * mm), Paragraph(escape(text("by_type", loc)), h2)]
        rows = [self._head()]
        rows += [
            self._amounts(text(k, loc), a, cur) for k, a in sorted(self.totals.by_kind.items())
        ]
        rows.append(self._amounts(text("total", loc), self.totals.all, cur))
        story.append(self._table(rows))
        story += [Spacer(0, 5 * mm), Paragraph(escape(text("by_campaign", loc)), h2)]
        rows = [self._head()]
        for name, a in sorted(self.totals.by_campaign.items()):
            rows.append(self._amounts(name or text("no_campaign", loc), a, cur))
        rows.append(self._amounts(text("total", loc), self.totals.all, cur))
        story.append(self._table(rows))
        if self.unmatched:
            title_unmatched = f"{text('unmatched_lines', loc)} ({self.totals.unmatched.count})"
            story += [Spacer(0, 5 * mm), Paragraph(escape(title_unmatched), h2)]
            rows = [["Date", text("payout_id", loc), "Type", "Réf.", "Brut", "Net"]]
            for ln in self.unmatched:
                when = local(ln.occurred_at)
                rows.append([
                    when.strftime("%Y-%m-%d") if when else "", ln.payout_ref, text(ln.kind, loc),
                    ln.source_id or ln.line_id, _cell(amount(ln.gross_minor, ln.currency)),
                    _cell(amount(ln.net_minor, ln.currency)),
                ])  # fmt: skip
            story.append(self._table(rows))
        out = BytesIO()
        doc = SimpleDocTemplate(
            out, pagesize=landscape(A4), leftMargin=14 * mm, rightMargin=14 * mm,
            topMargin=14 * mm, bottomMargin=14 * mm, title=text(title, loc), invariant=1,
        )  # fmt: skip
        doc.build(story)
        return out.getvalue()

    def _head(self) -> list[str]:
        loc = self.locale
        labels = ("count", "Brut", "Frais prestataire", "Commission", "Pourboire", "Frais", "Net")
        if loc == "en":
            labels = ("count", "Gross", "Provider fee", "Platform fee", "Tip", "Fee", "Net")
        return ["", *(text(k, loc) if k == "count" else k for k in labels)]

    @staticmethod
    def _amounts(label: str, a: Amounts, cur: str) -> list[str]:
        values = (a.gross, a.provider_fee, a.platform_fee, a.tip, a.fee, a.net)
        return [label, str(a.count), *(_cell(amount(v, cur)) for v in values)]

    @staticmethod
    def _table(rows: list[list[str]]) -> Table:
        table = Table(rows, repeatRows=1)
        table.setStyle(
            TableStyle([
                ("FONT", (0, 0), (-1, -1), FONT, 8),
                ("FONT", (0, 0), (-1, 0), FONT_BOLD, 8),
                ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#999999")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
            ])
        )  # fmt: skip
        return table


def _cell(value: object) -> str:
    if value is None:
        return ""
    return str(value)
