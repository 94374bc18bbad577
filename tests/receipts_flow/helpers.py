"""Helpers of the receipt flow tests: paid gifts, the receipts API, PDF text."""

from __future__ import annotations

import re
from io import BytesIO
from typing import Any

from arq.connections import ArqRedis
from pypdf import PdfReader

from tests.support.platform import Checkout, Platform, donor


async def paid_gift(
    pf: Platform,
    redis: ArqRedis,
    email: str,
    amount: int = 2500,
    provider: str = "stripe",
    **over: Any,
) -> Checkout:
    """A gift taken through checkout, paid in the sandbox, its webhooks processed."""
    person = over.pop("donor", {})
    co = await pf.checkout(provider, amount, donor=donor(email=email, **person), **over)
    await pf.settle(co.checkout_id, "paid")
    await pf.deliver_and_process(redis)
    assert await pf.status(co.donation_id) == "paid"
    return co


async def receipts(pf: Platform, **params: Any) -> list[dict[str, Any]]:
    r = await pf.app.get(f"/api/v1/orgs/{pf.org}/receipts", params=params, headers=pf.auth())
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def receipts_of(pf: Platform, donation_id: str) -> list[dict[str, Any]]:
    """The donation's receipts, oldest first."""
    found = [x for x in await receipts(pf) if donation_id in x["donation_ids"]]
    return sorted(found, key=lambda x: x["number"])


async def pdf(pf: Platform, receipt_id: str, suffix: str = ".pdf") -> bytes:
    r = await pf.app.get(f"/api/v1/orgs/{pf.org}/receipts/{receipt_id}{suffix}", headers=pf.auth())
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    return r.content


def text_of(data: bytes) -> str:
    reader = PdfReader(BytesIO(data))
    raw = "\n".join(page.extract_text() for page in reader.pages)
    return re.sub(r"\s+", " ", raw)
