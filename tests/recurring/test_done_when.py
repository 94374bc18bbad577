"""The issue's "done when": a monthly gift runs 12 cycles with one failure and its recovery,
then the donor changes its amount and cancels it; totals and the annual receipt are right."""

from __future__ import annotations

from datetime import UTC, datetime

from arq.connections import ArqRedis

from tests.support.platform import Platform, SmtpOutbox

from .helpers import csrf_of, plan, renew_and_process, sign_in, start_plan


async def test_a_year_of_monthly_gifts_then_a_change_and_a_cancellation(
    pf: Platform, redis: ArqRedis, smtp_outbox: SmtpOutbox
) -> None:
    email = "year@recurring.example"
    raised0, donors0 = await pf.totals()
    co, p = await start_plan(pf, redis, "stripe", 1500, email=email)
    sub = p["provider_subscription_id"]
    for cycle in range(2, 13):
        if cycle == 6:
            failed = await renew_and_process(pf, redis, sub, "failed")
            failing = await plan(pf, p["id"])
            assert failing["status"] == "failing" and failing["failure_count"] == 1
            [dunning] = [
                m for m in smtp_outbox.messages(to=email) if "pas pu être prélevé" in m["Subject"]
            ]
            text = dunning.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            assert f"/donor/plans/{p['id']}/payment-method?token=" in text
            retry = await renew_and_process(pf, redis, sub, "paid")  # the provider's retry
            assert retry["invoice"] == failed["invoice"]
        else:
            await renew_and_process(pf, redis, sub, "paid")
    year = await plan(pf, p["id"])
    assert year["status"] == "active" and year["failure_count"] == 0
    assert len(year["donations"]) == 12
    assert [d["status"] for d in year["donations"]] == ["paid"] * 12
    assert year["collected_minor"] == 12 * 1500
    raised, donors = await pf.totals()
    assert (raised - raised0, donors - donors0) == (12 * 1500, 12)
    assert raised == await pf.sql_sum_counted()

    # The donor signs in by e-mailed link, raises the gift to 20 €, then cancels it.
    browser = await sign_in(pf, redis, smtp_outbox, email)
    path = f"/donor/plans/{p['id']}"
    r = await browser.post(
        f"{path}/change",
        data={"csrf": await csrf_of(browser, path), "amount": "20", "frequency": "monthly"},
    )
    assert r.status_code == 200 and 'data-notice="changed"' in r.text, r.text
    assert (await plan(pf, p["id"]))["amount_minor"] == 2000
    renewal = await renew_and_process(pf, redis, sub, "paid")
    assert renewal["amount_minor"] == 2000
    r = await browser.post(f"{path}/cancel", data={"csrf": await csrf_of(browser, path)})
    assert r.status_code == 200 and 'data-notice="canceled"' in r.text, r.text
    await pf.deliver_and_process(redis)
    ended = await plan(pf, p["id"])
    assert (ended["status"], ended["ended_by"]) == ("canceled", "donor")
    assert ended["next_charge_date"] is None
    r = await pf.sandbox.post("/control/renew", json={"subscription_id": sub, "outcome": "paid"})
    assert r.status_code == 409  # nothing more is collected
    assert ended["collected_minor"] == 12 * 1500 + 2000
    assert (await pf.totals())[0] - raised0 == 12 * 1500 + 2000
    await browser.aclose()

    # Recurring gifts get no receipt each: one annual summary covers the 13 payments.
    r = await pf.app.get(f"/api/v1/orgs/{pf.org}/receipts", headers=pf.auth())
    ids = {d["id"] for d in ended["donations"]}
    assert not [x for x in r.json()["items"] if ids & set(x["donation_ids"])]
    year_now = datetime.now(UTC).year
    r = await pf.app.post(
        f"/api/v1/orgs/{pf.org}/receipts/annual", json={"year": year_now}, headers=pf.auth()
    )
    assert r.status_code == 202, r.text
    await pf.process(redis)
    r = await pf.app.get(f"/api/v1/orgs/{pf.org}/receipts", headers=pf.auth())
    [annual] = [x for x in r.json()["items"] if ids & set(x["donation_ids"])]
    assert annual["kind"] == "annual" and set(annual["donation_ids"]) == ids
    assert annual["amount_minor"] == 12 * 1500 + 2000
    # Running it again issues nothing more for these gifts.
    await pf.app.post(
        f"/api/v1/orgs/{pf.org}/receipts/annual", json={"year": year_now}, headers=pf.auth()
    )
    await pf.process(redis)
    r = await pf.app.get(f"/api/v1/orgs/{pf.org}/receipts", headers=pf.auth())
    assert len([x for x in r.json()["items"] if ids & set(x["donation_ids"])]) == 1
    assert co.donation_id in ids
