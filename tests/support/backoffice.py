"""Back-office test helpers: a browser-like client (cookies, CSRF tokens) and users.

    admin = await login(pf, pf.seeded["admin_email"], pf.seeded["admin_password"])
    r = await admin.get(f"/admin/{pf.org}/members")
    r = await admin.submit(f"/admin/{pf.org}/members", f"/admin/{pf.org}/members/invite",
                           {"email": "x@example.org", "role": "finance"})

``submit`` reads the CSRF token from the page at its first argument, like a browser posting
the form it shows. ``add_member`` makes a verified user with a role directly in the database.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import httpx
from playwright.async_api import Browser, Page

from donate.db import users as users_db
from donate.security.passwords import hash_password
from tests.support.platform import Platform

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery staple"


class AdminClient(httpx.AsyncClient):
    async def csrf(self, page: str) -> str:
        r = await self.get(page)
        assert r.status_code == 200, (page, r.status_code, r.text[:500])
        found = CSRF.search(r.text)
        assert found, f"no CSRF token on {page}"
        return found.group(1)

    async def submit(
        self,
        page: str,
        action: str,
        data: dict[str, Any] | None = None,
        *,
        files: dict[str, Any] | None = None,
    ) -> httpx.Response:
        token = await self.csrf(page)
        return await self.post(action, data={**(data or {}), "csrf_token": token}, files=files)


OPEN: list[AdminClient] = []  # closed after each test by ``close_clients``


def client(pf: Platform) -> AdminClient:
    c = AdminClient(base_url=pf.app_url, timeout=30, follow_redirects=False)
    OPEN.append(c)
    return c


async def close_clients() -> None:
    while OPEN:
        await OPEN.pop().aclose()


async def login(pf: Platform, email: str, password: str = PASSWORD) -> AdminClient:
    """A client signed in as ``email`` (no second factor)."""
    c = client(pf)
    r = await c.submit("/admin/login", "/admin/login", {"email": email, "password": password})
    assert r.status_code == 303, r.text[:500]
    assert "donate_session" in c.cookies
    return c


async def demo_admin(pf: Platform) -> AdminClient:
    return await login(pf, pf.seeded["admin_email"], pf.seeded["admin_password"])


async def add_member(
    pf: Platform,
    org_slug: str,
    role: str,
    *,
    email: str | None = None,
    password: str = PASSWORD,
    reuse: bool = False,
) -> str:
    """A verified user who is ``role`` of ``org_slug``; returns the e-mail address.
    ``reuse``: the user exists already (a member of another association)."""
    email = email or f"{role}-{uuid.uuid4().hex[:8]}@example.org"
    async with pf.runtime.pool.acquire() as conn:
        org_id: UUID = await conn.fetchval("SELECT id FROM organizations WHERE slug = $1", org_slug)
        if reuse:
            user_id = await conn.fetchval(
                "SELECT id FROM users WHERE lower(email) = lower($1)", email
            )
        else:
            user_id = await users_db.create_user(
                conn, email, role.title(), hash_password(password), "fr", verified=True
            )
        await users_db.add_membership(conn, org_id, user_id, role)
    return email


async def member_client(pf: Platform, org_slug: str, role: str) -> AdminClient:
    return await login(pf, await add_member(pf, org_slug, role))


@contextlib.asynccontextmanager
async def signed_in_page(browser: Browser, signed_in: AdminClient) -> AsyncIterator[Page]:
    """A Chromium page carrying ``signed_in``'s back-office session (its own context)."""
    ctx = await browser.new_context()
    try:
        await ctx.add_cookies([{
            "name": "donate_session", "value": signed_in.cookies["donate_session"],
            "domain": "127.0.0.1", "path": "/admin",
        }])  # fmt: skip
        yield await ctx.new_page()
    finally:
        await ctx.close()
