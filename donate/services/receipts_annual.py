"""Annual summary receipts: one per donor and tax year, for the gifts no receipt covers yet.

Usual for monthly donors and for associations that receipt once a year, issued in January
once no payment of the year can still bounce, or on demand. A gift already covered by a
live receipt (single or annual) is never covered again: the unique live link per gift makes
that a database rule, and the gifts are row-locked before they are looked at a second time.
Each donor is one transaction, so a run killed halfway is simply run again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from donate.db import outbox
from donate.db import receipts as receipts_db
from donate.metrics import RECEIPTS_ISSUED
from donate.receipts.numbering import RECEIPT_TZ, local_date_of
from donate.receipts.snapshot import Period
from donate.services.errors import InvalidRequest, NotFound
from donate.services.receipts import issue
from donate.services.runtime import Runtime

Progress = Callable[[int, int], None]  # (donors done, donors to do when the run started)


@dataclass(frozen=True, slots=True)
class AnnualRun:
    year: int
    donors: int  # donors looked at
    issued: int  # receipts issued
    more: bool  # stopped at max_donors with donors left
    last_donor: UUID | None


def check_year(year: int, now: datetime) -> None:
    if not 2000 <= year <= local_date_of(now).year:
        raise InvalidRequest({"year": "a past or the current year"})


async def issue_annual(
    rt: Runtime,
    org_id: UUID,
    year: int,
    *,
    now: datetime | None = None,
    after: UUID | None = None,
    max_donors: int | None = None,
    progress: Progress | None = None,
) -> AnnualRun:
    """Issue the annual receipts of ``year`` for the association, donor by donor (ordered
    by id, starting after ``after``). Raises InvalidRequest for a future year."""
    now = now or datetime.now(UTC)
    check_year(year, now)
    tz = ZoneInfo(RECEIPT_TZ)
    start, end = datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz)
    # The period printed ends with the year, or today for a year still running.
    period = Period(date(year, 1, 1), min(date(year, 12, 31), local_date_of(now)))
    donors = issued = 0
    async with rt.pool.acquire() as conn:
        org = await receipts_db.organization(conn, org_id)
        if org is None:
            raise NotFound("No such association.")
        total = await receipts_db.annual_donor_count(conn, org_id, start, end, after=after)
        while max_donors is None or donors < max_donors:
            batch = await receipts_db.annual_donors(
                conn, org_id, start, end, after=after, limit=100
            )
            if not batch:
                return AnnualRun(year, donors, issued, False, after)
            for donor_id in batch:
                async with conn.transaction():
                    ids = await receipts_db.annual_gifts(conn, org_id, donor_id, start, end)
                    await receipts_db.lock_donations(conn, ids)
                    # Looked at again under the locks: a per-gift receipt may have won the race.
                    ids = await receipts_db.annual_gifts(conn, org_id, donor_id, start, end)
                    gifts = await receipts_db.gifts(conn, ids)
                    amounts = {g.id: g.receiptable_minor for g in gifts if g.receiptable_minor}
                    gifts = [g for g in gifts if g.id in amounts]
                    receipt = None
                    if gifts:
                        receipt = await issue(
                            conn, org, gifts, amounts, kind="annual", fiscal_year=year,
                            now=now, period=period,
                        )  # fmt: skip
                if receipt is not None:
                    RECEIPTS_ISSUED.labels("annual").inc()  # committed
                    issued += 1
                donors += 1
                after = donor_id
                if progress is not None:
                    progress(donors, total)
                if max_donors is not None and donors >= max_donors:
                    break
    return AnnualRun(year, donors, issued, True, after)


async def org_id_of(rt: Runtime, slug: str) -> UUID:
    async with rt.pool.acquire() as conn:
        org_id = await receipts_db.org_id_by_slug(conn, slug)
    if org_id is None:
        raise NotFound(f"No association {slug!r}.")
    return org_id


async def queue_annual(
    rt: Runtime, org_id: UUID, year: int, *, dedup_key: str | None = None
) -> bool:
    """Ask the worker to issue the annual receipts (the API's and January cron's way)."""
    check_year(year, datetime.now(UTC))
    async with rt.pool.acquire() as conn:
        row_id = await outbox.add(
            conn,
            "receipts.annual",
            {"organization_id": str(org_id), "year": year},
            organization_id=org_id,
            dedup_key=dedup_key,
        )
    return row_id is not None


async def queue_january_run(rt: Runtime, now: datetime | None = None) -> int:
    """The January cron: last year's annual receipts for every association, once each."""
    now = now or datetime.now(UTC)
    year = local_date_of(now).year - 1
    async with rt.pool.acquire() as conn:
        org_ids = await receipts_db.orgs_with_receipts(conn)
    queued = 0
    for org_id in org_ids:
        queued += await queue_annual(
            rt, org_id, year, dedup_key=f"receipts:annual:{org_id}:{year}:january"
        )
    return queued
