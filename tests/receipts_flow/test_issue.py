"""A paid gift gets its fiscal receipt from the job queue: numbered, stored as a snapshot
whose PDF re-renders to the stored hash, e-mailed with a download link; only on a final
success, only once, only to the association that owns it."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest
from arq.connections import ArqRedis

from donate.jobs.tasks import TASKS
from donate.receipts.render import render_receipt_pdf
from donate.receipts.snapshot import ReceiptSnapshot
from tests.support.platform import Platform, SmtpOutbox

from .helpers import paid_gift, pdf, receipts, receipts_of, text_of


async def _row(pf: Platform, receipt_id: str) -> Any:
    async with pf.runtime.pool.acquire() as conn:
        return await conn.fetchrow("SELECT * FROM receipts WHERE id = $1", uuid.UUID(receipt_id))


async def test_paid_gift_gets_receipt_2026_000001_with_every_mention(
    pf: Platform, redis: ArqRedis, smtp_outbox: SmtpOutbox
) -> None:
    # A tip and covered fees are charged too, but only the gift opens the tax reduction.
    co = await paid_gift(pf, redis, "first@example.org", 2500, tip_minor=300, cover_fees=True)

    [item] = await receipts_of(pf, co.donation_id)
    assert item["number"] == "2026-000001"
    assert (item["status"], item["kind"], item["form"]) == ("issued", "single", "11580")
    assert (item["amount_minor"], item["currency"]) == (2500, "EUR")
    assert item["donation_ids"] == [co.donation_id]
    assert item["replaces"] is None
    assert item["email_status"] == "sent"

    data = await pdf(pf, item["id"])
    row = await _row(pf, item["id"])
    assert hashlib.sha256(data).hexdigest() == row["pdf_sha256"]
    rerendered = render_receipt_pdf(ReceiptSnapshot.from_json(row["snapshot"]))
    assert hashlib.sha256(rerendered).hexdigest() == row["pdf_sha256"]
    text = text_of(data)
    for mention in (
        "2026-000001", "Les Amis du Jardin Partagé", "812345676", "W751234567",
        "12 rue des Lilas", "Créer et animer des jardins partagés", "intérêt général",
        "Lovelace", "Ada", "1 rue de la Paix", "75002 Paris", "***25,00 €***",
        "vingt-cinq euros", "article 200", "Déclaration de don manuel", "Numéraire",
        "Carte bancaire", "Camille Martin", "Présidente",
    ):  # fmt: skip
        assert mention in text, mention

    detail = await pf.app.get(
        f"/api/v1/orgs/{pf.org}/donations/{co.donation_id}", headers=pf.auth()
    )
    assert detail.json()["receipt_ids"] == [item["id"]]

    [mail] = smtp_outbox.messages(to="first@example.org")
    assert "2026-000001" in mail["Subject"]
    assert mail["Subject"].startswith("Votre reçu fiscal")
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "recu-fiscal-2026-000001.pdf"
    assert attachment.get_content() == data
    body = mail.get_body(("plain",))
    assert body is not None
    link = next(w for w in body.get_content().split() if "/receipts/" in w)
    assert link.startswith(f"{pf.app_url}/receipts/{item['id']}.pdf?token=")

    again = await pf.app.get(link)  # the donor, no account and no API key
    assert again.status_code == 200
    assert again.content == data
    forged = await pf.app.get(link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB"))
    assert forged.status_code == 403
    other = await pf.app.get(f"/receipts/{uuid.uuid4()}.pdf?{link.split('?')[1]}")
    assert other.status_code == 403


async def test_company_gets_form_16216_and_english_mail(
    pf: Platform, redis: ArqRedis, smtp_outbox: SmtpOutbox
) -> None:
    co = await paid_gift(
        pf, redis, "boss@example.org", 100_000, locale="en",
        donor={"company_name": "Fénelon SARL", "siren": "552100554", "legal_form": "SARL"},
    )  # fmt: skip
    [item] = await receipts_of(pf, co.donation_id)
    assert item["form"] == "16216"
    text = text_of(await pdf(pf, item["id"]))
    for mention in ("16216*02", "Fénelon SARL", "552100554", "SARL", "238 bis", "mille euros"):
        assert mention in text, mention
    [mail] = smtp_outbox.messages(to="boss@example.org")
    assert mail["Subject"].startswith("Your tax receipt no.")


async def test_sepa_pending_issues_nothing_until_paid(pf: Platform, redis: ArqRedis) -> None:
    co = await pf.checkout("stripe", 3000, method="sepa_debit")
    await pf.settle(co.checkout_id, "pending", method="sepa_debit")
    await pf.deliver_and_process(redis)
    assert await pf.status(co.donation_id) == "pending"
    assert await receipts_of(pf, co.donation_id) == []

    await pf.settle(co.checkout_id, "paid", method="sepa_debit")
    await pf.deliver_and_process(redis)
    [item] = await receipts_of(pf, co.donation_id)
    assert "Prélèvement" in text_of(await pdf(pf, item["id"]))


@pytest.mark.parametrize("provider", ["mollie"])
async def test_mollie_pending_issues_nothing(pf: Platform, redis: ArqRedis, provider: str) -> None:
    co = await pf.checkout(provider, 1800)
    await pf.settle(co.checkout_id, "pending")
    await pf.deliver_and_process(redis)
    assert await pf.status(co.donation_id) == "pending"
    assert await receipts_of(pf, co.donation_id) == []


async def test_no_receipt_unless_asked_or_failed(pf: Platform, redis: ArqRedis) -> None:
    unasked = await paid_gift(pf, redis, "quiet@example.org", 1500, wants_receipt=False)
    assert await receipts_of(pf, unasked.donation_id) == []
    failed = await pf.checkout("mollie", 1500)
    await pf.settle(failed.checkout_id, "failed")
    await pf.deliver_and_process(redis)
    assert await receipts_of(pf, failed.donation_id) == []


async def test_handler_run_twice_issues_one_number(pf: Platform, redis: ArqRedis) -> None:
    co = await paid_gift(pf, redis, "twice@example.org", 4200)
    before = await receipts(pf)
    handler = TASKS["donation.status_changed"]
    payload = {"donation_id": co.donation_id, "from": "pending", "to": "paid"}
    await handler(pf.runtime, payload)
    await handler(pf.runtime, payload)
    await pf.process(redis)
    assert await receipts(pf) == before
    assert len(await receipts_of(pf, co.donation_id)) == 1


async def test_missing_signatory_means_no_receipt_and_the_association_is_told(
    pf: Platform, redis: ArqRedis
) -> None:
    async with pf.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE organizations SET receipt_signatory_name = NULL WHERE slug = $1", pf.org
        )
    try:
        co = await paid_gift(pf, redis, "nosign@example.org", 2000)
    finally:
        async with pf.runtime.pool.acquire() as conn:
            await conn.execute(
                "UPDATE organizations SET receipt_signatory_name = 'Camille Martin' "
                "WHERE slug = $1",
                pf.org,
            )
    assert await receipts_of(pf, co.donation_id) == []
    async with pf.runtime.pool.acquire() as conn:
        note = await conn.fetchrow(
            "SELECT data FROM audit_log WHERE action = 'receipt.not_issued' AND target_id = $1",
            co.donation_id,
        )
    assert note is not None
    assert note["data"]["missing"] == ["signatory.name"]


async def test_numbers_so_far_are_contiguous(pf: Platform) -> None:
    numbers = sorted(x["number"] for x in await receipts(pf))
    assert numbers == [f"2026-{i:06d}" for i in range(1, len(numbers) + 1)]


async def test_another_association_sees_no_receipt(pf: Platform, redis: ArqRedis) -> None:
    co = await paid_gift(pf, redis, "iso@example.org", 2600)
    [item] = await receipts_of(pf, co.donation_id)
    other = pf.seeded["other_org"]
    theirs = pf.auth(other["api_key"])
    mine = f"/api/v1/orgs/{pf.org}"
    for path in (
        f"{mine}/receipts", f"{mine}/receipts/{item['id']}.pdf", f"{mine}/fiscal-declaration/2026",
    ):  # fmt: skip
        r = await pf.app.get(path, headers=theirs)
        assert r.status_code == 404, (path, r.text)
    # Through its own URL, the other association does not find our receipt either.
    r = await pf.app.get(
        f"/api/v1/orgs/{other['org_slug']}/receipts/{item['id']}.pdf", headers=theirs
    )
    assert r.status_code == 404
    listed = await pf.app.get(f"/api/v1/orgs/{other['org_slug']}/receipts", headers=theirs)
    assert listed.json()["items"] == []
    assert (await pf.app.get(f"{mine}/receipts")).status_code == 401
