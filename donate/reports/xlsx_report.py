"""XLSX payout reports: xlsxwriter in constant-memory mode (rows go to disk as written, so
memory stays flat whatever the size), typed cells (numbers, dates), three sheets: the
summary with the check, the movements, the totals."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from donate.domain.money import exponent
from donate.domain.payouts import Amounts, PayoutHeader, ReportLine, Totals
from donate.reports.table import COLUMNS, SUMMARY_KEYS, Cells, Value, amount, summary_row, text
from donate.reports.table import check_text as _check_text

_TOTAL_KEYS = ("gross", "provider_fee", "platform_fee", "tip", "fee", "net")


class XlsxReport:
    """Write a report to ``path``: ``start``, ``lines`` (any number of times), ``close``.
    Synchronous and CPU-bound: call it from a worker thread."""

    def __init__(self, path: str, locale: str = "fr") -> None:
        self.locale = locale
        self.totals = Totals()
        self.book = xlsxwriter.Workbook(path, {"constant_memory": True, "remove_timezone": True})
        self.summary = self.book.add_worksheet(text("summary", locale))
        self.sheet = self.book.add_worksheet(text("movements", locale))
        self.totals_sheet = self.book.add_worksheet(text("totals", locale))
        self.bold = self.book.add_format({"bold": True})
        self.alarm = self.book.add_format({"bold": True, "font_color": "#C00000", "font_size": 14})
        self.ok = self.book.add_format({"bold": True, "font_color": "#006100"})
        self.datetime = self.book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self.date = self.book.add_format({"num_format": "yyyy-mm-dd"})
        self._money: dict[int, Any] = {}
        self._headers: list[PayoutHeader] = []
        self._row = 0
        self.currency = "EUR"
        self._cells = Cells(locale)
        self._scales: dict[str, tuple[int, Any]] = {}

    def _money_format(self, currency: str) -> Any:
        digits = exponent(currency)
        if digits not in self._money:
            pattern = "#,##0" + ("." + "0" * digits if digits else "")
            self._money[digits] = self.book.add_format({"num_format": pattern})
        return self._money[digits]

    def _write(
        self, ws: Worksheet, r: int, values: Iterable[Value], cur: str | None = None
    ) -> None:
        for c, v in enumerate(values):
            if v is None or v == "":
                continue
            if isinstance(v, Decimal):
                ws.write_number(r, c, float(v), self._money_format(cur or self.currency))
            elif isinstance(v, int):
                ws.write_number(r, c, v)
            elif isinstance(v, datetime):
                ws.write_datetime(r, c, v, self.datetime)
            elif isinstance(v, date):
                ws.write_datetime(r, c, datetime.combine(v, time()), self.date)
            else:
                ws.write_string(r, c, str(v))

    def start(
        self, title: str, organization: str, headers: list[PayoutHeader], period: str = ""
    ) -> None:
        loc, ws = self.locale, self.summary
        self._headers = headers
        if headers:
            self.currency = headers[0].currency
        ws.write_string(0, 0, text(title, loc), self.bold)
        ws.write_string(1, 0, text("association", loc))
        ws.write_string(1, 1, organization)
        r = 2
        if period:
            ws.write_string(r, 0, text("period", loc))
            ws.write_string(r, 1, period)
            r += 1
        if headers:
            check = _check_text(headers, loc)
            ws.write_string(r, 0, text("check", loc), self.bold)
            ws.write_string(
                r, 1, check, self.ok if all(h.balanced for h in headers) else self.alarm
            )
            r += 2
            for c, key in enumerate(SUMMARY_KEYS):
                ws.write_string(r, c, text(key, loc), self.bold)
            for h in headers:
                r += 1
                self._write(ws, r, summary_row(h), h.currency)
        ws.set_column(0, 1, 24)
        for c, col in enumerate(COLUMNS):
            self.sheet.write_string(0, c, col.label(loc), self.bold)
        self.sheet.freeze_panes(1, 0)
        self._row = 1

    def lines(self, lines: Iterable[ReportLine]) -> None:
        """One sheet row per line: cells written by column type, known once per report."""
        ws, r, add, cells = self.sheet, self._row, self.totals.add, self._cells
        text_, number, moment = ws.write_string, ws.write_number, ws.write_datetime
        stamp, day_format = self.datetime, self.date
        for line in lines:
            split = line.split
            add(line, split)
            scale, money = self._scale(line.currency)
            for c, v in enumerate(cells(line, split)):
                if v is None or v == "":
                    continue
                if isinstance(v, str):
                    text_(r, c, v)
                elif isinstance(v, int):
                    number(r, c, v / scale, money)  # Excel numbers are doubles anyway
                elif isinstance(v, datetime):
                    moment(r, c, v, stamp)
                else:
                    moment(r, c, datetime.combine(v, time()), day_format)
            r += 1
        self._row = r

    def _scale(self, currency: str) -> tuple[int, Any]:
        found = self._scales.get(currency)
        if found is None:
            found = self._scales[currency] = (
                10 ** exponent(currency),
                self._money_format(currency),
            )
        return found

    def _amounts(self, r: int, label: str, a: Amounts) -> None:
        cur = self.currency
        self._write(
            self.totals_sheet,
            r,
            [label, a.count, *(amount(getattr(a, k), cur) for k in _TOTAL_KEYS)],
            cur,
        )

    def close(self) -> None:
        loc, ws, t = self.locale, self.totals_sheet, self.totals
        head = ["", text("count", loc), *(c.label(loc) for c in COLUMNS if c.key in _TOTAL_KEYS)]
        r = 0
        sections = (("by_type", t.by_kind, "kind"), ("by_campaign", t.by_campaign, "campaign"))
        for title, groups, what in sections:
            ws.write_string(r, 0, text(title, loc), self.bold)
            self._write(ws, r + 1, head)
            r += 2
            for key, a in sorted(groups.items()):
                label = text(key, loc) if what == "kind" else key or text("no_campaign", loc)
                self._amounts(r, label, a)
                r += 1
            self._amounts(r, text("total", loc), t.all)
            r += 2
        if t.unmatched.count:
            self._amounts(r, text("unmatched", loc), t.unmatched)
            r += 2
        if self._headers:
            ok = all(h.balanced for h in self._headers)
            ws.write_string(r, 0, text("check", loc), self.bold)
            ws.write_string(r, 1, _check_text(self._headers, loc), self.ok if ok else self.alarm)
        self.book.close()
