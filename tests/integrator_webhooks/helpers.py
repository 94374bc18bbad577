"""A tiny receiver of integrator webhooks, and helpers to drive deliveries from a test."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from arq.connections import ArqRedis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from donate.services.runtime import Runtime
from tests.support.jobs import drain
from tests.support.platform import Platform

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


@dataclass
class Hit:
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def event(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


@dataclass
class Receiver:
    """Records every POST; answers the next status of ``answers`` (200 once they run out)."""

    url: str = ""
    hits: list[Hit] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            status = self.answers.pop(0) if self.answers else 200
            body = await request.body()
            self.hits.append(Hit(dict(request.headers), body, status))
            return Response("thanks" if status < 300 else "not now", status)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])

    def of_type(self, event_type: str) -> list[Hit]:
        return [h for h in self.hits if h.headers["donate-event-type"] == event_type]


def fast(rt: Runtime, **over: Any) -> Runtime:
    """The same runtime with a retry schedule of a fraction of a second."""
    values: dict[str, Any] = {
        "integrator_webhook_retry_base_s": 0.05,
        "integrator_webhook_retry_max_delay_s": 0.2,
        "integrator_webhook_retry_window_s": 60.0,
        "integrator_webhook_timeout_s": 5.0,
        **over,
    }
    return dataclasses.replace(rt, settings=rt.settings.model_copy(update=values))


async def create_endpoint(
    pf: Platform, url: str, event_types: list[str], key: str | None = None, **extra: Any
) -> dict[str, Any]:
    r = await pf.app.post(
        f"/api/v1/orgs/{extra.pop('org', pf.org)}/webhook-endpoints",
        json={"url": url, "event_types": event_types, **extra},
        headers=pf.auth(key),
    )
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


async def delivery(rt: Runtime, delivery_id: UUID | str) -> dict[str, Any]:
    async with rt.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT * FROM webhook_deliveries WHERE id = $1", UUID(str(delivery_id))
        )
    assert row is not None
    return dict(row)


async def deliveries_of(rt: Runtime, endpoint_id: str) -> list[dict[str, Any]]:
    async with rt.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT * FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY created_at, id",
            UUID(endpoint_id),
        )
    return [dict(r) for r in rows]


async def settle_until_final(
    rt: Runtime, redis: ArqRedis, redis_url: str, endpoint_id: str, rounds: int = 400
) -> list[dict[str, Any]]:
    """Run the outbox (relay + worker) until every delivery of the endpoint is succeeded or
    failed. Retries are due a fraction of a second later (``fast``): poll for them."""
    for _ in range(rounds):
        await drain(rt, redis, redis_url)
        rows = await deliveries_of(rt, endpoint_id)
        if rows and all(r["status"] in ("succeeded", "failed") for r in rows):
            return rows
        await asyncio.sleep(0.02)
    raise AssertionError(f"deliveries still in flight: {await deliveries_of(rt, endpoint_id)}")


def docs_snippet(marker: str) -> str:
    """The code block that follows ``<!-- marker -->`` in docs/webhooks.md."""
    text = DOCS.read_text(encoding="utf-8")
    found = re.search(rf"<!-- {marker} -->\s*```\w+\n(.*?)```", text, re.S)
    assert found, f"no {marker} snippet in {DOCS}"
    return found.group(1)


def python_verifier() -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(docs_snippet("verify-python"), str(DOCS), "exec"), namespace)  # noqa: S102
    return namespace["verify_donate_signature"]
