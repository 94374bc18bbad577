"""CSV payout reports, streamed.

UTF-8 with a BOM (Excel then reads the accents right). With ``;`` as separator (French
Excel) amounts use a decimal comma, with ``,`` a decimal point. Layout: the payouts with
their check (a mismatch is written in capitals, at the top and again at the end), the
movement table, then totals by type and by campaign.

The movement table (a million rows for a year) is rendered by PostgreSQL: ``table_query``
wraps the report's rows query into one that gives the cells of ``table.COLUMNS`` as text,
for ``COPY … TO STDOUT`` in CSV format. Its quoting is the csv module's (a field holding the
separator, a quote or a line break is quoted, quotes doubled; every empty cell is NULL, so
never quoted); ``body`` only turns its row ends into CRLF. Python writes the rest (a few
rows) with the csv module. Text people typed (names, titles, e-mail) is defused in both
parts: a cell a spreadsheet would run as a formula starts with a quote (CSV injection).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from donate.domain.money import ISO_4217, exponent
from donate.domain.payouts import Amounts, PayoutHeader, Totals
from donate.reports.table import (
    COLUMNS,
    SUMMARY_KEYS,
    Value,
    amount,
    check_text,
    labels_of,
    summary_row,
    text,
)

BOM = "\ufeff"
SEPARATORS = (",", ";", "\t")
# What a spreadsheet takes for the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# What ``str.strip()`` strips (``str.isspace``), for PostgreSQL's ``btrim``.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# One minor unit of each currency whose exponent is not 2 (else 0.01), as numeric text: an
# amount is ``minor * unit``, whose scale is the exponent ("1500" JPY, "12.345" KWD); and
# zero so written (most fee cells are zero: no arithmetic for them).
_ODD = [c for c in sorted(ISO_4217) if exponent(c) != 2]
_UNITS = json.dumps({c: str(Decimal(1).scaleb(-exponent(c))) for c in _ODD})
_ZEROS = json.dumps({c: format(Decimal(0).scaleb(-exponent(c)), "f") for c in _ODD})


# Cells that are NULL or some text, never an empty string (money, dates, codes, labels).
_NEVER_EMPTY = frozenset(
    {c.key for c in COLUMNS if c.type != "text"} | {"donor", "currency", "provider", "matched"}
)


def defused(value: str) -> str:
    """``value``, with a quote first if a spreadsheet would run it as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _defused_sql(expr: str) -> str:
    # ascii(): the first character's code point (0 for '', NULL for NULL).
    codes = ", ".join(str(ord(c)) for c in FORMULA_STARTS)
    return f"CASE WHEN ascii({expr}) IN ({codes}) THEN '''' || {expr} ELSE {expr} END"


class CsvReport:
    """Produces one report in pieces: ``start``, the table (``table_query`` run as a COPY,
    each piece through ``body``), ``end``."""

    def __init__(self, sep: str = ",", locale: str = "fr") -> None:
        if sep not in SEPARATORS:
            raise ValueError(f"separator must be one of {SEPARATORS!r}")
        self.sep = sep
        self.locale = locale
        self.rows = 0  # table rows seen by ``body``
        self._quoted = False  # ``body``: the last piece ended inside a quoted field
        self._headers: list[PayoutHeader] = []

    # ------------------------------------------------------------------ the table (SQL)

    def table_query(self, rows_sql: str, args: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
        """The cells of ``COLUMNS`` as text, one row per movement of ``rows_sql`` (in its
        order): ``ReportLine``'s columns plus the fee split (``provider_fee_part``,
        ``platform_fee_part``, ``tip_part``). The same cells as ``table.row``, formatted
        as ``_format`` does."""
        n = len(args) + 1
        # JSON as text: whatever jsonb codec the connection has.
        labels, units, zeros = (f"${i}::text::jsonb" for i in (n, n + 1, n + 2))
        ws, anonymous = f"${n + 3}::text", f"${n + 4}::text"
        yes, no = f"${n + 5}::text", f"${n + 6}::text"
        comma = self.sep == ";"

        def money(expr: str, positive: bool = False) -> str:  # zero: written once per row
            text_ = f"(({expr}) * r.unit)::text"
            text_ = f"replace({text_}, '.', ',')" if comma else text_
            if positive:  # the amount if above zero, else zero
                return f"CASE WHEN {expr} > 0 THEN {text_} ELSE r.zero END"
            return f"CASE WHEN {expr} = 0 THEN r.zero ELSE {text_} END"  # NULL stays NULL

        def person(expr: str) -> str:  # shown for a gift's donor who did not hide
            return f"CASE WHEN r.shown THEN {expr} END"

        # Worked out once per row (below), as the defused cells read them up to three times.
        name = f"btrim(r.first_name || ' ' || r.last_name, {ws})"
        donor = f"""nullif(CASE WHEN r.donation_id IS NULL THEN NULL WHEN r.anonymous
            THEN {anonymous} ELSE coalesce(nullif(r.company_name, ''), {name}) END, '')"""
        shown = "r.donation_id IS NOT NULL AND NOT r.anonymous"
        cells = {
            "date": "date_trunc('second', r.occurred_at AT TIME ZONE 'Europe/Paris')::text",
            "type": f"coalesce({labels} ->> r.kind, r.kind)",
            "donation_id": "r.donation_id",
            "payment_id": "r.payment_ref",
            "source_id": "r.source_id",
            "method": "r.method",
            "status": "r.donation_status",
            "campaign_kind": f"coalesce({labels} ->> r.campaign_kind, r.campaign_kind)",
            "campaign": "r.campaign_title",
            "designation": "r.description",
            "donor": "r.donor",
            "company": person("r.company_name"),
            "last_name": person("r.last_name"),
            "first_name": person("r.first_name"),
            "email": person("r.email"),
            "siren": person("r.siren"),
            "receipt": "r.receipt_number",
            "gift": money("r.donation_amount_minor"),
            "gross": money("r.gross_minor"),
            "provider_fee": money("r.provider_fee_part"),
            "platform_fee": money("r.platform_fee_part"),
            "tip": money("r.tip_part"),
            "fee": money("r.fee_minor"),
            "net": money("r.net_minor"),
            "credit": money("r.net_minor", positive=True),
            "debit": money("-r.net_minor", positive=True),
            "currency": "r.currency",
            "payout": "r.payout_ref",
            "payout_date": "r.payout_date::text",
            "provider": "r.provider",
            "matched": f"""CASE WHEN r.donation_id IS NOT NULL
                OR r.kind NOT IN ('payment', 'refund', 'dispute', 'adjustment')
                THEN {yes} ELSE {no} END""",
        }
        if list(cells) != [c.key for c in COLUMNS]:
            raise RuntimeError("the CSV cells are not COLUMNS")
        select = []
        for c in COLUMNS:
            # An empty cell is NULL: PostgreSQL quotes an empty string, the csv module doesn't.
            cell = cells[c.key] if c.key in _NEVER_EMPTY else f"nullif({cells[c.key]}, '')"
            select.append(_defused_sql(cell) if c.user_text else cell)
        zero = "'0,00'" if comma else "'0.00'"
        # OFFSET 0 keeps the inner select whole: what it works out is worked out once per
        # row, not once per cell that reads it.
        sql = f"""SELECT {", ".join(select)}
FROM (SELECT r.*, coalesce(({units} ->> r.currency)::numeric, 0.01) AS unit,
             coalesce({zeros} ->> r.currency, {zero}) AS zero, {donor} AS donor,
             {shown} AS shown
        FROM ({rows_sql}) r OFFSET 0) r"""
        loc = self.locale
        extra = (
            json.dumps(labels_of(loc)), _UNITS, _ZEROS.replace(".", ",") if comma else _ZEROS,
            WHITESPACE, text("anonymous", loc), text("yes", loc), text("no", loc),
        )  # fmt: skip
        return sql, (*args, *extra)

    def body(self, piece: bytes) -> bytes:
        """A piece of PostgreSQL's CSV with CRLF row ends (the csv module's), like the rest
        of the file; line breaks inside quoted fields stay as they are. Counts the rows.
        Pieces may end anywhere (a quote and a newline are single bytes in UTF-8). Only
        C-level bytes operations unless some field holds a line break."""
        if b'"' in piece:
            parts = piece.split(b'"')  # every other part is inside quotes ("" toggles twice)
            outside = 1 if self._quoted else 0
            self._quoted = self._quoted != (len(parts) % 2 == 0)
            if b"\n" in b"".join(parts[1 - outside :: 2]):  # a line break inside a field
                for i in range(outside, len(parts), 2):
                    self.rows += parts[i].count(b"\n")
                    parts[i] = parts[i].replace(b"\n", b"\r\n")
                return b'"'.join(parts)
        elif self._quoted:  # the whole piece is inside one quoted field
            return piece
        out = piece.replace(b"\n", b"\r\n")
        self.rows += len(out) - len(piece)  # one more byte per row end
        return out

    # ------------------------------------------------------------------ around the table

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
        if isinstance(value, str):
            return defused(value)
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
            rows.append([text(k, loc) for k in SUMMARY_KEYS])
            rows += [summary_row(h) for h in headers]
            rows.append([text("check", loc), check_text(headers, loc)])
        rows.append([])
        rows.append([c.label(loc) for c in COLUMNS])
        return BOM + self._rows(rows)

    def end(self, totals: Totals, currency: str) -> str:
        """Totals by type and by campaign (amounts in ``currency``), and the check once
        more."""
        loc, t = self.locale, totals

        def sums(label: str, a: Amounts) -> list[Value]:
            return [
                label, a.count, amount(a.gross, currency), amount(a.provider_fee, currency),
                amount(a.platform_fee, currency), amount(a.tip, currency),
                amount(a.fee, currency), amount(a.net, currency),
            ]  # fmt: skip

        head: list[Value] = ["", text("count", loc)]
        head += [c.label(loc) for c in COLUMNS if c.key in _TOTAL_KEYS]
        rows: list[list[Value]] = [[], [text("by_type", loc)], head]
        rows += [sums(text(k, loc), a) for k, a in sorted(t.by_kind.items())]
        rows.append(sums(text("total", loc), t.all))
        rows += [[], [text("by_campaign", loc)], head]
        for name, a in sorted(t.by_campaign.items()):
            rows.append(sums(name or text("no_campaign", loc), a))
        rows.append(sums(text("total", loc), t.all))
        if t.unmatched.count:
            rows += [[], sums(text("unmatched", loc), t.unmatched)]
        if self._headers:
            rows += [[], [text("check", loc), check_text(self._headers, loc)]]
        return self._rows(rows)


_TOTAL_KEYS = ("gross", "provider_fee", "platform_fee", "tip", "fee", "net")
