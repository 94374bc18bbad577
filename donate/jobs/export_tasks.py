"""Report exports: the outbox task that builds one (long-running), and the crons that
restart stalled exports and delete expired files."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from donate.jobs.tasks import task
from donate.services import report_exports
from donate.services.runtime import Runtime


@task(report_exports.TASK, long_running=True)
async def build_export(rt: Runtime, payload: dict[str, Any]) -> None:
    """Generate the export's file into its chunks (idempotent: a second run does nothing
    while the first is alive or done; a failure is recorded on the export)."""
    await report_exports.run(rt, UUID(payload["export_id"]))


async def restart_stalled_cron(ctx: dict[str, Any]) -> int:
    """arq cron: exports whose run died are queued again (or failed after a few runs)."""
    return await report_exports.restart_stalled(ctx["runtime"])


async def purge_expired_cron(ctx: dict[str, Any]) -> int:
    """arq cron, daily: files past their retention are deleted."""
    return await report_exports.purge_expired(ctx["runtime"])
