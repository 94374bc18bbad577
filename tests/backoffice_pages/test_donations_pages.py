"""Donations and payouts in the back-office: roles, search, detail, refund through the
sandbox, receipt re-sending, CSV export, payout reports, dashboard, tenant isolation."""

from __future__ import annotations

import csv
import io
import uuid

from arq.connections import ArqRedis

from donate.services import dashboard_donations
from tests.backoffice_pages.helpers import owner_of, paid_gift, row, value
from tests.support.backoffice import demo_admin, login, member_client
from tests.support.platform import Platform, SmtpOutbox, donor


async def test_finance_pages_for_finance_roles_only(pf: Platform, redis: ArqRedis) -> None:
    donation_id = await paid_gift(pf, redis, "roles@example.org")
    donor_id = await value(pf, "SELECT donor_id FROM donations WHERE id = $1::uuid", donation_id)
    base = f"/admin/{pf.org}"
    pages = [
        f"{base}/donations",
        f"{base}/donations/{donation_id}",
        f"{base}/donations/export.csv",
        f"{base}/donors",
        f"{base}/donors/{donor_id}",
        f"{base}/donors/{donor_id}/export.json",
        f"{base}/payouts",
    ]
    for role in ("owner", "admin", "finance"):
        c = await member_client(pf, pf.org, role)
        for page in pages:
            assert (await c.get(page)).status_code == 200, (role, page)
        dash = await c.get(base)
        assert dash.status_code == 200 and "roles@example.org" not in dash.text
        assert "Lovelace" in dash.text  # recent donations, by name
    campaigner = await member_client(pf, pf.org, "campaigner")
    for page in pages:
        assert (await campaigner.get(page)).status_code == 403, page
    dash = await campaigner.get(base)
    assert dash.status_code == 200 and "<svg" in dash.text and "Lovelace" not in dash.text
    token = await campaigner.csrf(base)
    for action in (
        f"/donations/{donation_id}/refund",
        f"/donations/{donation_id}/resend-receipt",
        f"/donors/{donor_id}/erase",
    ):
        r = await campaigner.post(base + action, data={"csrf_token": token, "confirm": "yes"})
        assert r.status_code == 403, action
    assert await pf.status(donation_id) == "paid"
    assert await value(pf, "SELECT erased_at FROM donors WHERE id = $1", donor_id) is None


async def test_search_filters_and_keyset_pages(pf: Platform, redis: ArqRedis) -> None:
    tag = uuid.uuid4().hex[:6]
    first = await paid_gift(
        pf,
        redis,
        f"grace-{tag}@example.org",
        donor={"first_name": "Grace", "last_name": f"Hopper{tag}"},
    )
    second = await paid_gift(pf, redis, f"alan-{tag}@example.org", 4000)
    failed = await pf.checkout("stripe", 3000, donor=donor(email=f"fail-{tag}@example.org"))
    await pf.settle(failed.checkout_id, "failed")
    await pf.deliver_and_process(redis)
    admin = await demo_admin(pf)
    base = f"/admin/{pf.org}/donations"
    r = await admin.get(base, params={"q": f"hopper{tag}"})
    assert r.status_code == 200 and first in r.text and second not in r.text
    r = await admin.get(base, params={"q": f"alan-{tag}@"})
    assert second in r.text and first not in r.text
    r = await admin.get(base, params={"q": second})
    assert second in r.text and first not in r.text
    failed_status = await pf.status(failed.donation_id)
    assert failed_status != "paid"
    r = await admin.get(base, params={"status": failed_status, "q": tag})
    assert failed.donation_id in r.text and first not in r.text
    r = await admin.get(base, params={"status": "paid", "q": tag})
    assert failed.donation_id not in r.text and first in r.text
    r = await admin.get(base, params={"q": tag, "campaign": pf.seeded["campaigns"][1]["id"]})
    assert first not in r.text and second not in r.text
    r = await admin.get(base, params={"q": tag, "from": "2099-01-01"})
    assert first not in r.text
    r = await admin.get(base, params={"q": tag, "from": "not-a-date"})
    assert r.status_code == 200 and first in r.text and "error-summary" in r.text
    # Keyset pages: newest first, no row twice, none lost.
    f, _ = dashboard_donations.make_filter(q=tag)
    org_id = await value(pf, "SELECT id FROM organizations WHERE slug = $1", pf.org)
    page1, cursor = await dashboard_donations.search(pf.runtime, org_id, f, limit=2)
    assert cursor is not None
    page2, end = await dashboard_donations.search(pf.runtime, org_id, f, cursor, limit=2)
    assert end is None
    ids = [str(x["id"]) for x in page1 + page2]
    assert ids == [failed.donation_id, second, first]


async def test_detail_shows_every_status_change_and_webhook(pf: Platform, redis: ArqRedis) -> None:
    donation_id = await paid_gift(pf, redis, "history@example.org")
    admin = await member_client(pf, pf.org, "finance")
    r = await admin.get(f"/admin/{pf.org}/donations/{donation_id}")
    assert r.status_code == 200
    history = await value(
        pf, "SELECT count(*) FROM donation_status_history WHERE donation_id = $1::uuid", donation_id
    )
    assert history >= 2 and r.text.count("<td>paid</td>") >= 1
    events = await value(
        pf, "SELECT array_agg(event_id) FROM provider_events WHERE donation_ref = $1", donation_id
    )
    assert events
    for event_id in events:
        assert event_id in r.text
    assert "history@example.org" in r.text


async def test_refund_from_the_back_office_reaches_the_sandbox(
    pf: Platform, redis: ArqRedis
) -> None:
    donation_id = await paid_gift(pf, redis, "refund@example.org", 2500)
    finance = await member_client(pf, pf.org, "finance")
    page = f"/admin/{pf.org}/donations/{donation_id}"
    r = await finance.submit(page, f"{page}/refund", {"amount": "30"})
    assert r.status_code == 400 and 'id="amount-error"' in r.text
    r = await finance.submit(page, f"{page}/refund", {"amount": "10,50"})
    assert r.status_code == 303, r.text[:2000]
    await pf.deliver_and_process(redis)
    assert await pf.status(donation_id) == "partially_refunded"
    [payment] = [
        p
        for p in (await pf.ledger())["payments"]
        if p.get("metadata", {}).get("donation_id") == donation_id
    ]
    assert payment["refunded_minor"] == 1050
    # The receipt is canceled and re-issued for what is left, both shown on the page.
    receipts = await pf.runtime.pool.fetch(
        "SELECT r.number, r.status, r.amount_minor FROM receipts r JOIN receipt_donations rd "
        "ON rd.receipt_id = r.id WHERE rd.donation_id = $1::uuid ORDER BY r.seq",
        donation_id,
    )
    assert [(x["status"], x["amount_minor"]) for x in receipts] == [
        ("canceled", 2500),
        ("issued", 1450),
    ]
    detail = await finance.get(page)
    assert all(x["number"] in detail.text for x in receipts)
    r = await finance.submit(page, f"{page}/refund", {"amount": ""})
    assert r.status_code == 303
    await pf.deliver_and_process(redis)
    assert await pf.status(donation_id) == "refunded"
    [payment] = [
        p
        for p in (await pf.ledger())["payments"]
        if p.get("metadata", {}).get("donation_id") == donation_id
    ]
    assert payment["refunded_minor"] == 2500
    detail = await finance.get(page)
    assert detail.text.count("<td>succeeded</td>") == 2
    finance_id = await value(
        pf,
        "SELECT m.user_id FROM memberships m JOIN organizations o ON o.id = m.organization_id "
        "WHERE o.slug = $1 AND m.role = 'finance' ORDER BY m.created_at DESC LIMIT 1",
        pf.org,
    )
    who = await value(
        pf,
        "SELECT array_agg(DISTINCT requested_by) FROM refunds WHERE donation_id = $1::uuid",
        donation_id,
    )
    assert who == [f"user:{finance_id}"]
    r = await finance.submit(page, f"{page}/refund", {"amount": ""})
    assert r.status_code == 409  # nothing left to refund


async def test_resend_receipt_sends_it_again(
    pf: Platform, redis: ArqRedis, smtp_outbox: SmtpOutbox
) -> None:
    email = f"resend-{uuid.uuid4().hex[:6]}@example.org"
    donation_id = await paid_gift(pf, redis, email)
    await pf.process(redis)
    assert len(smtp_outbox.messages(to=email)) == 1
    admin = await demo_admin(pf)
    page = f"/admin/{pf.org}/donations/{donation_id}"
    r = await admin.submit(page, f"{page}/resend-receipt")
    assert r.status_code == 303
    await pf.process(redis)
    mails = smtp_outbox.messages(to=email)
    assert len(mails) == 2 and mails[0]["Subject"] == mails[1]["Subject"]
    # A gift without a receipt: refused with the reason.
    no_receipt = await paid_gift(pf, redis, "noreceipt@example.org", wants_receipt=False)
    page = f"/admin/{pf.org}/donations/{no_receipt}"
    r = await admin.submit(page, f"{page}/resend-receipt")
    assert r.status_code == 409


async def test_csv_export_of_the_filtered_list(pf: Platform, redis: ArqRedis) -> None:
    tag = uuid.uuid4().hex[:6]
    one = await paid_gift(
        pf,
        redis,
        f"csv-{tag}@example.org",
        1234,
        donor={"first_name": "=HYPERLINK(1)", "last_name": "X"},
    )
    two = await paid_gift(pf, redis, f"csv2-{tag}@example.org", 5000)
    admin = await member_client(pf, pf.org, "finance")
    r = await admin.get(f"/admin/{pf.org}/donations/export.csv", params={"q": f"csv-{tag}"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert rows[0] == list(dashboard_donations.CSV_COLUMNS)
    assert len(rows) == 2
    line = dict(zip(rows[0], rows[1], strict=True))
    assert line["id"] == one and line["amount"] == "12.34" and line["currency"] == "EUR"
    assert line["status"] == "paid" and line["donor_email"] == f"csv-{tag}@example.org"
    assert line["donor_name"] == "'=HYPERLINK(1) X"  # never a formula in a spreadsheet
    r = await admin.get(f"/admin/{pf.org}/donations/export.csv", params={"q": tag})
    ids = [x[0] for x in csv.reader(io.StringIO(r.text.lstrip("\ufeff")))][1:]
    assert ids == [two, one]


async def test_payout_list_and_report_downloads(pf: Platform, redis: ArqRedis) -> None:
    await paid_gift(pf, redis, "payout@example.org", 7000)
    r = await pf.sandbox.post("/control/payout", json={"provider": "stripe"})
    assert r.status_code == 200, r.text
    await pf.deliver_and_process(redis)
    payout = await row(
        pf,
        "SELECT p.* FROM payouts p JOIN organizations o "
        "ON o.id = p.organization_id WHERE o.slug = $1 "
        "ORDER BY p.created_at DESC LIMIT 1",
        pf.org,
    )
    assert payout is not None
    finance = await member_client(pf, pf.org, "finance")
    page = await finance.get(f"/admin/{pf.org}/payouts")
    assert page.status_code == 200 and payout["provider_payout_id"] in page.text
    types = {"csv": "text/csv", "xlsx": "application/vnd.openxml", "pdf": "application/pdf"}
    for fmt, kind in types.items():
        r = await finance.get(f"/admin/{pf.org}/payouts/{payout['id']}/report.{fmt}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(kind), fmt
    api = await pf.app.get(
        f"/api/v1/orgs/{pf.org}/payouts/{payout['id']}/report.csv", headers=pf.auth()
    )
    ours = await finance.get(f"/admin/{pf.org}/payouts/{payout['id']}/report.csv")
    assert ours.text == api.text  # the same report as the API's
    r = await finance.get(
        f"/admin/{pf.org}/payouts/fec", params={"from": "2026-01-01", "to": "2026-12-31"}
    )
    assert r.status_code == 200 and r.text.startswith("JournalCode")
    r = await finance.get(f"/admin/{pf.org}/payouts/fec", params={"from": "x", "to": ""})
    assert r.status_code == 400
    campaigner = await member_client(pf, pf.org, "campaigner")
    r = await campaigner.get(f"/admin/{pf.org}/payouts/{payout['id']}/report.csv")
    assert r.status_code == 403
    other = pf.seeded["other_org"]["org_slug"]
    intruder = await login(pf, await owner_of(pf, other))
    r = await intruder.get(f"/admin/{other}/payouts/{payout['id']}/report.csv")
    assert r.status_code == 404


async def test_dashboard_lists_failed_receipt_mails_and_unmatched_lines(
    pf: Platform, redis: ArqRedis
) -> None:
    donation_id = await paid_gift(pf, redis, "dash@example.org", 4200)
    await pf.process(redis)
    receipt = await row(
        pf,
        "SELECT r.id, r.number FROM receipts r JOIN receipt_donations rd "
        "ON rd.receipt_id = r.id WHERE rd.donation_id = $1::uuid",
        donation_id,
    )
    org_id = await value(pf, "SELECT id FROM organizations WHERE slug = $1", pf.org)
    async with pf.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE receipt_emails SET status = 'failed', last_error = "
            "'SMTPRecipientsRefused' WHERE receipt_id = $1",
            receipt["id"],
        )
        payout_id = await conn.fetchval(
            """INSERT INTO payouts (organization_id, provider, provider_payout_id, amount_minor,
                   currency, status) VALUES ($1, 'stripe', $2, 1000, 'EUR', 'paid') RETURNING id""",
            org_id,
            f"po_dash{uuid.uuid4().hex[:8]}",
        )
        await conn.execute(
            """INSERT INTO payout_lines (organization_id, payout_id, provider_line_id, kind,
                   payment_ref, gross_minor, fee_minor, net_minor, currency)
               VALUES ($1, $2, 'txn_x', 'payment', 'pi_unknown_dash', 1000, 0, 1000, 'EUR')""",
            org_id,
            payout_id,
        )
    admin = await demo_admin(pf)
    r = await admin.get(f"/admin/{pf.org}")
    assert r.status_code == 200
    assert receipt["number"] in r.text and "SMTPRecipientsRefused" in r.text
    assert "pi_unknown_dash" in r.text
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in r.text and "<rect" in r.text
    assert "42,00" in r.text  # the gift, in the recent donations


async def test_another_association_gets_404_and_changes_nothing(
    pf: Platform, redis: ArqRedis
) -> None:
    donation_id = await paid_gift(pf, redis, "isolated@example.org")
    donor_id = await value(pf, "SELECT donor_id FROM donations WHERE id = $1::uuid", donation_id)
    other = pf.seeded["other_org"]["org_slug"]
    intruder = await login(pf, await owner_of(pf, other))
    for base in (f"/admin/{pf.org}", f"/admin/{other}"):
        for path in (
            f"/donations/{donation_id}",
            f"/donors/{donor_id}",
            f"/donors/{donor_id}/export.json",
            f"/donors/{donor_id}/export.csv",
        ):
            assert (await intruder.get(base + path)).status_code == 404, base + path
    token = await intruder.csrf(f"/admin/{other}/donations")
    for path in (
        f"/donations/{donation_id}/refund",
        f"/donations/{donation_id}/resend-receipt",
        f"/donors/{donor_id}/erase",
    ):
        r = await intruder.post(
            f"/admin/{other}{path}", data={"csrf_token": token, "confirm": "yes"}
        )
        assert r.status_code == 404, path
    r = await intruder.get(f"/admin/{other}/donations", params={"q": donation_id})
    assert f"/donations/{donation_id}" not in r.text
    assert await pf.status(donation_id) == "paid"
    assert await value(pf, "SELECT erased_at FROM donors WHERE id = $1", donor_id) is None
    assert (
        await value(pf, "SELECT count(*) FROM refunds WHERE donation_id = $1::uuid", donation_id)
        == 0
    )
