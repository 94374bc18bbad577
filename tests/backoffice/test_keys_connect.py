"""API keys from the back-office, and connecting Stripe and Mollie against the sandbox."""

from __future__ import annotations

import re

import httpx

from tests.support.backoffice import PASSWORD, add_member, demo_admin, login
from tests.support.platform import Platform


async def test_api_key_shown_once_works_then_revoked(pf: Platform) -> None:
    admin = await demo_admin(pf)
    page = f"/admin/{pf.org}/api-keys"
    r = await admin.submit(page, page, {"name": "Site web", "role": "finance"})
    assert r.status_code == 201
    found = re.search(r'id="new-key" class="secret" readonly value="(dk_[\w-]+)"', r.text)
    assert found
    key = found.group(1)
    async with pf.runtime.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM api_keys WHERE name = 'Site web'")
    assert row is not None and row["role"] == "finance"
    assert key.encode() not in bytes(row["key_hash"]) and key.startswith(row["prefix"])
    listing = await admin.get(page)
    assert key not in listing.text and row["prefix"] in listing.text  # never shown again
    api = f"/api/v1/orgs/{pf.org}/receipts"
    assert (await pf.app.get(api, headers=pf.auth(key))).status_code == 200
    r = await admin.submit(page, f"{page}/{row['id']}/revoke")
    assert r.status_code == 303
    assert (await pf.app.get(api, headers=pf.auth(key))).status_code == 401
    r = await admin.submit(page, page, {"name": "", "role": "owner"})
    assert r.status_code == 400
    assert 'id="name-error"' in r.text and 'id="role-error"' in r.text


async def new_org_owner(pf: Platform, slug: str) -> str:
    """An association without payment accounts, and its owner's e-mail."""
    async with pf.runtime.pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO organizations (slug, legal_name, address_line1, postal_code, city,
               object, siren) VALUES ($1, 'Nouvelle', '1 rue', '75001', 'Paris', 'Objet',
               '732829320')""",
            slug,
        )
    return await add_member(pf, slug, "owner")


async def test_connect_stripe_through_the_sandbox_onboarding(pf: Platform) -> None:
    email = await new_org_owner(pf, "nouvelle-stripe")
    owner = await login(pf, email, PASSWORD)
    page = "/admin/nouvelle-stripe/payments"
    r = await owner.submit(page, f"{page}/stripe")
    assert r.status_code == 303
    onboarding = r.headers["location"]
    assert onboarding.startswith(f"{pf.sandbox_url}/connect/onboard/")
    async with pf.runtime.pool.acquire() as conn:
        status = await conn.fetchval(
            "SELECT status FROM provider_accounts a JOIN organizations o ON o.id = "
            "a.organization_id WHERE o.slug = 'nouvelle-stripe' AND provider = 'stripe'"
        )
    assert status == "pending"
    # Coming back without finishing leaves the account pending.
    async with httpx.AsyncClient() as browser:
        assert (await browser.get(onboarding)).status_code == 200
        r = await browser.post(onboarding, data={"outcome": "complete"})
    assert r.status_code == 303
    back = r.headers["location"].removeprefix(pf.app_url)
    assert back == "/admin/nouvelle-stripe/payments/stripe/return"
    r = await owner.get(back)
    assert r.headers["location"].endswith("notice=stripe_connected")
    async with pf.runtime.pool.acquire() as conn:
        status = await conn.fetchval(
            "SELECT status FROM provider_accounts a JOIN organizations o ON o.id = "
            "a.organization_id WHERE o.slug = 'nouvelle-stripe' AND provider = 'stripe'"
        )
    assert status == "active"


async def test_connect_mollie_with_an_api_key(pf: Platform) -> None:
    email = await new_org_owner(pf, "nouvelle-mollie")
    owner = await login(pf, email, PASSWORD)
    page = "/admin/nouvelle-mollie/payments"
    for bad in ("test_unknownkey123", "nonsense", "test_sandboxAssoc1key"):  # last: taken
        r = await owner.submit(page, f"{page}/mollie", {"api_key": bad})
        assert r.status_code == 400, bad
        assert 'id="api_key-error"' in r.text
    r = await owner.submit(page, f"{page}/mollie", {"api_key": "test_sandboxAssoc3key"})
    assert r.status_code == 303
    async with pf.runtime.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT a.* FROM provider_accounts a JOIN organizations o ON o.id = "
            "a.organization_id WHERE o.slug = 'nouvelle-mollie' AND provider = 'mollie'"
        )
    assert row is not None and row["account_id"] == "pfl_sandboxAssoc3"
    assert row["status"] == "active"
    encrypted = bytes(row["credentials_encrypted"])
    assert b"test_sandboxAssoc3key" not in encrypted
    assert pf.runtime.secrets.decrypt(encrypted) == "test_sandboxAssoc3key"
