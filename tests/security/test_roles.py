"""Role checks, in the back-office and through API keys: a campaigner downloads no payout
report and refunds nothing; finance edits no campaign. The routes come from the route table,
so a new report format or campaign action is checked too."""

from __future__ import annotations

import re
from typing import Any

from arq.connections import ArqRedis
from starlette.routing import Route

from donate.db import orgs as orgs_db
from donate.security.crypto import new_api_key
from donate.web.app import all_routes
from tests.backoffice_pages.helpers import campaign_form, paid_gift, png, row, value
from tests.support.backoffice import member_client
from tests.support.platform import Platform

FORMATS = ("csv", "xlsx", "pdf")
RANGE = {"from": "2026-01-01", "to": "2026-12-31"}


def _routes(pattern: str, method: str = "GET") -> list[str]:
    found = [
        r.path
        for r in all_routes()
        if isinstance(r, Route) and re.search(pattern, r.path) and method in (r.methods or ())
    ]
    assert found, pattern
    return found


def _expand(paths: list[str], org: str, **ids: str) -> list[str]:
    out = []
    for path in paths:
        path = path.replace("{org}", org)
        for name, value_ in ids.items():
            path = path.replace("{" + name + "}", value_)
        out += [path.replace("{fmt}", fmt) for fmt in FORMATS] if "{fmt}" in path else [path]
    assert all("{" not in p for p in out), out
    return out


async def _key(pf: Platform, role: str) -> str:
    key, prefix, digest = new_api_key()
    async with pf.runtime.pool.acquire() as conn:
        org = await conn.fetchval("SELECT id FROM organizations WHERE slug = $1", pf.org)
        await orgs_db.upsert_api_key(conn, org, prefix, digest, role, role=role)
    return key


async def _payout(pf: Platform, redis: ArqRedis) -> str:
    await paid_gift(pf, redis, "roles-payout@example.org", 5200)
    r = await pf.sandbox.post("/control/payout", json={"provider": "stripe"})
    assert r.status_code == 200, r.text
    await pf.deliver_and_process(redis)
    payout_id = await value(
        pf, "SELECT p.id FROM payouts p JOIN organizations o ON o.id = p.organization_id "
        "WHERE o.slug = $1 ORDER BY p.created_at DESC LIMIT 1", pf.org,
    )  # fmt: skip
    assert payout_id is not None
    return str(payout_id)


async def _failed_export(pf: Platform) -> str:
    """A report export of the association (finished in error: nothing for a worker to do)."""
    export_id = await value(
        pf, """INSERT INTO report_exports (organization_id, requested_by, spec, status, error,
                   file_name, content_type)
               SELECT o.id, 'user:' || gen_random_uuid(), '{"kind": "fec", "format": "txt"}',
                      'failed', 'test', 'fec.txt', 'text/plain'
               FROM organizations o WHERE o.slug = $1 RETURNING id""", pf.org,
    )  # fmt: skip
    return str(export_id)


async def test_a_campaigner_downloads_no_payout_report(pf: Platform, redis: ArqRedis) -> None:
    ids = {"payout_id": await _payout(pf, redis), "export_id": await _failed_export(pf)}
    finance_only = r"(payouts|reports|exports)"
    admin_urls = _expand(_routes(rf"^/admin/\{{org\}}/{finance_only}"), pf.org, **ids)
    api_urls = _expand(_routes(rf"^/api/v1/orgs/\{{org\}}/{finance_only}"), pf.org, **ids)
    assert len(admin_urls) >= 5 and len(api_urls) >= 8
    finance = await member_client(pf, pf.org, "finance")
    campaigner = await member_client(pf, pf.org, "campaigner")
    finance_key, campaigner_key = await _key(pf, "finance"), await _key(pf, "campaigner")
    for url in admin_urls:
        # Finance may open it (the URL is a real one).
        allowed = await finance.get(url, params=RANGE)
        assert allowed.status_code not in (401, 403, 404), (url, allowed.status_code)
        refused = await campaigner.get(url, params=RANGE)
        assert refused.status_code == 403, (url, refused.status_code)
        assert b"%PDF" not in refused.content and "JournalCode" not in refused.text
    for url in api_urls:
        allowed = await pf.app.get(url, params=RANGE, headers=pf.auth(finance_key))
        assert allowed.status_code not in (401, 403, 404), (url, allowed.status_code)
        refused = await pf.app.get(url, params=RANGE, headers=pf.auth(campaigner_key))
        assert refused.status_code == 403, (url, refused.status_code)
        assert refused.headers["content-type"].startswith("application/problem+json")
    # Nor may they ask for an export to be built.
    token = await campaigner.csrf(f"/admin/{pf.org}")
    spec = {"kind": "payout", "format": "csv", "payout_id": ids["payout_id"]}
    for path in _routes(rf"^/admin/\{{org\}}/{finance_only}", "POST"):
        r = await campaigner.post(path.replace("{org}", pf.org), data={"csrf_token": token, **spec})
        assert r.status_code == 403, (path, r.status_code)
    for path in _routes(rf"^/api/v1/orgs/\{{org\}}/{finance_only}", "POST"):
        r = await pf.app.post(path.replace("{org}", pf.org), json=spec,
                              headers=pf.auth(campaigner_key))  # fmt: skip
        assert r.status_code == 403, (path, r.status_code)


async def test_a_campaigner_refunds_nothing(pf: Platform, redis: ArqRedis) -> None:
    donation_id = await paid_gift(pf, redis, "roles-refund@example.org", 3000)
    campaigner = await member_client(pf, pf.org, "campaigner")
    key = await _key(pf, "campaigner")
    [admin_refund] = _expand(_routes(r"^/admin/.*/refund$", "POST"), pf.org,
                             donation_id=donation_id)  # fmt: skip
    [api_refund] = _expand(_routes(r"^/api/.*/refund$", "POST"), pf.org, donation_id=donation_id)
    token = await campaigner.csrf(f"/admin/{pf.org}")
    for amount in ("", "10"):
        r = await campaigner.post(admin_refund, data={"csrf_token": token, "amount": amount})
        assert r.status_code == 403, r.text[:300]
    for body in ({}, {"amount_minor": 1000}):
        r = await pf.app.post(api_refund, json=body, headers=pf.auth(key))
        assert r.status_code == 403, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    await pf.deliver_and_process(redis)
    assert await pf.status(donation_id) == "paid"
    assert await value(pf, "SELECT count(*) FROM refunds WHERE donation_id = $1::uuid",
                       donation_id) == 0  # fmt: skip
    [payment] = [p for p in (await pf.ledger())["payments"]
                 if p.get("metadata", {}).get("donation_id") == donation_id]  # fmt: skip
    assert payment["refunded_minor"] == 0


async def _campaign_state(pf: Platform) -> tuple[Any, ...]:
    c = await row(pf, "SELECT c::text AS r FROM campaigns c WHERE id = $1::uuid", pf.campaign_id)
    counts = await row(
        pf, "SELECT (SELECT count(*) FROM tiers WHERE campaign_id = $1::uuid) AS tiers, "
        "(SELECT count(*) FROM campaign_updates WHERE campaign_id = $1::uuid) AS updates, "
        "(SELECT count(*) FROM campaigns) AS campaigns", pf.campaign_id,
    )  # fmt: skip
    return (c["r"], *counts.values())


async def test_finance_edits_no_campaign(pf: Platform) -> None:
    news = "00000000-0000-4000-8000-000000000000"  # the role is checked before the lookup
    posts = _expand(_routes(r"^/admin/\{org\}/campaigns", "POST"), pf.org,
                    campaign_id=pf.campaign_id, update_id=news)  # fmt: skip
    assert len(posts) >= 7, posts
    finance = await member_client(pf, pf.org, "finance")
    page = f"/admin/{pf.org}/campaigns/{pf.campaign_id}"
    read = await finance.get(page)
    assert read.status_code == 200 and "<fieldset disabled>" in read.text  # read-only
    assert (await finance.get(f"/admin/{pf.org}/campaigns/new")).status_code == 403
    token = await finance.csrf(page)
    before = await _campaign_state(pf)
    form = campaign_form(title="Pirate") | {
        "csrf_token": token, "tier_title": "Pirate", "tier_amount": "10", "title_1": "Pirate",
        "body_md": "pirate", "publish": "on", "confirm": "yes",
    }  # fmt: skip
    for url in posts:
        files = {"cover": ("c.png", png(), "image/png")} if url.endswith("/cover") else None
        r = await finance.post(url, data=form, files=files)
        assert r.status_code == 403, (url, r.status_code)
    assert await _campaign_state(pf) == before
