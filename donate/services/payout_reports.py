"""Reading payout reports: one read-only, repeatable-read transaction per report, so the
header's check, the movements and the totals all come from the same snapshot even while a
sync writes.

Raises ``NotFound`` for a payout that does not exist or belongs to another association.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal
from uuid import UUID

from donate.db import payout_reports as reports_db
from donate.db import payouts as payouts_db
from donate.db.types import Conn
from donate.domain.payouts import ChartOfAccounts, PayoutHeader, ReportLine, Totals
from donate.services.errors import NotFound
from donate.services.runtime import Runtime

_CANCEL_WAIT_S = 5.0  # for a pool connection to stop a COPY nobody reads any more


@dataclass(frozen=True, slots=True)
class Organization:
    name: str
    siren: str | None  # else RNA
    chart: ChartOfAccounts


class ReportSession:
    """Queries of one report, on one snapshot."""

    def __init__(self, conn: Conn, org_id: UUID, cancel: reports_db.Cancel | None = None) -> None:
        self.conn = conn
        self.org_id = org_id
        self._cancel = cancel

    async def organization(self) -> Organization:
        name, ident, chart = await reports_db.accounting_settings(self.conn, self.org_id)
        return Organization(name, ident, ChartOfAccounts.from_mapping(chart))

    async def headers(
        self,
        *,
        payout_id: UUID | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> list[PayoutHeader]:
        return await reports_db.payout_headers(
            self.conn, self.org_id, payout_id=payout_id, start=start, end=end
        )

    def lines(
        self,
        *,
        payout_id: UUID | None = None,
        payout_start: date | None = None,
        payout_end: date | None = None,
        line_start: date | None = None,
        line_end: date | None = None,
        order: Literal["payout", "time"] = "payout",
    ) -> AsyncGenerator[list[ReportLine], None]:
        return reports_db.iter_lines(
            self.conn, self.org_id, payout_id=payout_id, payout_start=payout_start,
            payout_end=payout_end, line_start=line_start, line_end=line_end, order=order,
        )  # fmt: skip

    def in_transit(
        self, *, start: date | None = None, end: date | None = None
    ) -> AsyncGenerator[list[ReportLine], None]:
        return reports_db.iter_in_transit(self.conn, self.org_id, start=start, end=end)

    # A report PostgreSQL renders (the CSV): the query of ``lines`` / ``in_transit`` with
    # each line's fee split, to wrap and COPY; and the totals, summed by PostgreSQL too.

    def lines_rows(
        self,
        *,
        payout_id: UUID | None = None,
        payout_start: date | None = None,
        payout_end: date | None = None,
    ) -> tuple[str, tuple[Any, ...]]:
        sql, args = reports_db.lines_query(
            self.org_id, payout_id=payout_id, payout_start=payout_start, payout_end=payout_end
        )
        return reports_db.with_fee_split(sql), args

    def in_transit_rows(
        self, *, start: date | None = None, end: date | None = None
    ) -> tuple[str, tuple[Any, ...]]:
        sql, args = reports_db.in_transit_query(self.org_id, start=start, end=end)
        return reports_db.with_fee_split(sql), args

    async def lines_totals(self, payout_ids: Sequence[str]) -> tuple[Totals, Counter[str]]:
        """The totals of the movements of these payouts (``lines`` of their ids)."""
        return await reports_db.totals(self.conn, self.org_id, payout_ids)

    async def in_transit_totals(
        self, *, start: date | None = None, end: date | None = None
    ) -> tuple[Totals, Counter[str]]:
        return await reports_db.in_transit_totals(self.conn, self.org_id, start=start, end=end)

    def copy_csv(
        self, sql: str, args: tuple[Any, ...], delimiter: str
    ) -> AsyncGenerator[bytes, None]:
        return reports_db.copy_csv(self.conn, sql, args, delimiter, self._cancel)


@asynccontextmanager
async def session(rt: Runtime, org_id: UUID) -> AsyncIterator[ReportSession]:
    async with (
        rt.pool.acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        await reports_db.tune_session(conn)

        async def cancel(pid: int) -> None:
            # Best effort, from another connection: without one, the COPY runs to its end.
            async with rt.pool.acquire(timeout=_CANCEL_WAIT_S) as other:
                await reports_db.cancel_backend(other, pid)

        yield ReportSession(conn, org_id, cancel)


async def require_payout(rt: Runtime, org_id: UUID, payout_id: UUID) -> payouts_db.PayoutRow:
    async with rt.pool.acquire() as conn:
        row = await payouts_db.get_payout_row(conn, org_id, payout_id)
    if row is None:
        raise NotFound("no such payout")
    return row


async def organization(rt: Runtime, org_id: UUID) -> Organization:
    async with rt.pool.acquire() as conn:
        return await ReportSession(conn, org_id).organization()


async def list_payouts(
    rt: Runtime, org_id: UUID, *, start: date | None = None, end: date | None = None
) -> list[payouts_db.PayoutRow]:
    async with rt.pool.acquire() as conn:
        return await payouts_db.list_payouts(conn, org_id, start=start, end=end)
