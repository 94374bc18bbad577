"""Outbox tasks of the back-office accounts."""

from __future__ import annotations

from typing import Any

from donate.jobs.tasks import task
from donate.services import accounts_mail
from donate.services.runtime import Runtime


@task("account.email")
async def account_email(rt: Runtime, payload: dict[str, Any]) -> None:
    """Verification, password reset or invitation e-mail; raises to be retried."""
    await accounts_mail.send_account_email(rt, payload)
