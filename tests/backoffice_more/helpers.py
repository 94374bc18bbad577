"""Helpers of the finance and integration page tests: a plan, a receipt, an endpoint."""

from __future__ import annotations

import re
import uuid
from typing import Any

from arq.connections import ArqRedis

from tests.backoffice_pages.helpers import paid_gift
from tests.recurring.helpers import start_plan
from tests.support.backoffice import AdminClient
from tests.support.platform import Platform

SECRET = re.compile(r'id="secret" class="secret" readonly value="([^"]+)"')
ENDPOINT = re.compile(r"/webhooks/([0-9a-f-]{36})/")


async def value(pf: Platform, sql: str, *args: Any) -> Any:
    async with pf.runtime.pool.acquire() as conn:
        return await conn.fetchval(sql, *args)


async def rows(pf: Platform, sql: str, *args: Any) -> list[Any]:
    async with pf.runtime.pool.acquire() as conn:
        return list(await conn.fetch(sql, *args))


async def monthly_plan(pf: Platform, redis: ArqRedis, amount: int = 1500) -> dict[str, Any]:
    """A monthly gift through the sandbox checkout, its first payment settled."""
    _co, plan = await start_plan(pf, redis, "stripe", amount,
                                 email=f"m-{uuid.uuid4().hex[:8]}@recurring.example")  # fmt: skip
    assert plan["status"] == "active"
    return plan


async def receipt_of(pf: Platform, redis: ArqRedis, email: str, amount: int = 2500) -> str:
    """A paid one-off gift of the receipt-eligible campaign; its receipt's id."""
    donation_id = await paid_gift(pf, redis, email, amount)
    receipt_id = await value(
        pf, "SELECT receipt_id FROM receipt_donations WHERE donation_id = $1::uuid AND active",
        donation_id,
    )  # fmt: skip
    assert receipt_id is not None
    return str(receipt_id)


async def add_endpoint(
    admin: AdminClient, org: str, url: str, types: tuple[str, ...] = ("donation.paid",)
) -> tuple[str, str]:
    """An endpoint created through the back-office form: (id, secret shown once)."""
    page = f"/admin/{org}/webhooks"
    r = await admin.submit(page, page, {"url": url, "description": "CRM",
                                        "event_types": list(types), "enabled": "on"})  # fmt: skip
    assert r.status_code == 201, r.text[:3000]
    secret, endpoint = SECRET.search(r.text), ENDPOINT.search(r.text)
    assert secret is not None and endpoint is not None
    return endpoint.group(1), secret.group(1)
