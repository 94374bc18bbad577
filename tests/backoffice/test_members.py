"""Members, roles, invitations and tenant isolation of the back-office."""

from __future__ import annotations

import re
import uuid

from arq.connections import ArqRedis
from starlette.routing import Route

from donate.web import backoffice
from tests.support.backoffice import PASSWORD, add_member, client, demo_admin, login, member_client
from tests.support.platform import Platform, SmtpOutbox

LINK = re.compile(r"http://\S+(/admin/invitations/accept\?token=[\w-]+)")


async def test_invitation_creates_an_account_with_its_role(
    pf: Platform, redis: ArqRedis, smtp_outbox: SmtpOutbox
) -> None:
    admin = await demo_admin(pf)
    page = f"/admin/{pf.org}/members"
    r = await admin.submit(
        page, f"{page}/invite", {"email": "New.Person@example.org", "role": "campaigner"}
    )
    assert r.status_code == 303
    r = await admin.submit(page, f"{page}/invite", {"email": "bad", "role": "king"})
    assert r.status_code == 400
    assert 'id="email-error"' in r.text and 'id="role-error"' in r.text
    await pf.process(redis)
    body = smtp_outbox.messages(to="new.person@example.org")[-1].get_body(("plain",))
    assert body is not None
    found = LINK.search(body.get_content())
    assert found
    link = found.group(1)
    guest = client(pf)
    r = await guest.get(link)
    assert r.status_code == 200
    token = link.split("token=")[1]
    r = await guest.submit(
        link,
        "/admin/invitations/accept",
        {
            "token": token,
            "full_name": "New Person",
            "password": PASSWORD,
            "password_confirm": PASSWORD,
        },
    )
    assert r.status_code == 303
    assert (await guest.get(link)).status_code == 400  # used up
    campaigner = await login(pf, "new.person@example.org")
    assert (await campaigner.get(f"/admin/{pf.org}")).status_code == 200
    # A campaigner opens neither finance nor management pages, and the nav does not offer them.
    r = await campaigner.get(f"/admin/{pf.org}")
    assert f"/admin/{pf.org}/campaigns" in r.text
    assert f"/admin/{pf.org}/donations" not in r.text and f"/admin/{pf.org}/payouts" not in r.text
    for area in ("members", "api-keys", "settings", "payments"):
        assert (await campaigner.get(f"/admin/{pf.org}/{area}")).status_code == 403, area


async def test_finance_role_limits(pf: Platform) -> None:
    finance = await login(pf, pf.seeded["finance_email"], pf.seeded["finance_password"])
    r = await finance.get(f"/admin/{pf.org}")
    assert r.status_code == 200
    assert f"/admin/{pf.org}/donations" in r.text and f"/admin/{pf.org}/payouts" in r.text
    for area in ("members", "api-keys", "settings", "payments"):
        assert (await finance.get(f"/admin/{pf.org}/{area}")).status_code == 403, area
    admin = await demo_admin(pf)
    keys = await count_keys(pf)
    token = await admin.csrf(f"/admin/{pf.org}/api-keys")
    # Finance posting with a (valid for the admin) token still gets 403 and writes nothing.
    r = await finance.post(
        f"/admin/{pf.org}/api-keys", data={"name": "x", "role": "admin", "csrf_token": token}
    )
    assert r.status_code == 403
    assert await count_keys(pf) == keys


async def count_keys(pf: Platform) -> int:
    async with pf.runtime.pool.acquire() as conn:
        n: int = await conn.fetchval("SELECT count(*) FROM api_keys")
    return n


async def test_roles_change_and_last_owner_stays(pf: Platform) -> None:
    owner = await member_client(pf, pf.org, "owner")
    page = f"/admin/{pf.org}/members"
    async with pf.runtime.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT m.user_id, u.email, m.role FROM memberships m JOIN users u ON u.id = m.user_id "
            "JOIN organizations o ON o.id = m.organization_id WHERE o.slug = $1",
            pf.org,
        )
    owners = [r["user_id"] for r in rows if r["role"] == "owner"]
    finance_id = next(r["user_id"] for r in rows if r["email"] == pf.seeded["finance_email"])
    r = await owner.submit(page, f"{page}/{finance_id}/role", {"role": "campaigner"})
    assert r.status_code == 303
    # Demote every owner but the last: the last one stays.
    *others, last = owners
    for user_id in others:
        r = await owner.submit(page, f"{page}/{user_id}/role", {"role": "admin"})
        assert r.status_code == 303
    r = await owner.submit(page, f"{page}/{last}/role", {"role": "admin"})
    assert r.status_code == 409
    r = await owner.submit(page, f"{page}/{last}/remove")
    assert r.status_code == 409
    async with pf.runtime.pool.acquire() as conn:
        role = await conn.fetchval("SELECT role FROM memberships WHERE user_id = $1", last)
        await conn.execute("UPDATE memberships SET role = 'finance' WHERE user_id = $1", finance_id)
        for user_id in others:
            await conn.execute("UPDATE memberships SET role = 'owner' WHERE user_id = $1", user_id)
    assert role == "owner"
    # An admin cannot make anyone an owner.
    admin = await member_client(pf, pf.org, "admin")
    r = await admin.submit(page, f"{page}/{finance_id}/role", {"role": "owner"})
    assert r.status_code == 400
    # Unknown member ids answer 404.
    r = await admin.submit(page, f"{page}/{uuid.uuid4()}/remove")
    assert r.status_code == 404


def org_routes() -> list[tuple[str, str]]:
    """(method, path) of every back-office route under /admin/{org}, from the route table."""
    out = []
    for route in backoffice.routes:
        if isinstance(route, Route) and route.path.startswith("/admin/{org}"):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                out.append((method, route.path))
    return out


async def test_member_of_one_association_gets_404_on_another(pf: Platform) -> None:
    routes = org_routes()
    assert len(routes) >= 10
    admin = await demo_admin(pf)
    other = pf.seeded["other_org"]["org_slug"]
    token = await admin.csrf(f"/admin/{pf.org}/members")
    async with pf.runtime.pool.acquire() as conn:
        before = await conn.fetchval("SELECT count(*) FROM audit_log")
    for method, path in routes:
        url = re.sub(
            r"\{(\w+)\}", lambda m: other if m.group(1) == "org" else str(uuid.uuid4()), path
        )
        r = await admin.request(
            method,
            url,
            data={"csrf_token": token, "role": "admin", "name": "x", "email": "a@b.example"}
            if method == "POST"
            else None,
        )
        assert r.status_code == 404, (method, url, r.status_code)
    async with pf.runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM audit_log") == before
    # Anonymous visitors are sent to the login page, for every route.
    anonymous = client(pf)
    for method, path in routes:
        if method == "GET":
            url = path.replace("{org}", pf.org).replace("{name}", "logo.png")
            r = await anonymous.get(url)
            assert r.status_code == 303 and r.headers["location"].startswith("/admin/login")


async def test_a_member_of_two_associations_switches_between_them(pf: Platform) -> None:
    """One account, two associations: the switcher lists both, each opens with its own
    role, and a third association stays 404."""
    other = pf.seeded["other_org"]["org_slug"]
    email = await add_member(pf, pf.org, "finance")
    await add_member(pf, other, "admin", email=email, reuse=True)
    c = await login(pf, email)
    home = await c.get(f"/admin/{pf.org}")
    assert home.status_code == 200
    assert "Changer d&#39;association" in home.text or "Changer d'association" in home.text
    assert f'href="/admin/{other}"' in home.text
    there = await c.get(f"/admin/{other}/members")
    assert there.status_code == 200  # admin there
    assert (await c.get(f"/admin/{pf.org}/members")).status_code == 403  # finance here
    assert (await c.get("/admin/no-such-association")).status_code == 404
