"""GET /metrics: request latency by route template, the outbox and webhook backlog read
from PostgreSQL at scrape time, what the worker did (same process in tests), the token."""

from __future__ import annotations

import dataclasses

import httpx
from arq.connections import ArqRedis
from pydantic import SecretStr

from donate.bootstrap import build_runtime
from donate.web.app import create_app
from donate.web.openapi import build_document
from tests.support.platform import Platform, donor
from tests.support.server import serve

from .helpers import has, label_values, scrape, value

LATENCY = "donate_http_request_duration_seconds_count"
PAGE_ROUTE = "/c/{org_slug}/{campaign_slug}"


def _campaign_slug(pf: Platform) -> str:
    return str(pf.seeded["campaigns"][0]["slug"])


async def test_request_latency_is_labelled_by_route_template_not_path(pf: Platform) -> None:
    slug = _campaign_slug(pf)
    labels = {"method": "GET", "route": PAGE_ROUTE, "status_class": "2xx"}
    before = await scrape(pf.app)
    r = await pf.app.get(f"/c/{pf.org}/{slug}")
    assert r.status_code == 200
    assert (await pf.app.get(f"/c/{pf.org}/no-such-campaign")).status_code == 404
    assert (await pf.app.get("/no/such/page")).status_code == 404
    after = await scrape(pf.app)

    assert value(after, LATENCY, **labels) - value(before, LATENCY, **labels) == 1
    missing = {"method": "GET", "route": PAGE_ROUTE, "status_class": "4xx"}
    assert value(after, LATENCY, **missing) - value(before, LATENCY, **missing) == 1
    nowhere = {"method": "GET", "route": "unmatched", "status_class": "4xx"}
    assert value(after, LATENCY, **nowhere) - value(before, LATENCY, **nowhere) == 1
    routes = label_values(after, LATENCY, "route")
    assert "/metrics" in routes  # the scrape itself
    assert not any(slug in route or pf.org in route for route in routes), routes
    # A histogram: the time went into buckets, and the sum is a positive duration.
    sums = "donate_http_request_duration_seconds_sum"
    assert value(after, sums, **labels) > value(before, sums, **labels)
    inf = "donate_http_request_duration_seconds_bucket"
    assert value(after, inf, **labels, le="+Inf") == value(after, LATENCY, **labels)


async def test_metrics_is_not_part_of_the_public_api(pf: Platform) -> None:
    assert not any("metrics" in path for path in build_document()["paths"])
    r = await pf.app.get("/openapi.json")
    assert r.status_code == 200 and "/metrics" not in r.json()["paths"]
    # Process metrics come with it (memory per worker is a target of issue 9).
    assert has(await scrape(pf.app), "process_resident_memory_bytes")


async def test_backlog_webhook_lag_jobs_and_receipts_follow_a_real_gift(
    pf: Platform, redis: ArqRedis
) -> None:
    start = await scrape(pf.app)
    assert value(start, "donate_metrics_database_up") == 1

    co = await pf.checkout("stripe", 3100, donor=donor(email="metrics@example.org"))
    await pf.settle(co.checkout_id, "paid")
    await pf.deliver()  # the webhooks are stored; nothing has processed them yet
    waiting = await scrape(pf.app)
    webhook_rows = value(
        waiting, "donate_outbox_depth", status="pending", task="provider_event.process"
    )
    assert webhook_rows >= 1
    assert value(waiting, "donate_webhook_lag_seconds") > 0
    assert value(waiting, "donate_outbox_oldest_age_seconds", task="provider_event.process") > 0
    assert value(waiting, "donate_outbox_due_lag_seconds") > 0
    # The checkout's expiry check waits in the outbox, not due yet.
    assert value(waiting, "donate_outbox_depth", status="pending", task="donation.refresh") >= 1

    await pf.process(redis)
    assert await pf.status(co.donation_id) == "paid"
    done = await scrape(pf.app)
    assert not has(done, "donate_outbox_depth", status="pending", task="provider_event.process")
    assert value(done, "donate_webhook_lag_seconds") == 0
    assert value(done, "donate_outbox_due_lag_seconds") == 0

    def delta(name: str, **labels: str) -> float:
        return value(done, name, **labels) - value(start, name, **labels)

    jobs = "donate_outbox_jobs_total"
    assert delta(jobs, task="provider_event.process", outcome="done") >= webhook_rows
    assert delta(jobs, task="donation.status_changed", outcome="done") >= 1
    assert delta("donate_worker_jobs_total", function="run_outbox", outcome="ok") >= 3
    delay = "donate_webhook_processing_delay_seconds_count"
    assert delta(delay, provider="stripe") >= webhook_rows
    async with pf.runtime.pool.acquire() as conn:
        receipts = await conn.fetchval(
            "SELECT count(*) FROM receipt_donations WHERE donation_id = $1::uuid", co.donation_id
        )
    assert receipts == 1
    assert delta("donate_receipts_issued_total", kind="single") == 1
    assert delta("donate_receipts_canceled_total") == 0

    # A partial refund cancels the receipt and issues its replacement.
    r = await pf.app.post(
        f"/api/v1/orgs/{pf.org}/donations/{co.donation_id}/refund",
        json={"amount_minor": 1000}, headers=pf.auth(),
    )  # fmt: skip
    assert r.status_code in (200, 201, 202), r.text
    await pf.deliver_and_process(redis)
    refunded = await scrape(pf.app)
    assert (
        value(refunded, "donate_receipts_canceled_total")
        - value(done, "donate_receipts_canceled_total")
        == 1
    )
    issued = "donate_receipts_issued_total"
    assert value(refunded, issued, kind="single") - value(done, issued, kind="single") == 1


async def test_token_protects_metrics(pf: Platform) -> None:
    settings = pf.runtime.settings.model_copy(update={"metrics_token": SecretStr("scrape-me")})
    runtime = dataclasses.replace(pf.runtime, settings=settings)
    async with (
        serve(create_app(settings, runtime=runtime)) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        r = await client.get("/metrics")
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert "donate_" not in r.text
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer scrape-you"})
        assert wrong.status_code == 401
        basic = await client.get("/metrics", headers={"Authorization": "Basic scrape-me"})
        assert basic.status_code == 401
        ok = await scrape(client, headers={"Authorization": "Bearer scrape-me"})
        assert value(ok, "donate_metrics_database_up") == 1
        # The rest of the app does not ask for it.
        assert (await client.get("/healthz")).status_code == 200


async def test_metrics_answer_while_the_database_is_down(pf: Platform) -> None:
    runtime = await build_runtime(pf.runtime.settings, pool_min=0)
    await runtime.pool.close()
    async with (
        serve(create_app(pf.runtime.settings, runtime=runtime)) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        samples = await scrape(client)
    assert value(samples, "donate_metrics_database_up") == 0
    assert not has(samples, "donate_webhook_lag_seconds")
    assert has(samples, "process_resident_memory_bytes")
