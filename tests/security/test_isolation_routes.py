"""Tenant isolation, generated from the route table: every route of an association (``{org}``
in its path: the JSON API under /api/v1/orgs and the back-office under /admin), every method,
tried by a member (session cookie, their own CSRF token) and by an API key of ANOTHER
association, with the real ids of the victim association's objects. Each answer is 403/404
(never a success nor a redirect to one), none shows the victim's data, and not one of the
victim's rows changed.

A new route is covered by adding it to the app: if its path has a parameter this test cannot
fill, the test fails and says which — add the parameter to ``OBJECT_PARAMS`` (with an object
of the victim made in ``_victim``) or to ``VALUE_PARAMS``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from arq.connections import ArqRedis
from starlette.routing import Route

from donate.web.app import all_routes
from tests.backoffice_more.helpers import add_endpoint, monthly_plan
from tests.backoffice_pages.helpers import campaign_form, paid_gift, value
from tests.integrator_webhooks.helpers import Receiver
from tests.support.backoffice import AdminClient, demo_admin, member_client
from tests.support.platform import Platform

PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")
VICTIM_EMAIL = "isolation-victim@example.org"

# Path parameter → the key of the victim's object in ``_victim`` (a real id of theirs).
OBJECT_PARAMS = {
    "campaign_id": "campaign", "donation_id": "donation", "donor_id": "donor",
    "receipt_id": "receipt", "payout_id": "payout", "plan_id": "plan",
    "endpoint_id": "endpoint", "delivery_id": "delivery", "update_id": "update",
    "user_id": "member", "invitation_id": "invitation", "key_id": "api_key",
    "export_id": "export",
}  # fmt: skip
# Parameters that name no object (a format, a year, a file of the association itself).
VALUE_PARAMS = {"fmt": "csv", "year": str(datetime.now(UTC).year), "name": "logo.png"}


@dataclass(frozen=True)
class Walked:
    method: str
    path: str  # the route's template
    params: tuple[str, ...]

    @property
    def api(self) -> bool:
        return self.path.startswith("/api/")

    @property
    def names_objects(self) -> bool:
        return any(p in OBJECT_PARAMS for p in self.params)

    def url(self, org: str, ids: dict[str, str]) -> str:
        def fill(m: re.Match[str]) -> str:
            name = m.group(1)
            if name == "org":
                return org
            return ids[OBJECT_PARAMS[name]] if name in OBJECT_PARAMS else VALUE_PARAMS[name]

        return PARAM.sub(fill, self.path)


def org_routes() -> list[Walked]:
    """(method, path) of every route whose path has ``{org}``, from the app's route table."""
    out, unknown = [], []
    for route in all_routes():
        if not isinstance(route, Route) or "{org}" not in route.path:
            continue
        params = tuple(PARAM.findall(route.path))
        unknown += [
            f"{route.path}: {{{p}}}"
            for p in params
            if p != "org" and p not in OBJECT_PARAMS and p not in VALUE_PARAMS
        ]
        for method in sorted((route.methods or set()) - {"HEAD"}):
            out.append(Walked(method, route.path, params))
    if unknown:
        pytest.fail(
            "path parameters the isolation test cannot fill (map them in OBJECT_PARAMS or "
            "VALUE_PARAMS of tests/security/test_isolation_routes.py): " + ", ".join(unknown)
        )
    return out


async def _victim(pf: Platform, redis: ArqRedis, receiver: Receiver) -> dict[str, str]:
    """One object of every kind for the demo association, made the way users make them."""
    admin = await demo_admin(pf)
    base = f"/admin/{pf.org}"
    donation = await paid_gift(pf, redis, VICTIM_EMAIL, 4000)
    # A partial refund: the receipt is canceled (the cancellation notice exists) and re-issued.
    r = await pf.app.post(
        f"/api/v1/orgs/{pf.org}/donations/{donation}/refund",
        json={"amount_minor": 1000}, headers=pf.auth(),
    )  # fmt: skip
    assert r.status_code in (200, 201, 202), r.text
    r = await pf.sandbox.post("/control/payout", json={"provider": "stripe"})
    assert r.status_code == 200, r.text
    await pf.deliver_and_process(redis)
    plan = await monthly_plan(pf, redis)
    endpoint, _secret = await add_endpoint(admin, pf.org, receiver.url)
    r = await admin.submit(f"{base}/webhooks/{endpoint}", f"{base}/webhooks/{endpoint}/test")
    assert r.status_code == 303, r.text[:500]
    delivery = r.headers["location"].split("?")[0].rsplit("/", 1)[1]
    page = f"{base}/campaigns/{pf.campaign_id}"
    r = await admin.submit(page, f"{page}/updates", {"title": "Nouvelles", "body_md": "Ça pousse."})
    assert r.status_code == 303, r.text[:500]
    r = await admin.submit(f"{base}/members", f"{base}/members/invite",
                           {"email": "invited-victim@example.org", "role": "finance"})  # fmt: skip
    assert r.status_code == 303, r.text[:500]
    await pf.deliver_and_process(redis)
    async with pf.runtime.pool.acquire() as conn:
        org_id: UUID = await conn.fetchval("SELECT id FROM organizations WHERE slug = $1", pf.org)
        ids = {
            "campaign": pf.campaign_id,
            "donation": donation,
            "donor": await conn.fetchval(
                "SELECT donor_id FROM donations WHERE id = $1::uuid", donation
            ),
            "receipt": await conn.fetchval(
                "SELECT r.id FROM receipts r JOIN receipt_donations rd ON rd.receipt_id = r.id "
                "WHERE rd.donation_id = $1::uuid AND r.status = 'canceled'",
                donation,
            ),
            "payout": await conn.fetchval(
                "SELECT id FROM payouts WHERE organization_id = $1 ORDER BY created_at DESC "
                "LIMIT 1",
                org_id,
            ),
            "plan": plan["id"],
            "endpoint": endpoint,
            "delivery": delivery,
            "update": await conn.fetchval(
                "SELECT id FROM campaign_updates WHERE organization_id = $1", org_id
            ),
            "member": await conn.fetchval(
                "SELECT user_id FROM memberships WHERE organization_id = $1 AND role = 'finance' "
                "LIMIT 1",
                org_id,
            ),
            "invitation": await conn.fetchval(
                "SELECT id FROM invitations WHERE organization_id = $1", org_id
            ),
            "api_key": await conn.fetchval(
                "SELECT id FROM api_keys WHERE organization_id = $1 LIMIT 1", org_id
            ),
        }
        if await conn.fetchval("SELECT to_regclass('report_exports') IS NOT NULL"):
            ids["export"] = await conn.fetchval(
                """INSERT INTO report_exports (organization_id, requested_by, spec, status, error,
                       file_name, content_type)
                   VALUES ($1, $2, '{"kind": "fec", "format": "txt"}', 'failed', 'test',
                           'fec.txt', 'text/plain')
                   RETURNING id""",
                org_id, f"api_key:{ids['api_key']}",
            )  # fmt: skip
    missing = [k for k, v in ids.items() if v is None]
    assert not missing, missing
    return {k: str(v) for k, v in ids.items()}


async def _snapshot(pf: Platform) -> dict[str, Any]:
    """Every row of the victim association (count and a digest of its content, so an
    ``updated_at`` or any other column that moved shows), its members' accounts, and the
    audit log and outbox as a whole."""
    async with pf.runtime.pool.acquire() as conn:
        org_id = await conn.fetchval("SELECT id FROM organizations WHERE slug = $1", pf.org)
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND column_name = 'organization_id' ORDER BY table_name"
        )
        snap: dict[str, Any] = {}
        for t in tables:
            name = t["table_name"]
            snap[name] = tuple(
                await conn.fetchrow(
                    f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), "
                    f"'')) FROM \"{name}\" t WHERE organization_id = $1",
                    org_id,
                )
            )
        snap["organizations"] = await conn.fetchval(
            "SELECT md5(o::text) FROM organizations o WHERE id = $1", org_id
        )
        snap["users"] = await conn.fetchval(
            "SELECT md5(string_agg(u::text, '|' ORDER BY u.id)) FROM users u "
            "JOIN memberships m ON m.user_id = u.id WHERE m.organization_id = $1",
            org_id,
        )
        snap["audit_log (all)"] = await conn.fetchval("SELECT count(*) FROM audit_log")
        snap["outbox (all)"] = await conn.fetchval("SELECT count(*) FROM outbox")
    assert len(tables) >= 20, "the snapshot should see every association-owned table"
    return snap


def _form(token: str, receiver: Receiver) -> dict[str, Any]:
    """A POSTed form that would do something on any back-office action, if allowed."""
    return campaign_form(title="Pirate") | {
        "csrf_token": token, "confirm": "yes", "amount": "1", "role": "owner",
        "email": "intruder@example.org", "name": "intrus", "url": receiver.url,
        "event_types": "donation.paid", "enabled": "on", "year": VALUE_PARAMS["year"],
        "body_md": "pirate", "publish": "on", "api_key": "test_intruder",
    }  # fmt: skip


def _json(w: Walked, receiver: Receiver) -> dict[str, Any]:
    """A valid JSON body of the route's action (one that would do something if allowed;
    unknown fields are refused with a 422 before the object is looked up)."""
    endpoint = {"url": receiver.url, "event_types": ["donation.paid"]}
    bodies: dict[str, dict[str, Any]] = {
        "/refund": {"amount_minor": 100},
        "/webhook-endpoints": endpoint,
        "/webhook-endpoints/{endpoint_id}": endpoint,
        "/rotate-secret": {"grace_period_s": 0},
        "/receipts/annual": {"year": int(VALUE_PARAMS["year"])},
    }
    return next((b for end, b in bodies.items() if w.path.endswith(end)), {})


def _cases(routes: list[Walked], victim_org: str, own_org: str) -> Iterator[tuple[Walked, str]]:
    """Each route under the victim's URL; those naming an object, under the intruder's own
    URL too (their association, the victim's id). A collection under their own URL is theirs."""
    for w in routes:
        yield w, victim_org
        if w.names_objects:
            yield w, own_org


def _refused(r: Any, *, matching: bool) -> bool:
    """403/404 for the credential the route takes; the other kind of credential may also be
    asked for (401 for the API, the login page for the back-office)."""
    if r.status_code in (403, 404):
        return True
    if matching:
        return False
    if r.status_code == 401:
        return True
    return r.status_code == 303 and r.headers["location"].startswith("/admin/login")


async def test_every_association_route_refuses_another_association(
    pf: Platform, redis: ArqRedis, receiver: Receiver
) -> None:
    routes = org_routes()
    assert sum(w.api for w in routes) >= 20 and sum(not w.api for w in routes) >= 40
    ids = await _victim(pf, redis, receiver)
    other = pf.seeded["other_org"]
    # The ids are real: the victim itself opens every page that names one of its objects.
    victim = await demo_admin(pf)
    for w in routes:
        if w.method == "GET" and w.names_objects:
            url = w.url(pf.org, ids)
            r = await (pf.app.get(url, headers=pf.auth()) if w.api else victim.get(url))
            assert r.status_code not in (401, 403, 404), (url, r.status_code, r.text[:300])
    victim_session = await value(
        pf, "SELECT id FROM user_sessions WHERE user_id = (SELECT id FROM users WHERE "
        "email = $1) AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 1",
        pf.seeded["admin_email"],
    )  # fmt: skip

    intruder: AdminClient = await member_client(pf, other["org_slug"], "owner")
    token = await intruder.csrf(f"/admin/{other['org_slug']}/members")
    key = pf.auth(other["api_key"])
    before = await _snapshot(pf)
    tried = 0
    for w, org in _cases(routes, pf.org, other["org_slug"]):
        url = w.url(org, ids)
        for credential in ("session", "api_key"):
            matching = (credential == "api_key") == w.api
            if credential == "session":
                body = {"data": _form(token, receiver)} if w.method != "GET" else {}
                r = await intruder.request(w.method, url, **body)
            else:
                body = {"json": _json(w, receiver)} if w.method != "GET" else {}
                r = await pf.app.request(w.method, url, headers=key, **body)
            tried += 1
            assert _refused(r, matching=matching), (credential, w.method, url, r.status_code,
                                                    r.text[:300])  # fmt: skip
            assert VICTIM_EMAIL not in r.text and "%PDF" not in r.text[:10], (w.method, url)
    # A session of the victim is not the intruder's to revoke either.
    r = await intruder.post(
        f"/admin/account/sessions/{victim_session}/revoke", data={"csrf_token": token}
    )
    assert r.status_code == 404
    after = await _snapshot(pf)
    changed = {k: (before[k], after.get(k)) for k in before if before[k] != after.get(k)}
    assert not changed, changed
    assert tried >= 4 * 60
    # The victim is still signed in and still sees its objects.
    assert (await victim.get(f"/admin/{pf.org}/donations/{ids['donation']}")).status_code == 200
