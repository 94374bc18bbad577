"""Donors and GDPR: the record, export (JSON/CSV), erasure (what goes at once, what the
receipts keep for six years, what the daily job purges after), a re-donation afterwards."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from arq.connections import ArqRedis

from donate.jobs.worker import build_worker
from donate.services import donor_privacy
from tests.backoffice_pages.helpers import paid_gift, row, value
from tests.support.backoffice import demo_admin, member_client
from tests.support.platform import Platform, donor


async def _donor_of(pf: Platform, donation_id: str) -> str:
    return str(await value(pf, "SELECT donor_id FROM donations WHERE id = $1::uuid", donation_id))


async def test_record_and_export_as_json_and_csv(pf: Platform, redis: ArqRedis) -> None:
    donation_id = await paid_gift(pf, redis, "export@example.org", 3100, message="Bravo !")
    await pf.process(redis)
    donor_id = await _donor_of(pf, donation_id)
    finance = await member_client(pf, pf.org, "finance")
    page = await finance.get(f"/admin/{pf.org}/donors/{donor_id}")
    assert page.status_code == 200 and "export@example.org" in page.text
    receipt_number = await value(
        pf, "SELECT number FROM receipts WHERE donor_id = $1::uuid", donor_id
    )
    assert receipt_number and receipt_number in page.text
    listed = await finance.get(f"/admin/{pf.org}/donors", params={"q": "export@"})
    assert f"/donors/{donor_id}" in listed.text
    r = await finance.get(f"/admin/{pf.org}/donors/{donor_id}/export.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert "attachment" in r.headers["content-disposition"]
    data = json.loads(r.text)
    assert data["donor"]["email"] == "export@example.org"
    assert data["donor"]["last_name"] == "Lovelace"
    [gift] = data["donations"]
    assert gift["id"] == donation_id and gift["amount_minor"] == 3100
    assert gift["message"] == "Bravo !" and gift["currency"] == "EUR"
    assert [x["number"] for x in data["receipts"]] == [receipt_number]
    r = await finance.get(f"/admin/{pf.org}/donors/{donor_id}/export.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert rows[0] == ["section", "index", "field", "value"]
    assert ["donor", "", "email", "export@example.org"] in rows
    assert ["donations", "0", "amount_minor", "3100"] in rows
    assert ["receipts", "0", "number", receipt_number] in rows
    assert (
        await value(
            pf,
            "SELECT count(*) FROM audit_log WHERE action = 'donor.exported' AND target_id = $1",
            donor_id,
        )
        == 2
    )


async def test_erase_removes_personal_data_receipts_still_render_redonation_is_new(
    pf: Platform, redis: ArqRedis
) -> None:
    email = "erase-me@example.org"
    person = {"first_name": "Marie", "last_name": "Curie", "address_line1": "11 rue Pierre"}
    donation_id = await paid_gift(pf, redis, email, 4500, message="Pour la science", donor=person)
    await pf.process(redis)
    donor_id = await _donor_of(pf, donation_id)
    receipt = await row(
        pf, "SELECT id, issued_at, pdf_sha256 FROM receipts WHERE donor_id = $1::uuid", donor_id
    )
    admin = await demo_admin(pf)
    page = f"/admin/{pf.org}/donors/{donor_id}"
    # Without the confirmation box nothing happens.
    r = await admin.submit(page, f"{page}/erase", {})
    assert r.status_code == 400 and 'id="confirm-error"' in r.text
    assert await value(pf, "SELECT erased_at FROM donors WHERE id = $1::uuid", donor_id) is None
    r = await admin.submit(page, f"{page}/erase", {"confirm": "yes"})
    assert r.status_code == 303 and r.headers["location"].endswith("done=erased")

    stored = await row(pf, "SELECT * FROM donors WHERE id = $1::uuid", donor_id)
    assert stored["erased_at"] is not None and stored["purged_at"] is None
    assert stored["erasure_due_at"] == donor_privacy.retention_end(receipt["issued_at"])
    for column in ("email", "first_name", "last_name", "address_line1", "postal_code", "city"):
        assert "Curie" not in (stored[column] or "") and email not in (stored[column] or "")
    assert stored["first_name"] == stored["last_name"] == stored["address_line1"] == ""
    assert stored["email"].endswith("@erased.invalid")
    assert await value(pf, "SELECT message FROM donations WHERE id = $1::uuid", donation_id) is None
    # Back-office views show nothing of the person.
    for path in (
        f"/admin/{pf.org}/donations/{donation_id}",
        page,
        f"/admin/{pf.org}/donors",
        f"/admin/{pf.org}/donations",
        f"/admin/{pf.org}",
    ):
        text = (await admin.get(path)).text
        for secret in ("Curie", "Marie", email, "11 rue Pierre", "Pour la science"):
            assert secret not in text, (path, secret)
    found = await admin.get(f"/admin/{pf.org}/donations", params={"q": "erase-me"})
    assert f"/donations/{donation_id}" not in found.text
    api = await pf.app.get(f"/api/v1/orgs/{pf.org}/donations/{donation_id}", headers=pf.auth())
    assert email not in api.text and "Curie" not in api.text
    # The issued receipt keeps its frozen snapshot: it still renders, byte for byte.
    pdf = await pf.app.get(f"/api/v1/orgs/{pf.org}/receipts/{receipt['id']}.pdf", headers=pf.auth())
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # Erasing again changes nothing; giving again makes a new donor.
    r = await admin.submit(page, f"{page}/erase", {"confirm": "yes"})
    assert r.status_code == 303
    again = await paid_gift(pf, redis, email, 1500, donor=person)
    new_donor = await _donor_of(pf, again)
    assert new_donor != donor_id
    fresh = await row(pf, "SELECT * FROM donors WHERE id = $1::uuid", new_donor)
    assert fresh["email"] == email and fresh["erased_at"] is None and fresh["last_name"] == "Curie"
    assert (
        await value(pf, "SELECT count(*) FROM donations WHERE donor_id = $1::uuid", new_donor) == 1
    )


async def test_purge_after_the_retention_period(pf: Platform, redis: ArqRedis) -> None:
    donation_id = await paid_gift(
        pf, redis, "purge@example.org", 2000, donor={"last_name": "Purgeable"}
    )
    await pf.process(redis)
    donor_id = await _donor_of(pf, donation_id)
    admin = await demo_admin(pf)
    page = f"/admin/{pf.org}/donors/{donor_id}"
    assert (await admin.submit(page, f"{page}/erase", {"confirm": "yes"})).status_code == 303
    due = await value(pf, "SELECT erasure_due_at FROM donors WHERE id = $1::uuid", donor_id)
    # Before the end of the period the job leaves it alone.
    await donor_privacy.purge_due(pf.runtime, now=due - timedelta(days=1))
    assert await value(pf, "SELECT purged_at FROM donors WHERE id = $1::uuid", donor_id) is None
    snapshot = await value(pf, "SELECT snapshot FROM receipts WHERE donor_id = $1::uuid", donor_id)
    assert "Purgeable" in json.dumps(snapshot)
    kept = await value(
        pf, "SELECT array_agg(payload) FROM provider_events WHERE donation_ref = $1", donation_id
    )
    assert any(b"purge@example.org" in bytes(p) for p in kept)  # the raw webhooks name them
    assert await donor_privacy.purge_due(pf.runtime, now=due + timedelta(days=1)) >= 1
    assert await value(pf, "SELECT purged_at FROM donors WHERE id = $1::uuid", donor_id)
    snapshot = await value(pf, "SELECT snapshot FROM receipts WHERE donor_id = $1::uuid", donor_id)
    assert snapshot["donor"] == {"type": "erased"} and "Purgeable" not in json.dumps(snapshot)
    payloads = await value(
        pf, "SELECT array_agg(payload) FROM provider_events WHERE donation_ref = $1", donation_id
    )
    assert payloads and all(b"purge@example.org" not in bytes(p) for p in payloads)
    assert "Purgeable" not in (await admin.get(page)).text
    # Nothing left to do the next time.
    assert await donor_privacy.purge_due(pf.runtime, now=due + timedelta(days=2)) == 0


async def test_erasure_without_receipt_is_complete_at_once(pf: Platform, redis: ArqRedis) -> None:
    donation_id = await paid_gift(pf, redis, "noreceipt-erase@example.org", wants_receipt=False)
    donor_id = await _donor_of(pf, donation_id)
    admin = await member_client(pf, pf.org, "finance")
    page = f"/admin/{pf.org}/donors/{donor_id}"
    assert (await admin.submit(page, f"{page}/erase", {"confirm": "yes"})).status_code == 303
    stored = await row(pf, "SELECT * FROM donors WHERE id = $1::uuid", donor_id)
    assert stored["purged_at"] is not None and stored["erasure_due_at"] is None


async def test_erasure_refused_while_a_payment_is_pending(pf: Platform) -> None:
    co = await pf.checkout("stripe", 2500, donor=donor(email="pending-erase@example.org"))
    donor_id = await _donor_of(pf, co.donation_id)
    admin = await demo_admin(pf)
    page = f"/admin/{pf.org}/donors/{donor_id}"
    r = await admin.submit(page, f"{page}/erase", {"confirm": "yes"})
    assert r.status_code == 409
    assert "still pending" in r.text or "toujours en attente" in r.text
    stored = await row(pf, "SELECT * FROM donors WHERE id = $1::uuid", donor_id)
    assert stored["erased_at"] is None and stored["email"] == "pending-erase@example.org"


async def test_the_daily_purge_is_scheduled(pf: Platform) -> None:
    worker = build_worker(pf.runtime, ArqRedis.from_url(pf.redis_url))
    try:
        names = [job.name for job in worker.cron_jobs]
    finally:
        await worker.close()
    assert any("donor_erasure" in name for name in names), names


async def test_erasure_expires_the_associations_kept_report_files(
    pf: Platform, redis: ArqRedis
) -> None:
    """A kept export (CSV of the gifts in transit) names the donor: erasing them deletes
    the association's kept files at once, not after their 7 days."""
    email = "in-an-export@example.org"
    donation_id = await paid_gift(pf, redis, email, 3100)
    await pf.process(redis)
    r = await pf.app.post(
        f"/api/v1/orgs/{pf.org}/reports/exports",
        json={"kind": "in_transit", "format": "csv", "params": {}},
        headers=pf.auth(),
    )
    assert r.status_code == 202, r.text
    export_id = r.json()["id"]
    await pf.process(redis)
    download = await pf.app.get(
        f"/api/v1/orgs/{pf.org}/reports/exports/{export_id}/download", headers=pf.auth()
    )
    assert download.status_code == 200 and email in download.text
    donor_id = await _donor_of(pf, donation_id)
    admin = await demo_admin(pf)
    page = f"/admin/{pf.org}/donors/{donor_id}"
    r = await admin.submit(page, f"{page}/erase", {"confirm": "yes"})
    assert r.status_code == 303
    status = "SELECT status FROM report_exports WHERE id = $1::uuid"
    assert await value(pf, status, export_id) == "expired"
    chunks = "SELECT count(*) FROM report_export_chunks WHERE export_id = $1::uuid"
    assert await value(pf, chunks, export_id) == 0
    gone = await pf.app.get(
        f"/api/v1/orgs/{pf.org}/reports/exports/{export_id}/download", headers=pf.auth()
    )
    assert gone.status_code == 409
