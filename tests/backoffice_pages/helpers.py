"""Helpers of the back-office page tests: forms as a browser posts them, rows as SQL sees them."""

from __future__ import annotations

import io
import re
import uuid
from typing import Any

from PIL import Image

from tests.support.backoffice import add_member
from tests.support.platform import Platform


def campaign_form(**over: Any) -> dict[str, Any]:
    return {
        "title": "Des ruches pour l'école",
        "slug": "",
        "kind": "donation",
        "currency": "EUR",
        "goal": "5000",
        "min_amount": "5",
        "max_amount": "2000",
        "suggested_amounts": "20 50 100",
        "frequency_once": "on",
        "frequency_monthly": "on",
        "starts_on": "",
        "ends_on": "",
        "story_md": "Nous **installons** des ruches.",
        "thank_you_message": "Merci beaucoup !",
        "receipt_eligible": "on",
        "show_donor_wall": "on",
        **over,
    }


def png(width: int = 60, height: int = 40) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 120, 60)).save(out, format="PNG")
    return out.getvalue()


async def value(pf: Platform, sql: str, *args: Any) -> Any:
    async with pf.runtime.pool.acquire() as conn:
        return await conn.fetchval(sql, *args)


async def row(pf: Platform, sql: str, *args: Any) -> Any:
    async with pf.runtime.pool.acquire() as conn:
        return await conn.fetchrow(sql, *args)


def location_id(location: str) -> str:
    found = re.search(r"/(?:campaigns|donations|donors)/([0-9a-f-]{36})", location)
    assert found, location
    return found.group(1)


async def foreign_org(pf: Platform, *, country: str = "FR", ids: bool = True) -> str:
    """A third association (optionally without SIREN/RNA: only allowed outside France)."""
    slug = f"assoc-{uuid.uuid4().hex[:8]}"
    async with pf.runtime.pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO organizations (slug, legal_name, address_line1, postal_code, city,
                   country, siren, object)
               VALUES ($1, 'Autre Asso', '1 rue X', '75001', 'Paris', $2, $3, 'Objet')""",
            slug,
            country,
            "712345678" if ids else None,
        )
    return slug


async def owner_of(pf: Platform, org_slug: str) -> str:
    return await add_member(pf, org_slug, "owner")


async def paid_gift(pf: Platform, redis: Any, email: str, amount: int = 2500, **over: Any) -> str:
    """A gift taken through checkout, paid in the sandbox, its webhooks and jobs processed."""
    from tests.support.platform import donor

    person = over.pop("donor", {})
    co = await pf.checkout(
        over.pop("provider", "stripe"), amount, donor=donor(email=email, **person), **over
    )
    await pf.settle(co.checkout_id, "paid")
    await pf.deliver_and_process(redis)
    assert await pf.status(co.donation_id) == "paid"
    return co.donation_id
