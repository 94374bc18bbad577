"""Recurring plans in the back-office: plans per status, monthly recurring revenue, one plan
with its payments and history, canceling on the donor's request.

Contract: scoped by ``org_id`` (another association's plan raises ``NotFound``). The figures
come from the same queries as the association API (``db.recurring``), so the page and
``/recurring-plans/summary`` agree. Canceling goes through ``recurring_manage.cancel`` (the
provider is asked, then the plan converges on its answer) and never refunds anything; it
raises ``Conflict`` (the plan has not started) or ``ProviderDown``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from donate.db import audit_log
from donate.db import recurring as recurring_db
from donate.db import recurring_admin as lookups
from donate.db.recurring import PLAN_STATUSES, PlanRow
from donate.services import recurring_manage
from donate.services.errors import InvalidRequest, NotFound
from donate.services.recurring import Synced
from donate.services.runtime import Runtime

# Shown first: what the association watches. "pending" plans never had a first payment.
SHOWN_STATUSES = ("active", "failing", "lapsed", "paused", "canceled", "pending")
# Active plans collect every cycle; failing ones are still being retried (at risk).
MRR_STATUSES = ("active",)
PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class Summary:
    currency: str
    mrr_minor: int  # in the association's currency
    at_risk_minor: int  # monthly value of the failing plans
    counts: dict[str, int]
    by_currency: list[tuple[str, int, int]]  # (currency, mrr, at risk) of every plan currency

    @property
    def other_currencies(self) -> list[tuple[str, int, int]]:
        return [c for c in self.by_currency if c[0] != self.currency]


async def summary(rt: Runtime, org_id: UUID) -> Summary:
    """Plans per status, and the monthly value of the active ones (a yearly plan counts a
    twelfth of its amount; tips and covered fees are not the association's revenue)."""
    async with rt.pool.acquire() as conn:
        rows = await recurring_db.status_counts(conn, org_id)
        currency = await lookups.org_currency(conn, org_id)
    counts = dict.fromkeys(PLAN_STATUSES, 0)
    by_currency: dict[str, list[int]] = {}
    for r in rows:
        counts[r["status"]] += r["n"]
        money = by_currency.setdefault(r["currency"], [0, 0])
        if r["status"] in MRR_STATUSES:
            money[0] += r["monthly_minor"]
        elif r["status"] == "failing":
            money[1] += r["monthly_minor"]
    main = by_currency.get(currency, [0, 0])
    every = [(c, m[0], m[1]) for c, m in sorted(by_currency.items())]
    return Summary(currency, main[0], main[1], counts, every)


def _cursor(raw: str) -> tuple[datetime, UUID] | None:
    """A damaged page link shows the first page."""
    at, _, ident = raw.partition("|")
    try:
        return (datetime.fromisoformat(at), UUID(ident)) if at and ident else None
    except ValueError:
        return None


async def plans(
    rt: Runtime, org_id: UUID, status: str | None, cursor: str = "", *, limit: int = PAGE_SIZE
) -> tuple[list[dict[str, Any]], str | None]:
    """Plans newest first, with their donor and campaign; the cursor of the next page."""
    if status is not None and status not in PLAN_STATUSES:
        raise InvalidRequest({"status": "Choose a status from the list."})
    before = _cursor(cursor)
    async with rt.pool.acquire() as conn:
        found = await recurring_db.list_plans(
            conn, org_id, status=status, limit=limit + 1, before=before
        )
        shown = found[:limit]
        donors = await lookups.donors(conn, org_id, list({p.donor_id for p in shown}))
        titles = await lookups.campaign_titles(conn, org_id, list({p.campaign_id for p in shown}))
    last = found[limit - 1] if len(found) > limit else None
    items = [
        {"plan": p, "donor": donors.get(p.donor_id), "campaign_title": titles.get(p.campaign_id)}
        for p in shown
    ]
    return items, (f"{last.created_at.isoformat()}|{last.id}" if last else None)


async def plan_detail(rt: Runtime, org_id: UUID, plan_id: UUID) -> dict[str, Any]:
    """The plan, its donor, every cycle (first payment and renewals) and its history."""
    async with rt.pool.acquire() as conn:
        plan = await recurring_db.get_plan(conn, plan_id, org_id=org_id)
        if plan is None:
            raise NotFound("No such recurring plan.")
        cycles = await recurring_db.cycles(conn, plan.id)
        history = await recurring_db.history(conn, plan.id)
        donors = await lookups.donors(conn, org_id, [plan.donor_id])
        titles = await lookups.campaign_titles(conn, org_id, [plan.campaign_id])
    return {
        "plan": plan,
        "donor": donors.get(plan.donor_id),
        "campaign_title": titles.get(plan.campaign_id, ""),
        "cycles": cycles,
        "history": history,
        "collected_minor": sum(c["counted_minor"] for c in cycles),
    }


async def cancel(
    rt: Runtime, org_id: UUID, plan_id: UUID, actor: str, data: dict[str, Any]
) -> Synced:
    """Cancel on the donor's request: no further payment, nothing already paid refunded.
    ``data`` (e.g. the client's IP) goes to the audit log with the plan's status change."""
    plan: PlanRow = await recurring_manage.plan_for_org(rt, plan_id, org_id)
    synced = await recurring_manage.cancel(rt, plan, source=recurring_manage.ASSOCIATION)
    if plan.status == "canceled":
        return synced  # nothing was done: nothing to record
    async with rt.pool.acquire() as conn:
        await audit_log.record(
            conn, org_id, actor, "recurring_plan.canceled", "recurring_plan", str(plan_id),
            {**data, "from": synced.old_status, "to": synced.new_status},
        )  # fmt: skip
    return synced
