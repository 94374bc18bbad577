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
    DATE_INDEX,
    DATETIME_INDEX,
    MONEY_INDEXES,
    SUMMARY_KEYS,
    Cells,
    Value,
    amount,
    amount_text,
    check_text,
    summary_row,
    text,
)

BOM = "\ufeff"
SEPARATORS = (",", ";", "\t")
_CACHE_MAX = 100_000  # formatted amounts kept per currency


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
        self._cells = Cells(locale)
        self._decimal_sep = "," if sep == ";" else "."
        self._money_text: dict[str, dict[int, str]] = {}
        self._line = io.StringIO()
        self._line_writer = csv.writer(self._line, delimiter=sep, lineterminator="\r\n")

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

    def _quoted(self, cells: list[str]) -> str:
        """One row through the csv writer (some field holds the separator, a quote or a
        line break), without its line terminator."""
        buf = self._line
        buf.seek(0)
        buf.truncate()
        self._line_writer.writerow(cells)
        return buf.getvalue()[:-2]

    def _money(self, minor: int, currency: str) -> str:
        cache = self._money_text.get(currency)
        if cache is None:
            cache = self._money_text[currency] = {}
        text_ = cache.get(minor)
        if text_ is None:
            if len(cache) >= _CACHE_MAX:
                cache.clear()  # bounded: memory stays flat whatever the report
            text_ = cache[minor] = amount_text(minor, currency, self._decimal_sep)
        return text_

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
        """The table rows of these lines. The hot path of a year's report: one ``Cells``
        call per line, money from a cache of formatted amounts, and rows joined directly
        when no field needs quoting (the csv writer only for the rare row that does, so
        the output is the writer's, byte for byte)."""
        out: list[str] = []
        add, cells, money, sep = self.totals.add, self._cells, self._money, self.sep
        seps, cur = len(COLUMNS) - 1, self.currency
        known = self._money_text.setdefault(cur, {})
        for line in lines:
            split = line.split
            add(line, split)
            r = cells(line, split)
            if line.currency != cur:
                cur = line.currency
                known = self._money_text.setdefault(cur, {})
            for i in MONEY_INDEXES:
                minor = r[i]
                if minor is None:
                    r[i] = ""
                else:
                    r[i] = known.get(minor) or money(minor, cur)  # type: ignore[arg-type]
            when = r[DATETIME_INDEX]
            # Paris time without its offset: "2026-03-14 11:30:00".
            r[DATETIME_INDEX] = (
                when.isoformat(" ", "seconds")[:19] if isinstance(when, datetime) else ""
            )
            day = r[DATE_INDEX]
            r[DATE_INDEX] = day.isoformat() if isinstance(day, date) else ""
            strings: list[str] = r  # type: ignore[assignment]  # every cell is a str by now
            text_ = sep.join(strings)
            if text_.count(sep) != seps or '"' in text_ or "\n" in text_ or "\r" in text_:
                text_ = self._quoted(strings)
            out.append(text_)
        self.currency = self.currency or cur
        return "\r\n".join(out) + "\r\n" if out else ""

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
