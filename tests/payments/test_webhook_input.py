"""Bad webhook input: forged, missing or stale Stripe signatures are refused and nothing is
stored; an unknown Mollie id is acknowledged and changes nothing; malformed or huge bodies
get a 4xx, never a 500."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import stripe
from arq.connections import ArqRedis

from donate.demo import SANDBOX_KEY
from tests.support.platform import WEBHOOK_SECRET, Platform


async def _stored(pf: Platform) -> int:
    async with pf.runtime.pool.acquire() as conn:
        count: int = await conn.fetchval("SELECT count(*) FROM provider_events")
    return count


async def _undelivered_event(pf: Platform) -> tuple[str, bytes]:
    """A real ``checkout.session.completed`` the sandbox never delivered to us."""
    co = await pf.checkout("stripe", 1500)
    await pf.faults(webhook_drop_ratio=1.0)
    await pf.settle(co.checkout_id, "paid")
    await pf.faults()
    r = await pf.sandbox.get(
        "/stripe/v1/events",
        params={"type": "checkout.session.completed", "limit": 100},
        headers={"Authorization": f"Bearer {SANDBOX_KEY}", "Stripe-Account": "acct_sandboxAssoc1"},
    )
    assert r.status_code == 200, r.text
    events: list[dict[str, Any]] = [
        e for e in r.json()["data"] if e["data"]["object"]["id"] == co.checkout_id
    ]
    assert len(events) == 1, events
    event = {**events[0], "account": "acct_sandboxAssoc1"}
    return co.donation_id, json.dumps(event).encode()


def _headers(signature: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return headers


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(
            lambda body: stripe.WebhookSignature.generate_signature_header(body, "whsec_forged"),
            id="forged",
        ),
        pytest.param(lambda body: None, id="missing"),
        pytest.param(lambda body: "t=123,v1=", id="garbage"),
        pytest.param(
            lambda body: stripe.WebhookSignature.generate_signature_header(
                body, WEBHOOK_SECRET, timestamp=int(time.time()) - 301
            ),
            id="stale",
        ),
    ],
)
async def test_bad_stripe_signature_is_400_and_stores_nothing(
    pf: Platform, redis: ArqRedis, signature: Any
) -> None:
    donation_id, body = await _undelivered_event(pf)
    before = await _stored(pf)

    r = await pf.app.post(
        "/webhooks/stripe", content=body, headers=_headers(signature(body.decode()))
    )

    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert await _stored(pf) == before
    await pf.process(redis)
    assert await pf.status(donation_id) == "pending"
    # The same body, rightly signed, is accepted: the refusal was the signature's doing.
    ok = await pf.post_stripe(body)
    assert ok.status_code == 200, ok.text
    assert await _stored(pf) == before + 1
    await pf.process(redis)
    assert await pf.status(donation_id) == "paid"


async def test_unknown_mollie_id_is_acknowledged_and_changes_nothing(
    pf: Platform, redis: ArqRedis
) -> None:
    totals = await pf.totals()
    async with pf.runtime.pool.acquire() as conn:
        donations_before = await conn.fetch("SELECT id, status, counted_minor FROM donations")

    r = await pf.app.post(
        "/webhooks/mollie",
        content=b"id=tr_doesnotexist",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200, r.text
    await pf.process(redis)

    async with pf.runtime.pool.acquire() as conn:
        donations_after = await conn.fetch("SELECT id, status, counted_minor FROM donations")
        event = await conn.fetchrow(
            "SELECT processed_at, organization_id FROM provider_events "
            "WHERE provider = 'mollie' AND object_id = 'tr_doesnotexist'"
        )
        outbox_failed = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE status <> 'done' AND task = 'provider_event.process'"
        )
    assert sorted(map(tuple, donations_after)) == sorted(map(tuple, donations_before))
    assert await pf.totals() == totals
    assert event is not None and event["processed_at"] is not None
    assert event["organization_id"] is None
    assert outbox_failed == 0


@pytest.mark.parametrize("body", [b"id=", b"id=tr_1&id=tr_2", b"\xff\xfe", b"id=<script>"])
async def test_malformed_mollie_webhook_is_4xx(pf: Platform, body: bytes) -> None:
    before = await _stored(pf)
    r = await pf.app.post(
        "/webhooks/mollie",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert 400 <= r.status_code < 500, r.text
    assert await _stored(pf) == before


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[]", b'{"id": "evt_1"}', b'{"id": "evt_1", "type": "x", "data": {}}'],
)
async def test_malformed_stripe_body_with_a_valid_signature_is_400(
    pf: Platform, body: bytes
) -> None:
    before = await _stored(pf)
    r = await pf.post_stripe(body)
    assert r.status_code == 400, r.text
    assert r.json()["status"] == 400
    assert await _stored(pf) == before


@pytest.mark.parametrize("provider", ["stripe", "mollie"])
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_body_over_one_megabyte_is_413(pf: Platform, provider: str, declared: bool) -> None:
    before = await _stored(pf)
    huge = b'{"id": "evt_huge", "pad": "' + b"x" * (1024 * 1024) + b'"}'

    async def chunks() -> Any:
        for start in range(0, len(huge), 64 * 1024):
            yield huge[start : start + 64 * 1024]

    signature = stripe.WebhookSignature.generate_signature_header(huge.decode(), WEBHOOK_SECRET)
    r = await pf.app.post(
        f"/webhooks/{provider}",
        content=huge if declared else chunks(),
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )
    assert r.status_code == 413, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert await _stored(pf) == before
