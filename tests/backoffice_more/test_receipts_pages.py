"""Fiscal receipts in the back-office: the list with e-mail states (failed sends included),
the PDF as the API serves it, e-mailing again, the cancellation after a refund, the annual
receipts of a year on demand, and the CGI 222 bis figures."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from arq.connections import ArqRedis

from donate.services import receipt_admin
from tests.backoffice_more.helpers import monthly_plan, receipt_of, rows, value
from tests.support.backoffice import member_client
from tests.support.platform import Platform, SmtpOutbox

NBSP = "\u00a0"


def _row(html: str, receipt_id: str) -> str:
    found = re.search(rf'<tr[^>]*id="receipt-{receipt_id}">(.*?)</tr>', html, re.S)
    assert found, receipt_id
    return found.group(1)


async def test_list_download_and_failed_email_sent_again(
    pf: Platform, redis: ArqRedis, smtp_outbox: SmtpOutbox
) -> None:
    email = "receipt-list@example.org"
    receipt_id = await receipt_of(pf, redis, email, 4200)
    number = await value(pf, "SELECT number FROM receipts WHERE id = $1::uuid", receipt_id)
    finance = await member_client(pf, pf.org, "finance")
    base = f"/admin/{pf.org}/receipts"
    r = await finance.get(base)
    assert r.status_code == 200
    row = _row(r.text, receipt_id)
    for shown in (number, "Ada Lovelace", email, f"42,00{NBSP}€", "Pour un don", "Émis",
                  "Envoyé"):  # fmt: skip
        assert shown in row, shown
    # The PDF is the API's, byte for byte.
    pdf = await finance.get(f"{base}/{receipt_id}.pdf")
    api = await pf.app.get(f"/api/v1/orgs/{pf.org}/receipts/{receipt_id}.pdf", headers=pf.auth())
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and pdf.content == api.content
    assert f"recu-fiscal-{number}.pdf" in pdf.headers["content-disposition"]
    assert (await finance.get(f"{base}/{receipt_id}/cancellation.pdf")).status_code == 404
    # A send that failed is shown, and found by the filter.
    async with pf.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE receipt_emails SET status = 'failed', last_error = $2 "
            "WHERE receipt_id = $1::uuid AND kind = 'receipt'",
            receipt_id, "SMTPRecipientsRefused: mailbox full",
        )  # fmt: skip
    failed = await finance.get(base, params={"email": "failed"})
    assert "Échec" in _row(failed.text, receipt_id) and "mailbox full" in failed.text
    sent = await finance.get(base, params={"email": "sent"})
    assert f'id="receipt-{receipt_id}"' not in sent.text
    # Sent again: through the outbox, to the donor, with the same PDF.
    before = len(smtp_outbox.messages(to=email))
    r = await finance.submit(base, f"{base}/{receipt_id}/resend")
    assert r.status_code == 303 and r.headers["location"].endswith("done=resent")
    await pf.process(redis)
    mails = smtp_outbox.messages(to=email)
    assert len(mails) == before + 1
    [attachment] = list(mails[-1].iter_attachments())
    assert attachment.get_content() == api.content
    assert "Envoyé" in _row((await finance.get(base)).text, receipt_id)
    audit = await value(
        pf, "SELECT data FROM audit_log WHERE action = $1 AND target_id = $2",
        "receipt.resend_requested", receipt_id,
    )  # fmt: skip
    assert audit["kind"] == "receipt" and audit["number"] == number


async def test_refund_shows_the_cancellation_and_its_replacement(
    pf: Platform, redis: ArqRedis, smtp_outbox: SmtpOutbox
) -> None:
    email = "receipt-refund@example.org"
    receipt_id = await receipt_of(pf, redis, email, 5000)
    donation_id = await value(pf, "SELECT donation_id FROM receipt_donations "
                                  "WHERE receipt_id = $1::uuid", receipt_id)  # fmt: skip
    r = await pf.app.post(f"/api/v1/orgs/{pf.org}/donations/{donation_id}/refund",
                          json={"amount_minor": 2000}, headers=pf.auth())  # fmt: skip
    assert r.status_code in (200, 201, 202), r.text
    await pf.deliver_and_process(redis)
    old = await value(pf, "SELECT number FROM receipts WHERE id = $1::uuid", receipt_id)
    new = await value(pf, "SELECT number FROM receipts WHERE replaces = $1::uuid", receipt_id)
    assert new is not None
    admin = await member_client(pf, pf.org, "admin")
    base = f"/admin/{pf.org}/receipts"
    listing = await admin.get(base)
    row = _row(listing.text, receipt_id)
    assert "Annulé" in row and f"remplacé par {new}" in row and "Avis d'annulation" in row
    assert f"remplace {old}" in listing.text and f"30,00{NBSP}€" in listing.text
    notice = await admin.get(f"{base}/{receipt_id}/cancellation.pdf")
    api = await pf.app.get(f"/api/v1/orgs/{pf.org}/receipts/{receipt_id}/cancellation.pdf",
                           headers=pf.auth())  # fmt: skip
    assert notice.status_code == 200 and notice.content == api.content
    # Sending a canceled receipt again sends its cancellation notice.
    before = len(smtp_outbox.messages(to=email))
    r = await admin.submit(base, f"{base}/{receipt_id}/resend")
    assert r.status_code == 303 and r.headers["location"].endswith("done=resent_cancellation")
    await pf.process(redis)
    mails = smtp_outbox.messages(to=email)
    assert len(mails) == before + 1
    [attachment] = list(mails[-1].iter_attachments())
    assert attachment.get_filename() == f"annulation-recu-{old}.pdf"
    listed = await admin.get(base, params={"status": "canceled"})
    assert f'id="receipt-{receipt_id}"' in listed.text and f"remplace {old}" not in listed.text


async def test_annual_receipts_on_demand_and_the_declaration(pf: Platform, redis: ArqRedis) -> None:
    p = await monthly_plan(pf, redis, 2500)
    first = p["first_donation_id"]
    assert await value(pf, "SELECT count(*) FROM receipt_donations WHERE donation_id = "
                           "$1::uuid", first) == 0  # fmt: skip
    year = str(datetime.now(UTC).year)
    finance = await member_client(pf, pf.org, "finance")
    base = f"/admin/{pf.org}/receipts"
    for bad, message in (("abcd", "Saisissez une année"), ("2999", "année passée")):
        r = await finance.submit(base, f"{base}/annual", {"year": bad})
        assert r.status_code == 400 and 'id="year-error"' in r.text and message in r.text
        assert f'value="{bad}"' in r.text
    r = await finance.submit(base, f"{base}/annual", {"year": year})
    assert r.status_code == 303
    done = parse_qs(urlsplit(r.headers["location"]).query)
    assert done["done"] == ["annual"] and int(done["n"][0]) >= 1 and done["year"] == [year]
    [receipt] = await rows(
        pf, """SELECT r.id, r.number, r.kind, r.amount_minor FROM receipts r
               JOIN receipt_donations rd ON rd.receipt_id = r.id
               WHERE rd.donation_id = $1::uuid AND rd.active""", first)  # fmt: skip
    assert receipt["kind"] == "annual" and receipt["amount_minor"] == 2500
    page = await finance.get(r.headers["location"])
    assert "Reçus annuels émis" in page.text
    assert "Récapitulatif annuel" in _row(page.text, str(receipt["id"]))
    # Again: nothing is issued twice.
    count = await value(pf, "SELECT count(*) FROM receipts")
    r = await finance.submit(base, f"{base}/annual", {"year": year})
    assert parse_qs(urlsplit(r.headers["location"]).query)["n"] == ["0"]
    assert await value(pf, "SELECT count(*) FROM receipts") == count
    # CGI 222 bis: the API's figures for the year.
    api = (await pf.app.get(f"/api/v1/orgs/{pf.org}/fiscal-declaration/{year}",
                            headers=pf.auth())).json()  # fmt: skip
    assert api["receipts_count"] >= 1
    shown = await finance.get(base, params={"year": year})
    assert re.search(rf'id="declaration-count">{api["receipts_count"]}<', shown.text)
    total = api["total_minor"]
    euros = re.search(r'id="declaration-total">([^<]*)<', shown.text)
    assert euros and euros.group(1).replace("\u202f", "") == \
        f"{total // 100},{total % 100:02d}{NBSP}€"  # fmt: skip
    assert f"· {year}</h2>" in shown.text


async def test_a_large_annual_run_leaves_the_rest_to_the_worker(
    pf: Platform, redis: ArqRedis
) -> None:
    plans = [await monthly_plan(pf, redis, 1000 + i) for i in range(3)]
    org_id = await value(pf, "SELECT id FROM organizations WHERE slug = $1", pf.org)
    year = str(datetime.now(UTC).year)
    result = await receipt_admin.issue_annual(
        pf.runtime, org_id, year, "user:test", {}, inline_donors=1
    )
    assert (result.donors, result.issued, result.queued) == (1, 1, True)
    covered = "SELECT count(*) FROM receipt_donations WHERE donation_id = $1::uuid AND active"
    assert sum([await value(pf, covered, p["first_donation_id"]) for p in plans]) == 1
    await pf.process(redis)  # the queued run: the same service, in the worker
    for p in plans:
        assert await value(pf, covered, p["first_donation_id"]) == 1
    again = await receipt_admin.issue_annual(pf.runtime, org_id, year, "user:test", {})
    assert (again.issued, again.queued) == (0, False)
