"""The association's dashboard: read-only, one connection, scoped by the association."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from donate.db import dashboard as db
from donate.services.runtime import Runtime

ORG_TZ = ZoneInfo("Europe/Paris")
CHART_DAYS = 30


@dataclass(frozen=True, slots=True)
class DayPoint:
    day: date
    total_minor: int
    gifts: int


@dataclass(frozen=True, slots=True)
class Dashboard:
    currency: str
    campaigns: list[dict[str, Any]]
    series: list[DayPoint]  # one point per day of the chart, days without gifts included
    recent: list[dict[str, Any]]
    failed_emails: list[dict[str, Any]]
    unmatched_lines: list[dict[str, Any]]


def fill_days(rows: list[dict[str, Any]], currency: str, first: date, days: int) -> list[DayPoint]:
    """One point per day from ``first`` (zero where nothing was given), in ``currency``."""
    by_day = {r["day"]: r for r in rows if str(r["currency"]).strip() == currency}
    out = []
    for i in range(days):
        day = first + timedelta(days=i)
        row = by_day.get(day)
        out.append(DayPoint(day, int(row["total"]) if row else 0, int(row["gifts"]) if row else 0))
    return out


async def load(
    rt: Runtime, org_id: UUID, *, currency: str, now: datetime | None = None,
    days: int = CHART_DAYS,
) -> Dashboard:  # fmt: skip
    now = now or datetime.now(UTC)
    today = now.astimezone(ORG_TZ).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, time.min, ORG_TZ)
    end = datetime.combine(today + timedelta(days=1), time.min, ORG_TZ)
    async with rt.pool.acquire() as conn:
        campaigns = await db.campaign_totals(conn, org_id)
        per_day = await db.gifts_per_day(conn, org_id, start, end, str(ORG_TZ))
        recent = await db.recent_donations(conn, org_id)
        failed = await db.failed_receipt_emails(conn, org_id)
        unmatched = await db.unmatched_payout_lines(conn, org_id)
    return Dashboard(
        currency, campaigns, fill_days(per_day, currency, first, days), recent, failed, unmatched
    )
