"""Refunds and chargebacks of a receipted gift: the receipt is canceled (kept, with reason
and date, the donor told in writing) and a new receipt with a new number covers what is
left, if anything. Numbers are never reused."""

from __future__ import annotations

from typing import Any

from arq.connections import ArqRedis

from tests.support.platform import Platform, SmtpOutbox

from .helpers import paid_gift, pdf, receipts, receipts_of, text_of


async def _refund(pf: Platform, redis: ArqRedis, donation_id: str, amount: int | None) -> None:
    body: dict[str, Any] = {} if amount is None else {"amount_minor": amount}
    r = await pf.app.post(
        f"/api/v1/orgs/{pf.org}/donations/{donation_id}/refund", json=body, headers=pf.auth()
    )
    assert r.status_code in (201, 202), r.text
    await pf.deliver_and_process(redis)


async def test_partial_refund_cancels_and_reissues_with_a_new_number(
    pf: Platform, redis: ArqRedis, smtp_outbox: SmtpOutbox
) -> None:
    co = await paid_gift(pf, redis, "partial@example.org", 6000)
    [first] = await receipts_of(pf, co.donation_id)

    await _refund(pf, redis, co.donation_id, 2500)
    assert await pf.status(co.donation_id) == "partially_refunded"

    old, new = await receipts_of(pf, co.donation_id)
    assert old["id"] == first["id"]
    assert old["status"] == "canceled"
    assert old["canceled_at"] is not None
    assert old["cancel_reason"] == "Don partiellement remboursé au donateur"
    assert (new["status"], new["amount_minor"], new["replaces"]) == ("issued", 3500, old["id"])
    assert new["number"] > old["number"]
    assert "annule et remplace le reçu n° " + old["number"] in text_of(await pdf(pf, new["id"]))

    notice = text_of(await pdf(pf, old["id"], "/cancellation.pdf"))
    assert f"Annulation du reçu n° {old['number']}" in notice
    assert "Motif : Don partiellement remboursé au donateur" in notice

    # The donor is told in writing: a cancellation notice, then the new receipt.
    subjects = [m["Subject"] for m in smtp_outbox.messages(to="partial@example.org")]
    assert sorted(subjects) == sorted(
        [
            f"Votre reçu fiscal n° {old['number']} — Les Amis du Jardin Partagé",
            f"Annulation de votre reçu fiscal n° {old['number']} — Les Amis du Jardin Partagé",
            f"Votre reçu fiscal n° {new['number']} — Les Amis du Jardin Partagé",
        ]
    )
    [cancel_mail] = [m for m in smtp_outbox.messages(to="partial@example.org")
                     if m["Subject"].startswith("Annulation")]  # fmt: skip
    [attachment] = list(cancel_mail.iter_attachments())
    assert f"Annulation du reçu n° {old['number']}" in text_of(attachment.get_content())
    # The donor's old link now serves the cancellation notice, never the void receipt.
    body = cancel_mail.get_body(("plain",))
    assert body is not None
    link = next(w for w in body.get_content().split() if "/receipts/" in w)
    r = await pf.app.get(link)
    assert r.status_code == 200
    assert "Annulation du reçu" in text_of(r.content)

    # Refunding the rest cancels the replacement and issues nothing more.
    await _refund(pf, redis, co.donation_id, None)
    assert await pf.status(co.donation_id) == "refunded"
    statuses = [(x["number"], x["status"]) for x in await receipts_of(pf, co.donation_id)]
    assert statuses == [(old["number"], "canceled"), (new["number"], "canceled")]


async def test_full_refund_cancels_only(pf: Platform, redis: ArqRedis) -> None:
    co = await paid_gift(pf, redis, "full@example.org", 3000)
    await _refund(pf, redis, co.donation_id, None)
    [only] = await receipts_of(pf, co.donation_id)
    assert only["status"] == "canceled"
    assert only["cancel_reason"] == "Don intégralement remboursé au donateur"


async def test_chargeback_cancels_the_receipt(pf: Platform, redis: ArqRedis) -> None:
    co = await paid_gift(pf, redis, "bank@example.org", 4500, provider="mollie")
    r = await pf.sandbox.post(
        "/control/chargeback", json={"payment_id": await pf.payment_id(co.donation_id)}
    )
    assert r.status_code == 200, r.text
    await pf.deliver_and_process(redis)
    assert await pf.status(co.donation_id) == "disputed"
    [only] = await receipts_of(pf, co.donation_id)
    assert only["status"] == "canceled"
    assert "rétrofacturation" in only["cancel_reason"]


async def test_numbers_stay_unique_and_contiguous(pf: Platform) -> None:
    numbers = sorted(x["number"] for x in await receipts(pf))
    assert numbers == [f"2026-{i:06d}" for i in range(1, len(numbers) + 1)]


async def test_fiscal_declaration_counts_live_receipts_only(pf: Platform, redis: ArqRedis) -> None:
    url = f"/api/v1/orgs/{pf.org}/fiscal-declaration/2026"
    before = (await pf.app.get(url, headers=pf.auth())).json()
    co = await paid_gift(pf, redis, "decl@example.org", 12_345)
    await paid_gift(pf, redis, "decl2@example.org", 1_000)
    await _refund(pf, redis, co.donation_id, 345)  # canceled 12 345, reissued 12 000

    r = await pf.app.get(url, headers=pf.auth())
    assert r.status_code == 200, r.text
    assert r.json() == {
        "year": 2026,
        "receipts_count": before["receipts_count"] + 2,
        "total_minor": before["total_minor"] + 13_000,
        "currency": "EUR",
    }
    live = [x for x in await receipts(pf, status="issued") if x["fiscal_year"] == 2026]
    assert r.json()["receipts_count"] == len(live)
    assert r.json()["total_minor"] == sum(x["amount_minor"] for x in live)
    empty = (await pf.app.get(f"/api/v1/orgs/{pf.org}/fiscal-declaration/2025",
                              headers=pf.auth())).json()  # fmt: skip
    assert (empty["receipts_count"], empty["total_minor"]) == (0, 0)
