"""The bytes of every payout report, for the streaming routes and the worker's exports alike
(one code path: an export is what the route would have answered).

CSV and FEC come as an async iterator of pieces (one per batch of lines); XLSX is written
to a file path (xlsxwriter in constant-memory mode, in a worker thread); the PDF summary is
rendered at the end. Each takes an optional ``progress`` callback, awaited with the number
of lines of every batch handed to the writer.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import anyio.to_thread

from donate.db import report_exports as exports_db
from donate.domain.payouts import PayoutHeader, ReportLine, Totals
from donate.reports import fec
from donate.reports.csv_report import CsvReport
from donate.reports.pdf_report import PdfSummary
from donate.reports.xlsx_report import XlsxReport
from donate.services import payout_reports
from donate.services.payout_reports import Organization, ReportSession
from donate.services.runtime import Runtime

Progress = Callable[[int], Awaitable[None]]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": XLSX,
    "pdf": "application/pdf",
    "txt": f"text/plain; charset={fec.ENCODING}",
}


@dataclass(frozen=True, slots=True)
class Spec:
    """Which report: one payout, the payouts of a period, or the gifts in transit."""

    title: str
    payout_id: UUID | None = None
    start: date | None = None
    end: date | None = None

    @property
    def period(self) -> str:
        if self.payout_id is not None or not (self.start or self.end):
            return ""
        return f"{self.start or '…'} → {self.end or '…'}"

    async def headers(self, s: ReportSession) -> list[PayoutHeader]:
        if self.title == "in_transit":
            return []
        return await s.headers(payout_id=self.payout_id, start=self.start, end=self.end)

    def lines(self, s: ReportSession) -> AsyncGenerator[list[ReportLine], None]:
        if self.title == "in_transit":
            return s.in_transit(start=self.start, end=self.end)
        if self.payout_id is not None:
            return s.lines(payout_id=self.payout_id)
        return s.lines(payout_start=self.start, payout_end=self.end)

    def rows(self, s: ReportSession) -> tuple[str, tuple[Any, ...]]:
        """The query of ``lines``, for a report PostgreSQL renders."""
        if self.title == "in_transit":
            return s.in_transit_rows(start=self.start, end=self.end)
        if self.payout_id is not None:
            return s.lines_rows(payout_id=self.payout_id)
        return s.lines_rows(payout_start=self.start, payout_end=self.end)

    async def totals(
        self, s: ReportSession, headers: list[PayoutHeader]
    ) -> tuple[Totals, Counter[str]]:
        """The totals of ``lines`` and their movements by currency (``headers``: what
        ``headers`` gave on this session)."""
        if self.title == "in_transit":
            return await s.in_transit_totals(start=self.start, end=self.end)
        return await s.lines_totals([h.id for h in headers])

    async def count(self, s: ReportSession) -> int:
        """How many movements ``lines`` gives (an export's progress): the payouts' own counts
        (their check counts the same movements), else the in-transit query counted."""
        if self.title == "in_transit":
            return await exports_db.count_in_transit(s.conn, s.org_id, self.start, self.end)
        return sum(h.lines_count for h in await self.headers(s))


async def _noop(_n: int) -> None:
    return None


def csv_chunks(
    rt: Runtime, org_id: UUID, spec: Spec, sep: str, locale: str, progress: Progress = _noop
) -> AsyncGenerator[bytes, None]:
    """UTF-8 pieces of the CSV report. Raises ``ValueError`` at once for a bad separator.

    The movement table is PostgreSQL's COPY, passed through (``CsvReport.body``): no line
    is decoded in Python. The totals are summed by PostgreSQL after it, on the same
    snapshot."""
    report = CsvReport(sep, locale)

    async def body() -> AsyncGenerator[bytes, None]:
        async with payout_reports.session(rt, org_id) as s:
            org = await s.organization()
            headers = await spec.headers(s)
            yield report.start(spec.title, org.name, headers, spec.period).encode()
            sql, args = report.table_query(*spec.rows(s))
            # Closed with the response (client gone): the COPY is cancelled and awaited.
            async with contextlib.aclosing(s.copy_csv(sql, args, sep)) as pieces:
                async for piece in pieces:
                    done = report.rows
                    yield report.body(piece)
                    await progress(report.rows - done)
            totals, currencies = await spec.totals(s, headers)
            # Amounts in the payouts' currency, else in that of most movements.
            currency = headers[0].currency if headers else _most(currencies, "EUR")
            yield report.end(totals, currency).encode()

    return body()


def _most(counts: Counter[str], default: str) -> str:
    return min(counts, key=lambda k: (-counts[k], k)) if counts else default


async def write_xlsx(
    rt: Runtime, org_id: UUID, spec: Spec, path: str, locale: str, progress: Progress = _noop
) -> None:
    """The XLSX report written to ``path`` (the caller removes it)."""
    report = XlsxReport(path, locale)
    async with payout_reports.session(rt, org_id) as s:
        org = await s.organization()
        headers = await spec.headers(s)
        report.start(spec.title, org.name, headers, spec.period)
        async with contextlib.aclosing(spec.lines(s)) as chunks:
            async for chunk in chunks:
                await anyio.to_thread.run_sync(report.lines, chunk)
                await progress(len(chunk))
    await anyio.to_thread.run_sync(report.close)


async def pdf_bytes(
    rt: Runtime, org_id: UUID, spec: Spec, locale: str, progress: Progress = _noop
) -> bytes:
    summary = PdfSummary(locale)
    async with payout_reports.session(rt, org_id) as s:
        org = await s.organization()
        headers = await spec.headers(s)
        async with contextlib.aclosing(spec.lines(s)) as chunks:
            async for chunk in chunks:
                summary.lines(chunk)
                await progress(len(chunk))
    pdf: bytes = await anyio.to_thread.run_sync(
        lambda: summary.render(spec.title, org.name, headers, spec.period)
    )
    return pdf


def fec_chunks(
    rt: Runtime, org_id: UUID, org: Organization, start: date, end: date, sep: str, locale: str,
    progress: Progress = _noop,
) -> AsyncGenerator[bytes, None]:  # fmt: skip
    """ISO-8859-15 pieces of the FEC of ``start``..``end``: movements in time order, then
    one bank entry per payout arrived in the range. Raises ``ValueError`` at once for a bad
    separator."""
    writer = fec.FecWriter(org.chart, sep, locale)

    def encode(text: str) -> bytes:
        return text.encode(fec.ENCODING, "replace")

    async def body() -> AsyncGenerator[bytes, None]:
        yield encode(writer.header())
        async with payout_reports.session(rt, org_id) as s:
            lines = s.lines(line_start=start, line_end=end, order="time")
            async with contextlib.aclosing(lines) as chunks:
                async for chunk in chunks:
                    yield encode(writer.movements(chunk, end))
                    await progress(len(chunk))
            yield encode(writer.transfers(await s.headers(start=start, end=end)))

    return body()


async def count_fec(rt: Runtime, org_id: UUID, start: date, end: date) -> int:
    """How many movements the FEC of ``start``..``end`` posts (an export's progress)."""
    async with payout_reports.session(rt, org_id) as s:
        return await exports_db.count_lines(s.conn, org_id, line_start=start, line_end=end)
