"""Outbox tasks and crons of recurring gifts, registered in ``TASKS`` / the worker."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from donate.jobs.tasks import task
from donate.services import recurring, recurring_mail, recurring_reminders
from donate.services.runtime import Runtime

log = logging.getLogger(__name__)


@task("recurring.activate")
async def activate_plan(rt: Runtime, payload: dict[str, Any]) -> None:
    """A plan's first payment changed: start (Mollie) or find (Stripe) its subscription."""
    synced = await recurring.activate(rt, UUID(payload["donation_id"]))
    log.info("plan of donation %s: %s", payload["donation_id"], synced.describe())


@task("recurring.sync")
async def sync_plan(rt: Runtime, payload: dict[str, Any]) -> None:
    """Converge one plan on its provider subscription (idempotent)."""
    await recurring.sync_plan(rt, UUID(payload["plan_id"]), source="reconcile")


@task(recurring.NOTICE_TASK)
async def send_notice(rt: Runtime, payload: dict[str, Any]) -> None:
    """E-mail the donor about their plan (dunning, lapse, SEPA debit, card expiry), once."""
    await recurring_mail.send_notice(
        rt, UUID(payload["plan_id"]), payload["kind"], payload["cycle_key"]
    )


@task("donor.login_link")
async def send_login_link(rt: Runtime, payload: dict[str, Any]) -> None:
    """The donor space's sign-in link; a link already expired is not sent any more."""
    expires = datetime.fromisoformat(payload["expires_at"])
    if expires <= datetime.now(UTC):
        return
    await recurring_mail.send_login_link(rt, payload["email"], expires, payload.get("lang", "fr"))


async def reconcile_plans_cron(ctx: dict[str, Any]) -> int:
    """Hourly: queue a sync of live plans not heard of for a day or past their charge date."""
    return await recurring_reminders.queue_stale_syncs(ctx["runtime"])


async def reminders_cron(ctx: dict[str, Any]) -> dict[str, int]:
    """Daily: SEPA pre-notifications and card expiry reminders, each once (outbox)."""
    return await recurring_reminders.queue_reminders(ctx["runtime"])
