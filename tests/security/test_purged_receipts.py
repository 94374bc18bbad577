"""A receipt whose donor section was purged after the six-year retention (LPF L102 E) is
gone: the API, the donor's link and the back-office answer 410, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from arq.connections import ArqRedis

from donate.services import donor_privacy, receipt_mail
from tests.backoffice_pages.helpers import paid_gift, value
from tests.support.backoffice import demo_admin, member_client
from tests.support.platform import Platform


async def _receipts(pf: Platform, donation_id: str) -> dict[str, str]:
    async with pf.runtime.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT r.id, r.status FROM receipts r JOIN receipt_donations rd "
            "ON rd.receipt_id = r.id WHERE rd.donation_id = $1::uuid",
            UUID(donation_id),
        )
    return {str(r["status"]): str(r["id"]) for r in rows}


async def test_purged_receipts_answer_410_gone(pf: Platform, redis: ArqRedis) -> None:
    donation_id = await paid_gift(pf, redis, "purged-receipt@example.org", 4000)
    finance = await member_client(pf, pf.org, "finance")
    page = f"/admin/{pf.org}/donations/{donation_id}"
    r = await finance.submit(page, f"{page}/refund", {"amount": "15"})
    assert r.status_code == 303, r.text[:1000]
    await pf.deliver_and_process(redis)
    ids = await _receipts(pf, donation_id)
    assert set(ids) == {"canceled", "issued"}, ids
    api = f"/api/v1/orgs/{pf.org}/receipts"
    admin = f"/admin/{pf.org}/receipts"
    link, _ = receipt_mail.download_url(pf.runtime.settings, UUID(ids["issued"]), datetime.now(UTC))
    urls = {
        "api": [f"{api}/{ids['issued']}.pdf", f"{api}/{ids['canceled']}/cancellation.pdf"],
        "admin": [f"{admin}/{ids['issued']}.pdf", f"{admin}/{ids['canceled']}/cancellation.pdf"],
    }
    # While the snapshot is kept, every route serves the PDF.
    for url in urls["api"] + [link]:
        r = await pf.app.get(url, headers=pf.auth())
        assert r.status_code == 200 and r.content.startswith(b"%PDF"), (url, r.status_code)
    for url in urls["admin"]:
        r = await finance.get(url)
        assert r.status_code == 200 and r.content.startswith(b"%PDF"), (url, r.status_code)

    donor_id = await value(pf, "SELECT donor_id FROM donations WHERE id = $1::uuid", donation_id)
    owner = await demo_admin(pf)
    donor_page = f"/admin/{pf.org}/donors/{donor_id}"
    assert (
        await owner.submit(donor_page, f"{donor_page}/erase", {"confirm": "yes"})
    ).status_code == 303
    due = await value(pf, "SELECT erasure_due_at FROM donors WHERE id = $1", donor_id)
    assert await donor_privacy.purge_due(pf.runtime, now=due + timedelta(days=1)) >= 1

    for url in urls["api"] + [link]:
        r = await pf.app.get(url, headers=pf.auth())
        assert r.status_code == 410, (url, r.status_code, r.text[:300])
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["status"] == 410 and problem["type"].endswith("/gone")
        assert "retention" in problem["detail"]
    for url in urls["admin"]:
        r = await finance.get(url)
        assert r.status_code == 410, (url, r.status_code)
        assert r.headers["content-type"].startswith("text/html")
        assert "durée légale de conservation" in r.text and "%PDF" not in r.text
    r = await finance.get(urls["admin"][0], params={"lang": "en"})
    assert r.status_code == 410 and "legal retention period" in r.text
    # The back-office pages that list them still open.
    for url in (admin, donor_page, page):
        assert (await finance.get(url)).status_code == 200, url
