"""CSV payout reports, built chunk by chunk so they can be streamed.

UTF-8 with a BOM (Excel then reads the accents right). With ``;`` as separator (French
Excel) amounts use a decimal comma, with ``,`` a decimal point. Layout: the payouts with
their check (a mismatch is written in capitals, at the top and again at the end), the
movement table, then totals by type and by campaign.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

from donate.domain.payouts import Amounts, PayoutHeader, ReportLine, Totals
from donate.reports.table import (
    COLUMNS,
    SUMMARY_KEYS,
    Value,
    amount,
    check_text,
    row,
    summary_row,
    text,
)

BOM = "\ufeff"
SEPARATORS = (",", ";", "\t")


class CsvReport:
    """Produces the text of one report in pieces: ``start``, ``lines`` (any number of
    times), ``end``. Keeps only running totals between pieces."""

    def __init__(self, sep: str = ",", locale: str = "fr") -> None:
        if sep not in SEPARATORS:
            raise ValueError(f"separator must be one of {SEPARATORS!r}")
        self.sep = sep
        self.locale = locale
        self.totals = Totals()
        self.currency = ""
        self._headers: list[PayoutHeader] = []

    def _format(self, value: Value) -> str:
        if value is None:
            return ""
        if isinstance(value, Decimal):
            out = format(value, "f")
            return out.replace(".", ",") if self.sep == ";" else out
        if isinstance(value, datetime):
            return value.strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(value, date):
            return value.isoformat()
        return str(value)

    def _rows(self, rows: Iterable[Sequence[Value]]) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=self.sep, lineterminator="\r\n")
        for r in rows:
            writer.writerow([self._format(v) for v in r])
        return buf.getvalue()

    def start(
        self, title: str, organization: str, headers: list[PayoutHeader], period: str = ""
    ) -> str:
        """The BOM, the title, the payouts with their check, and the table's header row."""
        self._headers = headers
        loc = self.locale
        rows: list[list[Value]] = [[text(title, loc)], [text("association", loc), organization]]
        if period:
            rows.append([text("period", loc), period])
        if headers:
            self.currency = headers[0].currency
            rows.append([text(k, loc) for k in SUMMARY_KEYS])
            rows += [summary_row(h) for h in headers]
            rows.append([text("check", loc), check_text(headers, loc)])
        rows.append([])
        rows.append([c.label(loc) for c in COLUMNS])
        return BOM + self._rows(rows)

    def lines(self, lines: Iterable[ReportLine]) -> str:
        out: list[list[Value]] = []
        for line in lines:
            self.totals.add(line)
            self.currency = self.currency or line.currency
            out.append(row(line, self.locale))
        return self._rows(out)

    def _amounts(self, label: str, a: Amounts) -> list[Value]:
        cur = self.currency or "EUR"
        return [
            label, a.count, amount(a.gross, cur), amount(a.provider_fee, cur),
            amount(a.platform_fee, cur), amount(a.tip, cur), amount(a.fee, cur),
            amount(a.net, cur),
        ]  # fmt: skip

    def end(self) -> str:
        """Totals by type and by campaign, and the check once more."""
        loc, t = self.locale, self.totals
        head: list[Value] = ["", text("count", loc)]
        head += [c.label(loc) for c in COLUMNS if c.key in _TOTAL_KEYS]
        rows: list[list[Value]] = [[], [text("by_type", loc)], head]
        rows += [self._amounts(text(k, loc), a) for k, a in sorted(t.by_kind.items())]
        rows.append(self._amounts(text("total", loc), t.all))
        rows += [[], [text("by_campaign", loc)], head]
        for name, a in sorted(t.by_campaign.items()):
            rows.append(self._amounts(name or text("no_campaign", loc), a))
        rows.append(self._amounts(text("total", loc), t.all))
        if t.unmatched.count:
            rows += [[], self._amounts(text("unmatched", loc), t.unmatched)]
        if self._headers:
            rows += [[], [text("check", loc), check_text(self._headers, loc)]]
        return self._rows(rows)


_TOTAL_KEYS = ("gross", "provider_fee", "platform_fee", "tip", "fee", "net")
