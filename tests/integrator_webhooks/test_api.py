"""The endpoints API: validation, roles, secrets and their rotation, tenant isolation,
SSRF refusal under production settings, and delivery surviving a Redis flush."""

from __future__ import annotations

import dataclasses
from typing import Any
from uuid import UUID

import pytest
from arq.connections import ArqRedis

from donate.db import orgs as orgs_db
from donate.jobs.relay import relay_once
from donate.security.crypto import new_api_key
from donate.services import integrator_delivery
from donate.services import integrator_endpoints as svc
from donate.services.errors import InvalidRequest
from donate.services.runtime import Runtime
from donate.web import api_webhooks
from tests.integrator_webhooks.conftest import MakeEndpoint
from tests.integrator_webhooks.helpers import (
    Receiver,
    deliveries_of,
    delivery,
    fast,
    python_verifier,
    settle_until_final,
)
from tests.support.jobs import run_worker_burst
from tests.support.platform import Platform
from tests.support.server import serve


def _base(pf: Platform, org: str | None = None) -> str:
    return f"/api/v1/orgs/{org or pf.org}/webhook-endpoints"


async def _org_id(pf: Platform, slug: str | None = None) -> UUID:
    async with pf.runtime.pool.acquire() as conn:
        org_id: UUID = await conn.fetchval(
            "SELECT id FROM organizations WHERE slug = $1", slug or pf.org
        )
    return org_id


async def _key(pf: Platform, role: str) -> str:
    key, prefix, digest = new_api_key()
    async with pf.runtime.pool.acquire() as conn:
        await orgs_db.upsert_api_key(conn, await _org_id(pf), prefix, digest, role, role)
    return key


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "https://example.org/h", "event_types": ["donation.exploded"]}, "event_types"),
        ({"url": "https://example.org/h", "event_types": []}, "event_types"),
        ({"url": "ftp://example.org/h", "event_types": ["donation.paid"]}, "url"),
        ({"url": "https://u:p@example.org/h", "event_types": ["donation.paid"]}, "url"),
        ({"event_types": ["donation.paid"]}, "url"),
        ({"url": "https://example.org/h", "event_types": ["donation.paid"], "x": 1}, "x"),
        ({"url": "https://example.org/h", "event_types": ["donation.paid"], "enabled": "no"},
         "enabled"),
    ],
)  # fmt: skip
async def test_bad_endpoints_are_422_and_nothing_is_saved(
    pf: Platform, body: dict[str, Any], field: str
) -> None:
    r = await pf.app.post(_base(pf), json=body, headers=pf.auth())
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in r.json()["errors"], r.json()
    listed = await pf.app.get(_base(pf), headers=pf.auth())
    assert listed.json()["items"] == []


async def test_keys_and_roles(pf: Platform, make_endpoint: MakeEndpoint) -> None:
    body = {"url": "https://example.org/h", "event_types": ["donation.paid"]}
    assert (await pf.app.post(_base(pf), json=body)).status_code == 401
    for role in ("finance", "campaigner"):
        key = await _key(pf, role)
        r = await pf.app.post(_base(pf), json=body, headers=pf.auth(key))
        assert r.status_code == 403, r.text
        assert (await pf.app.get(_base(pf), headers=pf.auth(key))).status_code == 403
    r = await pf.app.post(_base(pf), content=b"url=x", headers={**pf.auth(),
                          "content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert r.status_code == 415


async def test_crud_secret_and_rotation(
    pf: Platform, redis: ArqRedis, receiver: Receiver, make_endpoint: MakeEndpoint
) -> None:
    created = await make_endpoint(receiver.url, ["donation.paid"], description=" CRM ")
    url = f"{_base(pf)}/{created['id']}"
    assert created["description"] == "CRM" and created["enabled"] is True

    listed = (await pf.app.get(_base(pf), headers=pf.auth())).json()["items"]
    assert [e["id"] for e in listed] == [created["id"]]
    assert "secret" not in listed[0]
    got = await pf.app.get(url, headers=pf.auth())
    assert got.status_code == 200 and "secret" not in got.json()
    secret = await pf.app.get(f"{url}/secret", headers=pf.auth())
    assert secret.json()["secret"] == created["secret"]
    async with pf.runtime.pool.acquire() as conn:
        stored = await conn.fetchval(
            "SELECT secret_encrypted FROM webhook_endpoints WHERE id = $1", UUID(created["id"])
        )
    assert created["secret"].encode() not in bytes(stored)  # encrypted at rest

    r = await pf.app.patch(
        url, json={"event_types": ["receipt.issued", "donation.paid"]}, headers=pf.auth()
    )
    assert r.status_code == 200, r.text
    assert r.json()["event_types"] == ["donation.paid", "receipt.issued"]
    bad = await pf.app.patch(url, json={"url": "gopher://x"}, headers=pf.auth())
    assert bad.status_code == 422 and "url" in bad.json()["errors"]

    # Rotation with a grace period: both secrets sign, so the receiver can switch calmly.
    rotated = await pf.app.post(
        f"{url}/rotate-secret", json={"grace_period_s": 3600}, headers=pf.auth()
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != created["secret"] and rotated.json()["previous_secret_expires_at"]
    assert (await pf.app.post(f"{url}/test", headers=pf.auth())).status_code == 202
    rt = fast(pf.runtime)
    await settle_until_final(rt, redis, pf.redis_url, created["id"])
    verify = python_verifier()
    header = receiver.hits[-1].headers["donate-signature"]
    assert header.count("v1=") == 2
    assert verify(receiver.hits[-1].body, header, new_secret)
    assert verify(receiver.hits[-1].body, header, created["secret"])

    # Without grace, the old secret stops at once.
    r = await pf.app.post(f"{url}/rotate-secret", json={"grace_period_s": 0}, headers=pf.auth())
    newest = r.json()["secret"]
    assert (await pf.app.post(f"{url}/test", headers=pf.auth())).status_code == 202
    await settle_until_final(rt, redis, pf.redis_url, created["id"])
    header = receiver.hits[-1].headers["donate-signature"]
    assert header.count("v1=") == 1
    assert verify(receiver.hits[-1].body, header, newest)
    assert not verify(receiver.hits[-1].body, header, new_secret)
    bad = await pf.app.post(f"{url}/rotate-secret", json={"grace_period_s": -1},
                            headers=pf.auth())  # fmt: skip
    assert bad.status_code == 422

    default = await pf.app.post(f"{url}/rotate-secret", headers=pf.auth())  # no body
    assert default.status_code == 200, default.text
    assert default.json()["previous_secret_expires_at"] is not None

    log = await pf.app.get(f"{url}/deliveries?limit=1", headers=pf.auth())
    page = log.json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = await pf.app.get(
        f"{url}/deliveries", params={"cursor": page["next_cursor"]}, headers=pf.auth()
    )
    assert len(rest.json()["items"]) == 1 and rest.json()["next_cursor"] is None
    assert {page["items"][0]["id"], rest.json()["items"][0]["id"]} == {
        str(d["id"]) for d in await deliveries_of(rt, created["id"])
    }
    for query in ("status=done", "limit=x", "cursor=nope"):
        r = await pf.app.get(f"{url}/deliveries?{query}", headers=pf.auth())
        assert r.status_code == 422, (query, r.text)

    async with pf.runtime.pool.acquire() as conn:
        actions = await conn.fetch(
            "SELECT action FROM audit_log WHERE target_id = $1 ORDER BY id", created["id"]
        )
    assert [a["action"] for a in actions][:3] == [
        "webhook_endpoint.created", "webhook_endpoint.secret_revealed", "webhook_endpoint.updated",
    ]  # fmt: skip

    assert (await pf.app.delete(url, headers=pf.auth())).status_code == 204
    assert (await pf.app.get(url, headers=pf.auth())).status_code == 404
    assert await deliveries_of(rt, created["id"]) == []


# Valid bodies, so that only the ownership check can refuse.
_BODIES: dict[tuple[str, str], Any] = {
    ("POST", "webhook-endpoints"): {
        "url": "https://evil.example/x",
        "event_types": ["donation.paid"],
    },
    ("POST", "rotate-secret"): {"grace_period_s": 0},
}


async def test_another_association_sees_and_changes_nothing(
    pf: Platform, redis: ArqRedis, receiver: Receiver, make_endpoint: MakeEndpoint
) -> None:
    ours = await make_endpoint(receiver.url, ["donation.paid"])
    r = await pf.app.post(f"{_base(pf)}/{ours['id']}/test", headers=pf.auth())
    ours_delivery = r.json()["id"]
    other = pf.seeded["other_org"]
    other_rec = Receiver()

    async with serve(other_rec.app()) as base:
        theirs = await make_endpoint(
            f"{base}/hook", ["donation.paid"], key=other["api_key"],
            org=other["org_slug"],
        )  # fmt: skip
        before = (await pf.app.get(f"{_base(pf)}/{ours['id']}", headers=pf.auth())).json()
        # Every route of the module, with our ids, from the other association's key:
        # under its own URL and under ours.
        for route in api_webhooks.routes:
            for org in (other["org_slug"], pf.org):
                path = route.path.format(org=org, endpoint_id=ours["id"], delivery_id=ours_delivery)
                for method in route.methods or ():
                    if method == "HEAD":
                        continue
                    resp = await pf.app.request(
                        method, path, headers=pf.auth(other["api_key"]),
                        json=_BODIES.get((method, path.rsplit("/", 1)[-1]))
                        or ({"url": "https://evil.example/x"} if method == "PATCH" else None),
                    )  # fmt: skip
                    if path.endswith("/webhook-endpoints") and org == other["org_slug"]:
                        # Its own collection: the list holds only its endpoint; a create
                        # is its own (then removed).
                        if method == "GET":
                            assert [e["id"] for e in resp.json()["items"]] == [theirs["id"]]
                        continue
                    assert resp.status_code == 404, (method, path, resp.text)
        after = (await pf.app.get(f"{_base(pf)}/{ours['id']}", headers=pf.auth())).json()
        assert after == before
        rt = fast(pf.runtime)
        co = await pf.checkout("stripe", 2600)
        await pf.settle(co.checkout_id, "paid")
        await pf.deliver()
        await settle_until_final(rt, redis, pf.redis_url, ours["id"])
        assert other_rec.hits == []  # our donation never reaches their endpoint
        assert await deliveries_of(rt, theirs["id"]) == []
    assert {h.event["type"] for h in receiver.hits} == {"webhook.test", "donation.paid"}
    async with pf.runtime.pool.acquire() as conn:
        await conn.execute(
            "DELETE FROM webhook_endpoints WHERE organization_id = $1",
            await _org_id(pf, other["org_slug"]),
        )


def _production(rt: Runtime) -> Runtime:
    return dataclasses.replace(
        rt, settings=rt.settings.model_copy(update={"environment": "production"})
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://example.org/hook",  # not https
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://192.168.1.1:8443/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://localhost/hook",
        "https://0.0.0.0/hook",
    ],
)
async def test_production_refuses_private_addresses(pf: Platform, url: str) -> None:
    prod = _production(pf.runtime)
    with pytest.raises(InvalidRequest) as err:
        await svc.create_endpoint(
            prod, await _org_id(pf), url=url, event_types=["donation.paid"], actor="test"
        )
    assert "url" in err.value.errors
    # A public address is accepted under the same settings (the check is not "refuse all").
    endpoint, _ = await svc.create_endpoint(
        prod, await _org_id(pf), url="https://93.184.215.14/hook", event_types=["donation.paid"],
        actor="test",
    )  # fmt: skip
    await svc.delete_endpoint(prod, await _org_id(pf), endpoint.id, actor="test")


async def test_production_refuses_to_deliver_to_a_private_address(
    pf: Platform, receiver: Receiver, make_endpoint: MakeEndpoint
) -> None:
    # Saved while private addresses were allowed (or re-pointed by DNS since): the check
    # before sending refuses it.
    endpoint = await make_endpoint(receiver.url, ["donation.paid"])
    r = await pf.app.post(f"{_base(pf)}/{endpoint['id']}/test", headers=pf.auth())
    delivery_id = UUID(r.json()["id"])
    assert await integrator_delivery.deliver(_production(pf.runtime), delivery_id) == "retrying"
    row = await delivery(pf.runtime, delivery_id)
    assert row["status"] == "retrying" and row["last_error"].startswith("refused")
    assert receiver.hits == []


async def test_deliveries_survive_a_redis_flush(
    pf: Platform, redis: ArqRedis, receiver: Receiver, make_endpoint: MakeEndpoint
) -> None:
    endpoint = await make_endpoint(receiver.url, ["donation.paid"])
    r = await pf.app.post(f"{_base(pf)}/{endpoint['id']}/test", headers=pf.auth())
    assert r.status_code == 202
    rt = fast(pf.runtime)
    assert await relay_once(rt.pool, redis, stale_after_s=3600) >= 1
    await redis.flushdb()  # the queued job is lost with Redis
    await run_worker_burst(rt, pf.redis_url)
    assert receiver.hits == []
    assert (await delivery(rt, r.json()["id"]))["status"] == "pending"
    # The sweeper claims the stale outbox row again.
    assert await relay_once(rt.pool, redis, stale_after_s=0) >= 1
    await run_worker_burst(rt, pf.redis_url)
    assert [h.event["type"] for h in receiver.hits] == ["webhook.test"]
    assert (await delivery(rt, r.json()["id"]))["status"] == "succeeded"


async def test_openapi_documents_the_routes(pf: Platform) -> None:
    doc = (await pf.app.get("/openapi.json")).json()
    for route in api_webhooks.routes:
        ops = doc["paths"][route.path]
        for method in route.methods or ():
            if method != "HEAD":
                assert method.lower() in ops, (method, route.path)
    create = doc["paths"]["/api/v1/orgs/{org}/webhook-endpoints"]["post"]
    schema = create["requestBody"]["content"]["application/json"]["schema"]
    assert "donation.paid" in schema["properties"]["event_types"]["items"]["enum"]
