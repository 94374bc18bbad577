"""The association's side: plans by status, monthly recurring revenue, canceling on the
donor's request, and isolation between associations."""

from __future__ import annotations

from arq.connections import ArqRedis

from tests.support.platform import Platform

from .helpers import plan, renew_and_process, start_plan


async def test_plans_summary_cancel_and_tenant_isolation(pf: Platform, redis: ArqRedis) -> None:
    base = f"/api/v1/orgs/{pf.org}/recurring-plans"
    before = (await pf.app.get(f"{base}/summary", headers=pf.auth())).json()
    _, monthly = await start_plan(pf, redis, "stripe", 1500, email="m@recurring.example")
    _, yearly = await start_plan(
        pf, redis, "mollie", 12000, email="y@recurring.example", frequency="yearly"
    )
    _, failing = await start_plan(pf, redis, "stripe", 500, email="f@recurring.example")
    await renew_and_process(pf, redis, failing["provider_subscription_id"], "failed")
    summary = (await pf.app.get(f"{base}/summary", headers=pf.auth())).json()
    assert summary["currency"] == "EUR"
    assert summary["mrr_minor"] - before["mrr_minor"] == 1500 + 12000 // 12
    assert summary["at_risk_mrr_minor"] - before["at_risk_mrr_minor"] == 500
    assert summary["counts"]["active"] - before["counts"]["active"] == 2
    assert summary["counts"]["failing"] - before["counts"]["failing"] == 1

    r = await pf.app.get(base, params={"status": "failing"}, headers=pf.auth())
    assert failing["id"] in [x["id"] for x in r.json()["items"]]
    assert monthly["id"] not in [x["id"] for x in r.json()["items"]]
    r = await pf.app.get(base, params={"status": "gone"}, headers=pf.auth())
    assert r.status_code == 422 and "status" in r.json()["errors"]
    assert yearly["frequency"] == "yearly" and yearly["amount_minor"] == 12000

    # Another association sees none of it, and cannot cancel it.
    other = pf.seeded["other_org"]
    theirs = pf.auth(other["api_key"])
    assert (await pf.app.get(f"{base}/{monthly['id']}", headers=theirs)).status_code == 404
    other_base = f"/api/v1/orgs/{other['org_slug']}/recurring-plans"
    assert (await pf.app.get(f"{other_base}/{monthly['id']}", headers=theirs)).status_code == 404
    r = await pf.app.post(f"{other_base}/{monthly['id']}/cancel", headers=theirs)
    assert r.status_code == 404
    listed = (await pf.app.get(other_base, headers=theirs)).json()["items"]
    assert monthly["id"] not in [x["id"] for x in listed]
    assert (await pf.app.get(f"{other_base}/summary", headers=theirs)).json()["mrr_minor"] == 0
    assert (await plan(pf, monthly["id"]))["status"] == "active"

    r = await pf.app.post(f"{base}/{monthly['id']}/cancel", headers=pf.auth())
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["ended_by"]) == ("canceled", "association")
    again = await pf.app.post(f"{base}/{monthly['id']}/cancel", headers=pf.auth())
    assert again.status_code == 200 and again.json()["status"] == "canceled"
    await pf.deliver_and_process(redis)
    assert (await plan(pf, monthly["id"]))["ended_by"] == "association"
    after = (await pf.app.get(f"{base}/summary", headers=pf.auth())).json()
    assert after["mrr_minor"] == summary["mrr_minor"] - 1500

    donation = (await plan(pf, yearly["id"]))["donations"][0]["id"]
    detail = await pf.app.get(f"/api/v1/orgs/{pf.org}/donations/{donation}", headers=pf.auth())
    assert detail.json()["provider_subscription_id"] == yearly["provider_subscription_id"]


async def test_openapi_documents_the_recurring_routes(pf: Platform) -> None:
    paths = (await pf.app.get("/openapi.json")).json()["paths"]
    for suffix in ("", "/summary", "/{plan_id}", "/{plan_id}/cancel"):
        assert f"/api/v1/orgs/{{org}}/recurring-plans{suffix}" in paths


async def test_checkout_refuses_a_frequency_the_campaign_does_not_take(pf: Platform) -> None:
    crowd = pf.seeded["campaigns"][1]["id"]
    body = pf.checkout_body(2000, campaign_id=crowd, frequency="monthly", provider="stripe")
    r = await pf.app.post("/api/v1/checkouts", json=body)
    assert r.status_code == 422 and "frequency" in r.json()["errors"]
