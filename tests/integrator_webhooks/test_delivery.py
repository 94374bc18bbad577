"""End to end: a sandbox checkout settles, the integrator's receiver gets a signed
``donation.paid`` it can verify with the documented snippet; retries, failure, replay."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import time
from uuid import UUID

from arq.connections import ArqRedis

from donate.db import webhook_deliveries as deliveries_db
from donate.embedded import free_port
from donate.services import integrator_delivery
from tests.integrator_webhooks.conftest import MakeEndpoint
from tests.integrator_webhooks.helpers import (
    Receiver,
    deliveries_of,
    delivery,
    docs_snippet,
    fast,
    python_verifier,
    settle_until_final,
)
from tests.support.jobs import drain
from tests.support.platform import Platform


def _node_verify(script: str, body: bytes, header: str, key: str) -> str:
    out = subprocess.run(
        ["node", "-e", script],
        input=json.dumps([base64.b64encode(body).decode(), header, key]),
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


async def _paid_donation(pf: Platform, amount: int = 2500, provider: str = "stripe") -> str:
    co = await pf.checkout(provider, amount)
    await pf.settle(co.checkout_id, "paid")
    await pf.deliver()
    return co.donation_id


async def test_receiver_gets_a_signed_donation_paid_it_can_verify(
    pf: Platform, redis: ArqRedis, receiver: Receiver, make_endpoint: MakeEndpoint
) -> None:
    endpoint = await make_endpoint(receiver.url, ["donation.paid"])
    secret = endpoint["secret"]
    assert secret.startswith("whsec_")
    rt = fast(pf.runtime)
    donation_id = await _paid_donation(pf, 2500)
    [row] = await settle_until_final(rt, redis, pf.redis_url, endpoint["id"])

    assert row["status"] == "succeeded" and row["attempts"] == 1
    [hit] = receiver.hits
    event = hit.event
    assert hit.headers["donate-event-type"] == event["type"] == "donation.paid"
    assert hit.headers["donate-event-id"] == event["id"] == row["event_id"]
    assert hit.headers["content-type"] == "application/json"
    assert set(event) >= {"id", "type", "created_at", "organization", "data", "api_version"}
    assert event["organization"]["slug"] == pf.org
    api = await pf.app.get(f"/api/v1/orgs/{pf.org}/donations/{donation_id}", headers=pf.auth())
    expected = api.json()
    data = event["data"]
    for name in ("id", "status", "campaign_id", "amount_minor", "currency", "frequency",
                 "tip_minor", "provider", "provider_payment_id", "donor"):  # fmt: skip
        assert data[name] == expected[name], name
    assert data["status"] == "paid" and data["previous_status"] == "pending"
    assert data["amount_minor"] == 2500 and data["currency"] == "EUR"

    verify = python_verifier()
    header = hit.headers["donate-signature"]
    assert verify(hit.body, header, secret)
    assert not verify(hit.body + b" ", header, secret)
    assert not verify(hit.body, header, secret + "x")
    assert not verify(hit.body, header, secret, tolerance_s=-1)  # too old
    sig = integrator_delivery.signature(secret, int(time.time()) - 3600, hit.body)
    assert not verify(hit.body, f"t={int(time.time()) - 3600},v1={sig}", secret)

    # The Node.js snippet of the docs agrees on the same request.
    script = docs_snippet("verify-js") + (
        "\nconst fs = require('node:fs');"
        "\nconst [body, header, secret] = JSON.parse(fs.readFileSync(0, 'utf8'));"
        "\nprocess.stdout.write(String(verifyDonateSignature(Buffer.from(body, 'base64'),"
        " header, secret)));"
    )
    for body, key, want in ((hit.body, secret, "true"), (hit.body + b"x", secret, "false"),
                            (hit.body, "whsec_other", "false")):  # fmt: skip
        assert await asyncio.to_thread(_node_verify, script, body, header, key) == want

    # Running the job again sends nothing: the delivery succeeded.
    assert await integrator_delivery.deliver(rt, row["id"]) == "skipped"
    assert len(receiver.hits) == 1


async def test_500_then_200_is_retried_and_delivered_once(
    pf: Platform, redis: ArqRedis, receiver: Receiver, make_endpoint: MakeEndpoint
) -> None:
    endpoint = await make_endpoint(receiver.url, ["donation.paid"])
    receiver.answers = [500, 503]
    rt = fast(pf.runtime)
    await _paid_donation(pf, 1800)
    [row] = await settle_until_final(rt, redis, pf.redis_url, endpoint["id"])
    assert row["status"] == "succeeded"
    assert row["attempts"] == 3
    assert [h.answered for h in receiver.hits] == [500, 503, 200]
    assert len({h.headers["donate-event-id"] for h in receiver.hits}) == 1
    assert [h.headers["donate-delivery-attempt"] for h in receiver.hits] == ["1", "2", "3"]
    verify = python_verifier()
    assert all(verify(h.body, h.headers["donate-signature"], endpoint["secret"])
               for h in receiver.hits)  # fmt: skip
    assert row["last_response_status"] == 200 and row["last_error"] is None

    log = await pf.app.get(
        f"/api/v1/orgs/{pf.org}/webhook-endpoints/{endpoint['id']}/deliveries",
        headers=pf.auth(),
    )
    assert log.status_code == 200, log.text
    [item] = log.json()["items"]
    assert item["status"] == "succeeded" and item["attempts"] == 3

    await settle_until_final(rt, redis, pf.redis_url, endpoint["id"])
    assert len(receiver.hits) == 3  # nothing more once delivered


async def test_a_receiver_down_for_good_fails_after_the_schedule(
    pf: Platform, redis: ArqRedis, make_endpoint: MakeEndpoint
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    endpoint = await make_endpoint(dead, ["donation.paid"])
    rt = fast(pf.runtime, integrator_webhook_retry_window_s=0.6)
    await _paid_donation(pf, 1900)
    [row] = await settle_until_final(rt, redis, pf.redis_url, endpoint["id"])
    assert row["status"] == "failed"
    assert row["attempts"] >= 2  # retried before giving up
    assert row["next_attempt_at"] is None and row["delivered_at"] is None
    assert row["last_error"] and row["last_response_status"] is None
    async with pf.runtime.pool.acquire() as conn:
        queued = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE task = 'integrator.deliver' "
            "AND payload->>'delivery_id' = $1 AND status IN ('pending', 'enqueued')",
            str(row["id"]),
        )
    assert queued == 0


async def test_replay_sends_the_same_event_as_a_new_delivery(
    pf: Platform, redis: ArqRedis, receiver: Receiver, make_endpoint: MakeEndpoint
) -> None:
    endpoint = await make_endpoint(receiver.url, ["donation.paid"])
    rt = fast(pf.runtime)
    await _paid_donation(pf, 2100)
    [first] = await settle_until_final(rt, redis, pf.redis_url, endpoint["id"])
    base = f"/api/v1/orgs/{pf.org}/webhook-endpoints/{endpoint['id']}/deliveries"
    r = await pf.app.post(f"{base}/{first['id']}/replay", headers=pf.auth())
    assert r.status_code == 202, r.text
    replay = r.json()
    assert replay["replay_of"] == str(first["id"]) and replay["status"] == "pending"
    rows = await settle_until_final(rt, redis, pf.redis_url, endpoint["id"])
    assert [r["status"] for r in rows] == ["succeeded", "succeeded"]
    assert len(receiver.hits) == 2
    assert receiver.hits[0].body == receiver.hits[1].body  # same event, same payload
    assert receiver.hits[0].headers["donate-delivery-id"] != replay["id"]
    assert receiver.hits[1].headers["donate-delivery-id"] == replay["id"]
    assert (await delivery(rt, first["id"]))["attempts"] == 1  # the original is unchanged

    detail = await pf.app.get(f"{base}/{replay['id']}", headers=pf.auth())
    assert detail.status_code == 200
    assert detail.json()["payload"]["id"] == first["event_id"]
    missing = await pf.app.post(f"{base}/{UUID(int=7)}/replay", headers=pf.auth())
    assert missing.status_code == 404


async def test_running_the_job_twice_at_once_sends_once(
    pf: Platform, redis: ArqRedis, receiver: Receiver, make_endpoint: MakeEndpoint
) -> None:
    endpoint = await make_endpoint(receiver.url, ["donation.paid"])
    r = await pf.app.post(
        f"/api/v1/orgs/{pf.org}/webhook-endpoints/{endpoint['id']}/test", headers=pf.auth()
    )
    assert r.status_code == 202, r.text
    delivery_id = UUID(r.json()["id"])
    rt = fast(pf.runtime)
    results = await asyncio.gather(
        integrator_delivery.deliver(rt, delivery_id), integrator_delivery.deliver(rt, delivery_id)
    )
    assert results.count("succeeded") == 1
    # The other run found it held (the job then retries later) or, if it came after, done.
    assert set(results) - {"succeeded"} <= {"busy", "skipped"}
    assert len(receiver.hits) == 1
    assert receiver.hits[0].event["type"] == "webhook.test"
    await settle_until_final(rt, redis, pf.redis_url, endpoint["id"])  # the queued job too
    assert len(receiver.hits) == 1


async def test_disabled_endpoint_and_type_filter(
    pf: Platform, redis: ArqRedis, receiver: Receiver, make_endpoint: MakeEndpoint
) -> None:
    disabled = await make_endpoint(receiver.url, ["donation.paid"], enabled=False)
    receipts_only = await make_endpoint(receiver.url, ["receipt.issued"])
    rt = fast(pf.runtime)
    donation_id = await _paid_donation(pf, 2300)
    rows = await settle_until_final(rt, redis, pf.redis_url, receipts_only["id"])
    assert await deliveries_of(rt, disabled["id"]) == []
    assert [r["event_type"] for r in rows] == ["receipt.issued"]
    [hit] = receiver.hits
    assert hit.event["type"] == "receipt.issued"
    assert hit.event["data"]["donation_ids"] == [donation_id]
    assert hit.event["data"]["status"] == "issued"

    # Re-enabled and subscribed to the refund: the next change reaches it.
    r = await pf.app.patch(
        f"/api/v1/orgs/{pf.org}/webhook-endpoints/{disabled['id']}",
        json={"enabled": True, "event_types": ["donation.refunded", "receipt.canceled"]},
        headers=pf.auth(),
    )
    assert r.status_code == 200, r.text
    r = await pf.app.post(
        f"/api/v1/orgs/{pf.org}/donations/{donation_id}/refund",
        json={"amount_minor": 300},
        headers=pf.auth(),
    )
    assert r.status_code == 201, r.text
    await pf.deliver()
    await settle_until_final(rt, redis, pf.redis_url, disabled["id"])
    refunded = receiver.of_type("donation.refunded")
    assert [h.event["data"]["status"] for h in refunded] == ["partially_refunded"]
    assert refunded[0].event["data"]["refunded_minor"] == 300
    assert len(receiver.of_type("receipt.canceled")) == 1
    assert len(receiver.of_type("receipt.issued")) == 2  # the replacement receipt


async def test_a_run_that_died_mid_request_is_taken_over_after_its_hold(
    pf: Platform, redis: ArqRedis, receiver: Receiver, make_endpoint: MakeEndpoint
) -> None:
    endpoint = await make_endpoint(receiver.url, ["donation.paid"])
    r = await pf.app.post(
        f"/api/v1/orgs/{pf.org}/webhook-endpoints/{endpoint['id']}/test", headers=pf.auth()
    )
    delivery_id = UUID(r.json()["id"])
    async with pf.runtime.pool.acquire() as conn:
        # A worker took it for attempt 1, then died before recording anything.
        assert await deliveries_db.claim(conn, delivery_id, hold_s=3600) is not None
    rt = fast(pf.runtime)
    await drain(rt, redis, pf.redis_url)
    assert receiver.hits == []  # held: the job did not send, the outbox will retry it
    async with pf.runtime.pool.acquire() as conn:
        outbox_row = await conn.fetchrow(
            "SELECT status, last_error FROM outbox WHERE task = 'integrator.deliver' "
            "AND payload->>'delivery_id' = $1",
            str(delivery_id),
        )
        assert outbox_row["status"] == "pending", dict(outbox_row)
        assert "DeliveryInFlight" in outbox_row["last_error"]
        # Time passes: the dead worker's hold expires, the outbox's backoff too.
        await conn.execute(
            "UPDATE webhook_deliveries SET locked_until = now() - interval '1 second' "
            "WHERE id = $1",
            delivery_id,
        )
        await conn.execute(
            "UPDATE outbox SET available_at = now() WHERE task = 'integrator.deliver' "
            "AND payload->>'delivery_id' = $1",
            str(delivery_id),
        )
    [row] = await settle_until_final(rt, redis, pf.redis_url, endpoint["id"])
    assert row["status"] == "succeeded" and row["attempts"] == 2
    assert len(receiver.hits) == 1
