"""Recurring gifts in the back-office: the figures the API gives, a plan's payments and
history, and canceling it on the donor's request through the sandbox (never a refund)."""

from __future__ import annotations

import re

from arq.connections import ArqRedis

from donate.services import recurring_admin
from tests.backoffice_more.helpers import monthly_plan, value
from tests.recurring.helpers import plan, renew_and_process, start_plan
from tests.support.backoffice import member_client
from tests.support.platform import Platform

NBSP = "\u00a0"


def _figure(html: str, ident: str) -> str:
    found = re.search(rf'id="{ident}">([^<]*)<', html)
    assert found, ident
    return found.group(1)


def _count(html: str, status: str) -> int:
    found = re.search(rf'data-status="{status}">(\d+)<', html)
    assert found, status
    return int(found.group(1))


async def test_summary_matches_the_api_and_lists_filter_by_status(
    pf: Platform, redis: ArqRedis
) -> None:
    monthly = await monthly_plan(pf, redis, 1500)
    _, yearly = await start_plan(pf, redis, "mollie", 12000, email="y-bo@recurring.example",
                                 frequency="yearly")  # fmt: skip
    failing = await monthly_plan(pf, redis, 500)
    await renew_and_process(pf, redis, failing["provider_subscription_id"], "failed")
    api = (await pf.app.get(f"/api/v1/orgs/{pf.org}/recurring-plans/summary",
                            headers=pf.auth())).json()  # fmt: skip
    finance = await member_client(pf, pf.org, "finance")
    page = await finance.get(f"/admin/{pf.org}/recurring")
    assert page.status_code == 200
    # Same figures as the API, shown in French.
    assert api["mrr_minor"] >= 1500 + 12000 // 12 and api["at_risk_mrr_minor"] >= 500
    euros = f"{api['mrr_minor'] // 100},{api['mrr_minor'] % 100:02d}{NBSP}€"
    assert _figure(page.text, "mrr").replace("\u202f", "") == euros
    risk = api["at_risk_mrr_minor"]
    assert _figure(page.text, "mrr-at-risk") == f"{risk // 100},{risk % 100:02d}{NBSP}€"
    for status in ("active", "failing", "lapsed", "paused", "canceled"):
        assert _count(page.text, status) == api["counts"][status], status
    assert api["counts"]["failing"] >= 1
    org_id = await value(pf, "SELECT id FROM organizations WHERE slug = $1", pf.org)
    s = await recurring_admin.summary(pf.runtime, org_id)
    assert (s.mrr_minor, s.at_risk_minor) == (api["mrr_minor"], api["at_risk_mrr_minor"])
    for p in (monthly, yearly, failing):
        assert p["id"] in page.text
    # Filtered by status.
    r = await finance.get(f"/admin/{pf.org}/recurring", params={"status": "failing"})
    assert failing["id"] in r.text and monthly["id"] not in r.text
    r = await finance.get(f"/admin/{pf.org}/recurring", params={"status": "nonsense"})
    assert r.status_code == 200 and "error-summary" in r.text and monthly["id"] in r.text
    r = await finance.get(f"/admin/{pf.org}/recurring", params={"after": "damaged|link"})
    assert r.status_code == 200 and failing["id"] in r.text  # the first page again
    # Keyset pages: newest first, nothing twice, nothing lost.
    first, cursor = await recurring_admin.plans(pf.runtime, org_id, None, limit=2)
    assert cursor is not None
    rest, _ = await recurring_admin.plans(pf.runtime, org_id, None, cursor, limit=100)
    ids = [str(x["plan"].id) for x in first + rest]
    assert len(ids) == len(set(ids)) == sum(api["counts"].values())
    assert ids[:3] == [failing["id"], yearly["id"], monthly["id"]]


async def test_plan_detail_shows_its_payments_and_history(pf: Platform, redis: ArqRedis) -> None:
    p = await monthly_plan(pf, redis, 2000)
    await renew_and_process(pf, redis, p["provider_subscription_id"], "paid")
    api = await plan(pf, p["id"])
    assert len(api["donations"]) == 2
    admin = await member_client(pf, pf.org, "admin")
    r = await admin.get(f"/admin/{pf.org}/recurring/{p['id']}")
    assert r.status_code == 200
    for d in api["donations"]:
        assert d["id"] in r.text and d["provider_payment_id"] in r.text
    collected = api["collected_minor"]
    assert _figure(r.text, "collected") == f"{collected // 100},{collected % 100:02d}{NBSP}€"
    assert r.text.count("<td>Actif</td>") >= 1  # history: pending → active
    assert p["provider_subscription_id"] in r.text
    assert 'name="confirm"' in r.text  # the cancel form, for a live plan


async def test_cancel_on_the_donors_request_reaches_the_sandbox(
    pf: Platform, redis: ArqRedis
) -> None:
    p = await monthly_plan(pf, redis, 1500)
    finance = await member_client(pf, pf.org, "finance")
    page = f"/admin/{pf.org}/recurring/{p['id']}"
    # Without the confirmation nothing happens.
    r = await finance.submit(page, f"{page}/cancel", {})
    assert r.status_code == 400 and 'id="confirm-error"' in r.text
    assert (await plan(pf, p["id"]))["status"] == "active"
    r = await finance.submit(page, f"{page}/cancel", {"confirm": "yes"})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=canceled")
    await pf.deliver_and_process(redis)
    after = await plan(pf, p["id"])
    assert (after["status"], after["ended_by"]) == ("canceled", "association")
    # The provider's subscription is over: its next cycle is refused by the sandbox.
    refused = await pf.sandbox.post("/control/renew", json={
        "subscription_id": p["provider_subscription_id"], "outcome": "paid"})  # fmt: skip
    assert refused.status_code != 200
    # Nothing already paid was refunded.
    first = after["donations"][0]
    assert first["status"] == "paid" and await pf.status(first["id"]) == "paid"
    [payment] = [x for x in (await pf.ledger())["payments"]
                 if x.get("metadata", {}).get("donation_id") == first["id"]]  # fmt: skip
    assert payment["refunded_minor"] == 0
    shown = await finance.get(page)
    assert "Le don régulier est arrêté" not in shown.text  # the notice is for the redirect only
    assert "(par l'association)" in shown.text and 'name="confirm"' not in shown.text
    # Who did it, from where.
    audit = await value(pf, "SELECT data FROM audit_log WHERE action = 'recurring_plan.canceled' "
                            "AND target_id = $1", p["id"])  # fmt: skip
    assert audit["to"] == "canceled" and audit["via"] == "backoffice" and audit["ip"]
    # Canceling again is harmless.
    r = await finance.submit(page, f"{page}/cancel", {"confirm": "yes"})
    assert r.status_code == 303


async def test_a_plan_that_has_not_started_cannot_be_canceled(
    pf: Platform, redis: ArqRedis
) -> None:
    co = await pf.checkout("stripe", 1200, frequency="monthly")
    plan_id = await value(pf, "SELECT id FROM recurring_plans WHERE first_donation_id = $1::uuid",
                          co.donation_id)  # fmt: skip
    admin = await member_client(pf, pf.org, "admin")
    page = f"/admin/{pf.org}/recurring/{plan_id}"
    r = await admin.get(page)
    assert r.status_code == 200 and 'name="confirm"' not in r.text
    r = await admin.submit(page, f"{page}/cancel", {"confirm": "yes"})
    assert r.status_code == 409 and "pas encore commencé" in r.text
    assert await value(pf, "SELECT status FROM recurring_plans WHERE id = $1", plan_id) == "pending"
