"""Payouts end to end: gifts, a refund and chargebacks through both providers, a sandbox
payout, the sync, then every report format against our records, to the cent."""

from __future__ import annotations

import contextlib
import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import openpyxl
import pytest
from arq.connections import ArqRedis
from pypdf import PdfReader

from donate.db import orgs as orgs_db
from donate.db import payout_reports as payout_reports_db
from donate.demo import SANDBOX_KEY
from donate.reports.fec import COLUMNS as FEC_COLUMNS
from donate.reports.fec import parse_amount
from donate.security.crypto import new_api_key
from donate.services import payout_reports
from donate.services import payouts as payouts_service
from tests.support.platform import Checkout, Platform, donor

_TODAY = datetime.now(UTC).date()
WINDOW = {
    "from": (_TODAY - timedelta(days=365)).isoformat(),
    "to": (_TODAY + timedelta(days=365)).isoformat(),
}
STRIPE_ACCT, MOLLIE_ACCT, MOLLIE_KEY = (
    "acct_sandboxAssoc1",
    "pfl_sandboxAssoc1",
    "test_sandboxAssoc1key",
)


async def _paid(pf: Platform, redis: ArqRedis, provider: str, amount: int, **over: Any) -> Checkout:
    co = await pf.checkout(provider, amount, **over)
    await pf.settle(co.checkout_id, "paid")
    await pf.deliver_and_process(redis)
    assert await pf.status(co.donation_id) == "paid"
    return co


async def _outside_payments(pf: Platform) -> None:
    """A Stripe charge and a Mollie payment made outside the platform (no donation of ours)."""
    r = await pf.sandbox.post(
        "/stripe/v1/checkout/sessions",
        headers={"Authorization": f"Bearer {SANDBOX_KEY}", "Stripe-Account": STRIPE_ACCT},
        data={
            "mode": "payment",
            "success_url": "https://example.org/ok",
            "line_items[0][price_data][currency]": "eur",
            "line_items[0][price_data][unit_amount]": "1700",
            "line_items[0][price_data][product_data][name]": "Tombola",
            "line_items[0][quantity]": "1",
        },
    )
    assert r.status_code == 200, r.text
    await pf.settle(r.json()["id"], "paid")
    r = await pf.sandbox.post(
        "/mollie/v2/payments",
        headers={"Authorization": f"Bearer {MOLLIE_KEY}"},
        json={
            "amount": {"currency": "EUR", "value": "13.00"},
            "description": "Vente de gâteaux",
            "redirectUrl": "https://example.org/ok",
        },
    )
    assert r.status_code == 201, r.text
    await pf.settle(r.json()["id"], "paid")


async def _payouts(pf: Platform) -> dict[str, dict[str, Any]]:
    r = await pf.app.get(f"/api/v1/orgs/{pf.org}/payouts", headers=pf.auth())
    assert r.status_code == 200, r.text
    return {p["provider_payout_id"]: p for p in r.json()["items"]}


async def _lines_in_db(pf: Platform) -> int:
    async with pf.runtime.pool.acquire() as conn:
        n: int = await conn.fetchval("SELECT count(*) FROM payout_lines")
    return n


def _csv(r: httpx.Response, sep: str) -> list[list[str]]:
    assert r.status_code == 200, r.text
    assert r.content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=sep))


def _table(rows: list[list[str]]) -> list[dict[str, str]]:
    start = next(i for i, row in enumerate(rows) if row and row[0] == "Date")
    head = rows[start]
    out = []
    for row in rows[start + 1 :]:
        if not row:
            break
        out.append(dict(zip(head, row, strict=True)))
    return out


def _dec(text: str) -> Decimal:
    return Decimal(text.replace(",", "."))


@pytest.fixture(scope="module")
async def scenario(platform: Platform) -> dict[str, Any]:
    """Both providers: gifts (a tip, an anonymous donor, a company), a partial refund, a
    chargeback each, a payment made outside the platform each; then one payout each."""
    pf = platform
    redis = ArqRedis.from_url(pf.redis_url)
    try:
        s_tip = await _paid(pf, redis, "stripe", 2500, tip_minor=200)
        s_anon = await _paid(pf, redis, "stripe", 4000, anonymous=True)
        s_corp = await _paid(
            pf, redis, "stripe", 3000,
            donor=donor(email="compta@acme.example", company_name="ACME SA", siren="123456789",
                        legal_form="SA"),
        )  # fmt: skip
        m_tip = await _paid(pf, redis, "mollie", 5000, tip_minor=300)
        m_cb = await _paid(pf, redis, "mollie", 2000)
        r = await pf.app.post(
            f"/api/v1/orgs/{pf.org}/donations/{s_tip.donation_id}/refund",
            json={"amount_minor": 1000},
            headers=pf.auth(),
        )
        assert r.status_code == 201, r.text
        for co in (s_corp, m_cb):
            ref = await pf.payment_id(co.donation_id)
            r = await pf.sandbox.post("/control/chargeback", json={"payment_id": ref})
            assert r.status_code == 200, r.text
        await _outside_payments(pf)
        await pf.deliver_and_process(redis)
        sent: dict[str, int] = {}
        for provider, account in (("stripe", STRIPE_ACCT), ("mollie", MOLLIE_ACCT)):
            r = await pf.sandbox.post(
                "/control/payout", json={"provider": provider, "account": account}
            )
            assert r.status_code == 200, r.text
            for po in r.json().get("payouts", []):
                sent[po["id"]] = po["amount"]
            for stl in r.json().get("settlements", []):
                sent[stl["id"]] = int(_dec(stl["amount"]["value"]) * 100)
        assert len(sent) == 2, sent
        await pf.deliver_and_process(redis)  # Stripe's payout webhooks → sync
        assert [p["provider"] for p in (await _payouts(pf)).values()] == ["stripe"]
        r = await pf.app.post(f"/api/v1/orgs/{pf.org}/payouts/sync", headers=pf.auth())
        assert r.status_code == 202, r.text  # Mollie has no payout webhook
        await pf.process(redis)
        return {
            "sent": sent,
            "donations": {
                "s_tip": s_tip,
                "s_anon": s_anon,
                "s_corp": s_corp,
                "m_tip": m_tip,
                "m_cb": m_cb,
            },
        }
    finally:
        await redis.aclose()


async def test_payouts_are_stored_with_the_providers_amounts(
    pf: Platform, scenario: dict[str, Any]
) -> None:
    listed = await _payouts(pf)
    assert {k: v["amount_minor"] for k, v in listed.items()} == scenario["sent"]
    for p in listed.values():
        assert p["currency"] == "EUR" and p["status"] == "paid" and p["arrival_date"]
        assert set(p) >= {"id", "provider", "provider_payout_id", "amount_minor", "arrival_date"}


async def test_report_lines_match_the_donations_and_nets_sum_to_the_payout(
    pf: Platform, scenario: dict[str, Any]
) -> None:
    d = {k: co.donation_id for k, co in scenario["donations"].items()}
    for payout in (await _payouts(pf)).values():
        r = await pf.app.get(
            f"/api/v1/orgs/{pf.org}/payouts/{payout['id']}/report.csv",
            params={"sep": ";"},
            headers=pf.auth(),
        )
        assert r.headers["content-type"].startswith("text/csv")
        rows = _csv(r, ";")
        lines = _table(rows)
        nets = sum(_dec(ln["Net"]) for ln in lines)
        assert nets * 100 == payout["amount_minor"]
        assert any(row[:2] == ["Contrôle", "OK : la somme des nets égale le montant du versement"]
                   for row in rows)  # fmt: skip
        assert all("," in ln["Net"] or ln["Net"] == "0" for ln in lines)  # decimal comma
        for ln in lines:
            assert _dec(ln["Brut"]) - _dec(ln["Frais total"]) == _dec(ln["Net"])
            assert _dec(ln["Frais prestataire"]) + _dec(ln["Commission plateforme"]) + _dec(
                ln["Pourboire"]
            ) == _dec(ln["Frais total"])
        unmatched = [ln for ln in lines if ln["Rapproché"] == "non"]
        assert len(unmatched) == 1, unmatched  # the payment made outside the platform
        assert unmatched[0]["N° de don"] == "" and unmatched[0]["Type d'opération"] == "Paiement"
        by_donation: dict[str, list[dict[str, str]]] = {}
        for ln in lines:
            by_donation.setdefault(ln["N° de don"], []).append(ln)
        if payout["provider"] == "stripe":
            tip = by_donation[d["s_tip"]]
            pay = next(ln for ln in tip if ln["Type d'opération"] == "Paiement")
            refund = next(ln for ln in tip if ln["Type d'opération"] == "Remboursement")
            assert (pay["Brut"], pay["Pourboire"], pay["Montant du don"]) == (
                "27,00",
                "2,00",
                "25,00",
            )
            assert refund["Net"] == "-10,00"
            anon = by_donation[d["s_anon"]][0]
            assert anon["Donateur"] == "anonyme" and anon["E-mail"] == anon["Nom"] == ""
            corp = by_donation[d["s_corp"]]
            assert {ln["Type d'opération"] for ln in corp} == {"Paiement", "Contestation / impayé"}
            assert corp[0]["Donateur"] == "ACME SA" and corp[0]["SIREN"] == "123456789"
            dispute = next(ln for ln in corp if ln["Type d'opération"] != "Paiement")
            assert _dec(dispute["Brut"]) == -30 and _dec(dispute["Frais prestataire"]) > 0
        else:
            assert {ln["Type d'opération"] for ln in by_donation[d["m_cb"]]} == {
                "Paiement", "Contestation / impayé",
            }  # fmt: skip
            app_fee = [ln for ln in lines if ln["Type d'opération"].startswith("Commission")]
            assert [ln["Pourboire"] for ln in app_fee] == ["3,00"]
            assert by_donation[d["m_tip"]][0]["Brut"] == "53,00"
        campaign_rows = rows[rows.index(["Totaux par campagne"]) :]
        assert any(row and row[0] == "Total" and _dec(row[-1]) * 100 == payout["amount_minor"]
                   for row in campaign_rows)  # fmt: skip


async def test_sync_twice_stores_once(
    pf: Platform, redis: ArqRedis, scenario: dict[str, Any]
) -> None:
    before = await _payouts(pf)
    lines = await _lines_in_db(pf)
    async with pf.runtime.pool.acquire() as conn:
        org = await conn.fetchval("SELECT id FROM organizations WHERE slug = $1", pf.org)
    for provider in ("stripe", "mollie"):
        result = await payouts_service.sync_account(pf.runtime, org, provider)
        assert result.payouts == 1 and result.unmatched == 1
    after = await _payouts(pf)
    for p in (*before.values(), *after.values()):
        del p["synced_at"]  # the only thing a second sync changes
    assert after == before
    assert await _lines_in_db(pf) == lines


async def test_xlsx_opens_with_typed_numbers_and_a_totals_sheet(
    pf: Platform, scenario: dict[str, Any]
) -> None:
    for payout in (await _payouts(pf)).values():
        r = await pf.app.get(
            f"/api/v1/orgs/{pf.org}/payouts/{payout['id']}/report.xlsx", headers=pf.auth()
        )
        assert r.status_code == 200, r.text
        book = openpyxl.load_workbook(io.BytesIO(r.content))
        assert book.sheetnames == ["Résumé", "Mouvements", "Totaux"]
        rows = list(book["Mouvements"].iter_rows(values_only=True))
        head = list(rows[0])
        net = head.index("Net")
        assert all(isinstance(row[net], (int, float)) for row in rows[1:])
        assert round(sum(row[net] for row in rows[1:]) * 100) == payout["amount_minor"]
        totals = [row for row in book["Totaux"].iter_rows(values_only=True) if row[0] == "Total"]
        assert totals and all(round(t[-1] * 100) == payout["amount_minor"] for t in totals)
        summary = [c for row in book["Résumé"].iter_rows(values_only=True) for c in row if c]
        assert "OK : la somme des nets égale le montant du versement" in summary


async def test_pdf_shows_the_check_and_the_totals(pf: Platform, scenario: dict[str, Any]) -> None:
    for payout in (await _payouts(pf)).values():
        r = await pf.app.get(
            f"/api/v1/orgs/{pf.org}/payouts/{payout['id']}/report.pdf", headers=pf.auth()
        )
        assert r.status_code == 200 and r.content.startswith(b"%PDF"), r.text
        content = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
        total = f"{Decimal(payout['amount_minor']) / 100:.2f}"
        assert "la somme des nets égale le montant du versement" in content
        assert total in content
        assert "Mouvements non rapprochés (1)" in content


async def test_fec_balances_and_numbers_entries_continuously(
    pf: Platform, scenario: dict[str, Any]
) -> None:
    today = (await _payouts(pf)).popitem()[1]["arrival_date"]
    r = await pf.app.get(
        f"/api/v1/orgs/{pf.org}/exports/fec",
        params=WINDOW,
        headers=pf.auth(),
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"].endswith(f'FEC{WINDOW["to"].replace("-", "")}.txt"')
    text = r.content.decode("iso-8859-15")
    lines = text.split("\r\n")
    assert lines[0] == "\t".join(FEC_COLUMNS)
    assert lines[0].startswith("JournalCode\tJournalLib\tEcritureNum\tEcritureDate\tCompteNum")
    rows = [dict(zip(FEC_COLUMNS, ln.split("\t"), strict=True)) for ln in lines[1:] if ln]
    entries: dict[tuple[str, str], Decimal] = {}
    for row in rows:
        assert "," in row["Debit"] and "," in row["Credit"]
        key = (row["JournalCode"], row["EcritureNum"])
        entries[key] = (
            entries.get(key, Decimal(0)) + parse_amount(row["Debit"]) - parse_amount(row["Credit"])
        )
        assert row["EcritureDate"].isdigit() and len(row["EcritureDate"]) == 8
    assert all(v == 0 for v in entries.values()), entries
    for journal in ("DON", "BQ"):
        numbers = sorted(int(n) for j, n in entries if j == journal)
        assert numbers == list(range(1, len(numbers) + 1))
        dates = [r["EcritureDate"] for r in rows if r["JournalCode"] == journal]
        assert dates == sorted(dates)
    bank = sum(parse_amount(r["Debit"]) for r in rows if r["CompteNum"] == "512")
    assert bank * 100 == sum(scenario["sent"].values())
    assert today.replace("-", "") in {r["EcritureDate"] for r in rows if r["JournalCode"] == "BQ"}
    clearing = sum(
        parse_amount(r["Debit"]) - parse_amount(r["Credit"]) for r in rows if r["CompteNum"] == "58"
    )
    assert clearing == 0  # everything that came in went out to the bank
    pipe = await pf.app.get(
        f"/api/v1/orgs/{pf.org}/exports/fec",
        params={**WINDOW, "sep": "|"},
        headers=pf.auth(),
    )
    assert pipe.content.decode("iso-8859-15").split("\r\n")[0] == "|".join(FEC_COLUMNS)


async def test_period_and_in_transit_reports(
    pf: Platform, redis: ArqRedis, scenario: dict[str, Any]
) -> None:
    r = await pf.app.get(
        f"/api/v1/orgs/{pf.org}/reports/period.csv",
        params=WINDOW,
        headers=pf.auth(),
    )
    lines = _table(_csv(r, ","))
    assert sum(Decimal(ln["Net"]) for ln in lines) * 100 == sum(scenario["sent"].values())
    later = await _paid(pf, redis, "stripe", 1234)
    r = await pf.app.get(f"/api/v1/orgs/{pf.org}/reports/in-transit.csv", headers=pf.auth())
    transit = _table(_csv(r, ","))
    assert [ln["N° de don"] for ln in transit] == [later.donation_id]
    assert transit[0]["Brut"] == "12.34"


async def test_payout_before_the_payments_webhooks_converges(
    pf: Platform, redis: ArqRedis, scenario: dict[str, Any]
) -> None:
    await pf.process(redis)
    co = await pf.checkout("stripe", 4321)
    await pf.faults(webhook_drop_ratio=1.0)
    await pf.settle(co.checkout_id, "paid")
    r = await pf.sandbox.post(
        "/control/payout", json={"provider": "stripe", "account": STRIPE_ACCT}
    )
    assert r.status_code == 200, r.text
    [sent] = r.json()["payouts"]
    await pf.deliver()
    await pf.faults()
    assert await pf.status(co.donation_id) == "pending"  # no webhook reached us
    r = await pf.app.post(f"/api/v1/orgs/{pf.org}/payouts/sync", headers=pf.auth())
    assert r.status_code == 202, r.text
    await pf.process(redis)
    assert await pf.status(co.donation_id) == "paid"  # the sync re-fetched the payment
    async with pf.runtime.pool.acquire() as conn:
        matched = await conn.fetchval(
            "SELECT count(*) FROM payout_lines WHERE donation_id = $1 AND kind = 'payment'",
            uuid.UUID(co.donation_id),
        )
    assert matched == 1
    # The report is the one in-order webhooks give: the gift matched, with its campaign and
    # donor, and the nets add up to the transfer.
    payout = (await _payouts(pf))[sent["id"]]
    r = await pf.app.get(
        f"/api/v1/orgs/{pf.org}/payouts/{payout['id']}/report.csv", headers=pf.auth()
    )
    rows = _csv(r, ",")
    [line] = [ln for ln in _table(rows) if ln["N° de don"] == co.donation_id]
    assert (line["Rapproché"], line["Brut"], line["Statut du don"]) == ("oui", "43.21", "paid")
    assert (
        line["Campagne"]
        and line["Donateur"] == "Ada Lovelace"
        and line["Type d'opération"] == "Paiement"
    )
    assert sum(Decimal(ln["Net"]) for ln in _table(rows)) * 100 == sent["amount"]


async def test_access_is_for_this_associations_finance_keys(
    pf: Platform, scenario: dict[str, Any]
) -> None:
    payout = next(iter((await _payouts(pf)).values()))
    url = f"/api/v1/orgs/{pf.org}/payouts/{payout['id']}/report.csv"
    other = pf.seeded["other_org"]
    assert (await pf.app.get(url, headers=pf.auth(other["api_key"]))).status_code == 404
    own = f"/api/v1/orgs/{other['org_slug']}/payouts/{payout['id']}/report.csv"
    assert (await pf.app.get(own, headers=pf.auth(other["api_key"]))).status_code == 404
    assert (await pf.app.get(url)).status_code == 401
    missing = f"/api/v1/orgs/{pf.org}/payouts/{uuid.uuid4()}/report.pdf"
    assert (await pf.app.get(missing, headers=pf.auth())).status_code == 404
    key, prefix, digest = new_api_key()
    async with pf.runtime.pool.acquire() as conn:
        org = await conn.fetchval("SELECT id FROM organizations WHERE slug = $1", pf.org)
        await orgs_db.upsert_api_key(conn, org, prefix, digest, "campaigns", role="campaigner")
    assert (await pf.app.get(url, headers=pf.auth(key))).status_code == 403
    fec = f"/api/v1/orgs/{pf.org}/exports/fec"
    assert (await pf.app.get(fec, headers=pf.auth(key))).status_code == 403


@pytest.mark.parametrize(
    "params",
    [{}, {"from": "2026-01-01"}, {"from": "2026-13-01", "to": "2026-12-31"},
     {"from": "2026-12-31", "to": "2026-01-01"}, {"from": "2020-01-01", "to": "2026-12-31"},
     {"from": "2026-01-01", "to": "2026-12-31", "sep": ","}],
)  # fmt: skip
async def test_bad_ranges_and_separators_are_422(pf: Platform, params: dict[str, str]) -> None:
    r = await pf.app.get(f"/api/v1/orgs/{pf.org}/exports/fec", params=params, headers=pf.auth())
    assert r.status_code == 422, r.text
    assert r.json()["errors"]


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("reports/period.csv", {}, 422),
        ("reports/period.csv", {"from": "2026-02-30", "to": "2026-03-31"}, 422),
        ("reports/period.xlsx", {"from": "2026-12-31", "to": "2026-01-01"}, 422),
        ("reports/period.pdf", {"from": "2020-01-01", "to": "2026-12-31"}, 422),
        ("reports/period.csv", {"from": "2026-01-01", "to": "2026-12-31", "sep": "x"}, 422),
        ("reports/in-transit.csv", {"from": "yesterday"}, 422),
        ("reports/period.csv", {"month": "2026-13"}, 422),
        ("reports/period.csv", {"year": "26"}, 422),
        ("payouts", {"from": "2026-13-01"}, 422),
        ("reports/period.docx", {"from": "2026-01-01", "to": "2026-12-31"}, 404),
        ("payouts/not-a-uuid/report.csv", {}, 404),
        (f"payouts/{uuid.uuid4()}/report.xlsx", {}, 404),
    ],
)  # fmt: skip
async def test_bad_report_requests(
    pf: Platform, path: str, params: dict[str, str], status: int
) -> None:
    r = await pf.app.get(f"/api/v1/orgs/{pf.org}/{path}", params=params, headers=pf.auth())
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    if status == 422:
        assert r.json()["errors"]


async def test_period_reports_are_scoped_to_the_association(
    pf: Platform, scenario: dict[str, Any]
) -> None:
    other = pf.seeded["other_org"]
    for path in ("reports/period.csv", "reports/in-transit.csv"):
        ours = _table(_csv(await pf.app.get(
            f"/api/v1/orgs/{pf.org}/{path}", params=WINDOW, headers=pf.auth()
        ), ","))  # fmt: skip
        theirs = _table(_csv(await pf.app.get(
            f"/api/v1/orgs/{other['org_slug']}/{path}", params=WINDOW,
            headers=pf.auth(other["api_key"]),
        ), ","))  # fmt: skip
        assert theirs == [] and (ours or path.endswith("in-transit.csv"))
        r = await pf.app.get(
            f"/api/v1/orgs/{pf.org}/{path}", params=WINDOW, headers=pf.auth(other["api_key"])
        )
        assert r.status_code == 404
    r = await pf.app.get(
        f"/api/v1/orgs/{other['org_slug']}/payouts", headers=pf.auth(other["api_key"])
    )
    assert r.json()["items"] == []


async def test_period_by_month_and_year(pf: Platform, scenario: dict[str, Any]) -> None:
    arrival = next(iter((await _payouts(pf)).values()))["arrival_date"]
    url = f"/api/v1/orgs/{pf.org}/reports/period.csv"
    wide = _table(_csv(await pf.app.get(url, params=WINDOW, headers=pf.auth()), ","))
    for params in ({"month": arrival[:7]}, {"year": arrival[:4]}):
        r = await pf.app.get(url, params=params, headers=pf.auth())
        assert _table(_csv(r, ",")) == wide
    before = int(arrival[:4]) - 1
    r = await pf.app.get(url, params={"year": str(before)}, headers=pf.auth())
    assert _table(_csv(r, ",")) == []


async def test_a_report_closed_early_leaves_the_connection_clean(
    pf: Platform, scenario: dict[str, Any]
) -> None:
    """A download stopped after its first batch (the client went away) ends its transaction
    with the next batch already requested: the connection must go back to the pool usable."""
    async with pf.runtime.pool.acquire() as conn:
        org = await conn.fetchval("SELECT id FROM organizations WHERE slug = $1", pf.org)
    for _ in range(3):
        async with (
            payout_reports.session(pf.runtime, org) as s,
            contextlib.aclosing(payout_reports_db.iter_lines(s.conn, org, chunk=2)) as batches,
        ):
            async for batch in batches:
                assert batch
                break
        async with pf.runtime.pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM payouts") > 0
