"""The checkout refuses up front, with field errors, what the receipt renderer would refuse
later: a gift that asks for a receipt must carry every mention of the donor (DOMAIN.md §1,
mention 5), for a company its name, legal form and SIREN."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from arq.connections import ArqRedis

from donate.receipts.snapshot import ReceiptIncomplete
from tests.receipts.factories import COMPANY, company
from tests.support.platform import Platform, donor

from .helpers import paid_gift, receipts_of


async def _count(pf: Platform) -> int:
    async with pf.runtime.pool.acquire() as conn:
        n: int = await conn.fetchval("SELECT count(*) FROM donations")
    return n


@pytest.mark.parametrize(
    ("company", "field"),
    [
        ({"company_name": "Fénelon SARL", "siren": "552100554"}, "donor.legal_form"),
        (
            {"company_name": "Fénelon SARL", "siren": "552100554", "legal_form": " "},
            "donor.legal_form",
        ),
        ({"company_name": "Fénelon SARL", "legal_form": "SARL"}, "donor.siren"),
    ],
)
async def test_company_receipt_needs_legal_form_and_siren(
    pf: Platform, company: dict[str, Any], field: str
) -> None:
    before = await _count(pf)
    body = pf.checkout_body(provider="stripe", donor=donor(**company))
    r = await pf.app.post("/api/v1/checkouts", json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert field in r.json()["errors"], r.json()
    assert await _count(pf) == before


async def test_company_without_receipt_needs_no_legal_form(pf: Platform) -> None:
    body = pf.checkout_body(
        provider="stripe", wants_receipt=False,
        donor=donor(company_name="Fénelon SARL", siren="552100554"),
    )  # fmt: skip
    r = await pf.app.post("/api/v1/checkouts", json=body)
    assert r.status_code == 201, r.text


def test_the_snapshot_refuses_what_the_checkout_refuses() -> None:
    # The other side of the same rule: without the checkout check, such a donor would
    # make an incomplete snapshot and no receipt at all.
    with pytest.raises(ReceiptIncomplete) as exc:
        company(donor=replace(COMPANY, legal_form=""))
    assert exc.value.missing == ("donor.legal_form",)


async def test_company_with_legal_form_gets_its_receipt(pf: Platform, redis: ArqRedis) -> None:
    co = await paid_gift(
        pf, redis, "sas@example.org", 50_000,
        donor={"company_name": "Atelier Vauban", "siren": "732829320", "legal_form": "SAS"},
    )  # fmt: skip
    [item] = await receipts_of(pf, co.donation_id)
    assert (item["form"], item["status"]) == ("16216", "issued")
