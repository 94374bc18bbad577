"""Bad checkout requests: a 4xx problem with field errors, and no donation created."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.platform import Platform, donor


async def _donations(pf: Platform) -> int:
    async with pf.runtime.pool.acquire() as conn:
        count: int = await conn.fetchval("SELECT count(*) FROM donations")
    return count


def _problem(r: Any, status: int = 422) -> dict[str, str]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert {"type", "title", "status", "detail"} <= set(body), body
    errors: dict[str, str] = body.get("errors") or {}
    return errors


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount_minor": -500}, "amount_minor"),
        ({"amount_minor": 0}, "amount_minor"),
        ({"amount_minor": 10.5}, "amount_minor"),
        ({"amount_minor": "10.50"}, "amount_minor"),
        ({"amount_minor": "1000"}, "amount_minor"),
        ({"amount_minor": True}, "amount_minor"),
        ({"amount_minor": 99}, "amount_minor"),  # under the campaign minimum (100)
        ({"amount_minor": 1_000_001}, "amount_minor"),  # over the campaign maximum
        ({"currency": "USD"}, "currency"),
        ({"currency": "eur"}, "currency"),
        ({"campaign_id": str(uuid.uuid4())}, "campaign_id"),
        ({"campaign_id": "not-a-uuid"}, "campaign_id"),
        ({"provider": "paypal"}, "provider"),
        ({"frequency": "weekly"}, "frequency"),
        ({"tip_minor": -1}, "tip_minor"),
        ({"donor": donor(first_name="", last_name="")}, "donor.first_name"),
        ({"donor": donor(address_line1="", city="")}, "donor.address_line1"),
        ({"donor": donor(email="not-an-email")}, "donor.email"),
        ({"donor": donor(company_name="ACME")}, "donor.siren"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
async def test_bad_checkout_fields_are_422_with_field_errors(
    pf: Platform, change: dict[str, Any], field: str
) -> None:
    before = await _donations(pf)
    r = await pf.app.post("/api/v1/checkouts", json={**pf.checkout_body(), **change})
    errors = _problem(r)
    assert field in errors, errors
    assert await _donations(pf) == before


async def test_missing_donor_fields_are_fine_without_a_receipt(pf: Platform) -> None:
    body = pf.checkout_body(
        wants_receipt=False, donor={"email": "anon@example.org"}, provider="stripe"
    )
    r = await pf.app.post("/api/v1/checkouts", json=body)
    assert r.status_code == 201, r.text


@pytest.fixture
async def campaign_sql(pf: Platform) -> AsyncIterator[str]:
    """Restore the campaign's status and end date after the test changed them."""
    yield pf.campaign_id
    async with pf.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE campaigns SET status = 'live', ends_at = NULL WHERE id = $1",
            uuid.UUID(pf.campaign_id),
        )


@pytest.mark.parametrize(
    "update",
    [
        "UPDATE campaigns SET status = 'closed' WHERE id = $1",
        "UPDATE campaigns SET ends_at = now() - interval '1 minute' WHERE id = $1",
    ],
    ids=["closed", "ended"],
)
async def test_closed_or_ended_campaign_refuses_gifts(
    pf: Platform, campaign_sql: str, update: str
) -> None:
    before = await _donations(pf)
    async with pf.runtime.pool.acquire() as conn:
        await conn.execute(update, uuid.UUID(campaign_sql))
    r = await pf.app.post("/api/v1/checkouts", json=pf.checkout_body(provider="stripe"))
    errors = _problem(r)
    assert "campaign_id" in errors, errors
    assert await _donations(pf) == before


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b'{"campaign_id": ', "application/json", 400),
        (b"\xff\xfe{}", "application/json", 400),
        (b"[1, 2]", "application/json", 422),
        (b"null", "application/json", 422),
        (b"campaign_id=1", "application/x-www-form-urlencoded", 415),
    ],
)
async def test_malformed_body_is_4xx_problem(
    pf: Platform, content: bytes, content_type: str, status: int
) -> None:
    r = await pf.app.post(
        "/api/v1/checkouts", content=content, headers={"Content-Type": content_type}
    )
    _problem(r, status)


async def test_oversized_checkout_body_is_413(pf: Platform) -> None:
    body = pf.checkout_body(message="x" * (128 * 1024))
    r = await pf.app.post("/api/v1/checkouts", json=body)
    _problem(r, 413)


async def test_idempotency_key_replays_the_same_answer(pf: Platform) -> None:
    key = f"widget-{uuid.uuid4()}"
    body = pf.checkout_body(3300, provider="mollie")
    before = await _donations(pf)

    first = await pf.app.post("/api/v1/checkouts", json=body, headers={"Idempotency-Key": key})
    again = await pf.app.post("/api/v1/checkouts", json=body, headers={"Idempotency-Key": key})

    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert await _donations(pf) == before + 1

    other = await pf.app.post(
        "/api/v1/checkouts",
        json={**body, "amount_minor": 3400},
        headers={"Idempotency-Key": key},
    )
    assert _problem(other, 422) == {}
    assert other.json()["type"].endswith("idempotency-key-reused")
    assert await _donations(pf) == before + 1


async def test_idempotency_key_replays_a_refusal_too(pf: Platform) -> None:
    key = f"widget-{uuid.uuid4()}"
    body = pf.checkout_body(5, provider="stripe")
    first = await pf.app.post("/api/v1/checkouts", json=body, headers={"Idempotency-Key": key})
    again = await pf.app.post("/api/v1/checkouts", json=body, headers={"Idempotency-Key": key})
    assert _problem(first) == _problem(again)
    assert "amount_minor" in _problem(again)


async def test_stale_idempotency_claims_are_taken_over_and_old_keys_purged(pf: Platform) -> None:
    from donate.db import idempotency

    async with pf.runtime.pool.acquire() as conn:
        first = await idempotency.claim(conn, "test", "dead-request", "h1")
        assert first.fresh
        # A request that died mid-way leaves an unanswered claim: after 5 minutes it is free.
        assert not (await idempotency.claim(conn, "test", "dead-request", "h2")).fresh
        await conn.execute(
            "UPDATE idempotency_keys SET created_at = now() - interval '6 minutes' "
            "WHERE key = 'dead-request'"
        )
        assert (await idempotency.claim(conn, "test", "dead-request", "h2")).fresh
        await idempotency.complete(conn, "test", "dead-request", 201, {"ok": True})
        await conn.execute(
            "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' "
            "WHERE key = 'dead-request'"
        )
        assert await idempotency.purge(conn) >= 1
        assert (
            await conn.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = 'dead-request'")
            == 0
        )
