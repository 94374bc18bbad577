"""Helpers of the report export tests: a synced payout with many lines, the streamed
report's table, and the exports API as a finance key sees it."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from arq.connections import ArqRedis

from tests.backoffice_pages.helpers import paid_gift
from tests.support.platform import Platform

STRIPE_ACCT = "acct_sandboxAssoc1"
_TODAY = datetime.now(UTC).date()
WINDOW = {
    "from": (_TODAY - timedelta(days=365)).isoformat(),
    "to": (_TODAY + timedelta(days=365)).isoformat(),
}


async def value(pf: Platform, sql: str, *args: Any) -> Any:
    async with pf.runtime.pool.acquire() as conn:
        return await conn.fetchval(sql, *args)


async def payout_with_lines(pf: Platform, charges: int) -> dict[str, Any]:
    """Two gifts through the checkout, ``charges`` charges made outside the platform, one
    Stripe payout of them all (synced), then one more gift left in transit."""
    redis = ArqRedis.from_url(pf.redis_url)
    try:
        gifts = [
            await paid_gift(pf, redis, f"export-{uuid.uuid4().hex[:6]}@example.org", amount)
            for amount in (2500, 4000)
        ]
        if charges:
            r = await pf.sandbox.post(
                "/control/bulk-charges",
                json={"account": STRIPE_ACCT, "count": charges, "amount_minor": 1000},
            )
            assert r.status_code == 200, r.text
        r = await pf.sandbox.post(
            "/control/payout", json={"provider": "stripe", "account": STRIPE_ACCT}
        )
        assert r.status_code == 200, r.text
        [sent] = r.json()["payouts"]
        await pf.deliver_and_process(redis)
        payout_id = await value(
            pf, "SELECT id::text FROM payouts WHERE provider_payout_id = $1", sent["id"]
        )
        assert payout_id is not None
        in_transit = await paid_gift(pf, redis, "in-transit@example.org", 1234)
    finally:
        await redis.aclose()
    return {"payout_id": payout_id, "gifts": gifts, "in_transit": in_transit, "sent": sent}


def table(content: bytes, sep: str = ",") -> list[dict[str, str]]:
    """The movement table of a CSV report."""
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=sep))
    start = next(i for i, row in enumerate(rows) if row and row[0] == "Date")
    out = []
    for row in rows[start + 1 :]:
        if not row:
            break
        out.append(dict(zip(rows[start], row, strict=True)))
    return out


class Exports:
    """The exports API of one association, as one API key uses it."""

    def __init__(self, pf: Platform, org: str | None = None, key: str | None = None) -> None:
        self.pf, self.org, self.key = pf, org or pf.org, key
        self.base = f"/api/v1/orgs/{self.org}/reports/exports"

    async def request(self, body: dict[str, Any], status: int = 202) -> dict[str, Any]:
        r = await self.pf.app.post(self.base, json=body, headers=self.pf.auth(self.key))
        assert r.status_code == status, r.text
        data: dict[str, Any] = r.json()
        return data

    async def get(self, export_id: str) -> dict[str, Any]:
        r = await self.pf.app.get(f"{self.base}/{export_id}", headers=self.pf.auth(self.key))
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    async def download(self, export_id: str) -> httpx.Response:
        return await self.pf.app.get(
            f"{self.base}/{export_id}/download", headers=self.pf.auth(self.key)
        )

    async def streamed(self, path: str, params: dict[str, str]) -> httpx.Response:
        """The same report from its streaming route."""
        r = await self.pf.app.get(
            f"/api/v1/orgs/{self.org}/{path}", params=params, headers=self.pf.auth(self.key)
        )
        assert r.status_code == 200, r.text
        return r
