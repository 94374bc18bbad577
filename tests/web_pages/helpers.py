"""Helpers of the campaign page and widget tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx

from donate.db import campaign_pages as pages_db
from donate.db import campaigns as campaigns_db
from tests.support.platform import Platform


async def org_id(pf: Platform) -> UUID:
    async with pf.runtime.pool.acquire() as conn:
        found: UUID = await conn.fetchval("SELECT id FROM organizations WHERE slug = $1", pf.org)
    return found


async def add_campaign(pf: Platform, slug: str, **fields: Any) -> str:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "kind": "donation",
        "title": f"Campagne {slug}",
        "story_md": "Une histoire.",
        "currency": "EUR",
        "goal_minor": 100_000,
        "suggested_amounts_minor": [1000, 2500, 5000],
        "frequencies": ["once"],
        "receipt_eligible": True,
        "status": "live",
        "starts_at": now - timedelta(days=10),
        "ends_at": None,
        **fields,
    }
    async with pf.runtime.pool.acquire() as conn:
        campaign_id = await campaigns_db.upsert_campaign(conn, await org_id(pf), slug, values)
    return str(campaign_id)


async def add_update(pf: Platform, campaign_id: str, title: str, body: str) -> None:
    async with pf.runtime.pool.acquire() as conn:
        await pages_db.add_update(
            conn,
            await org_id(pf),
            UUID(campaign_id),
            title,
            body,
            datetime.now(UTC) - timedelta(minutes=1),
        )


async def page_until(
    pf: Platform, path: str, ready: Callable[[httpx.Response], bool], **kw: Any
) -> httpx.Response:
    """GET ``path`` until ``ready`` (public documents may be up to a second stale)."""
    for _ in range(40):
        r = await pf.app.get(path, **kw)
        if ready(r):
            return r
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} never became ready: {r.status_code} {r.text[:2000]}")
