"""Checkout limits and the card-testing defence (services.checkout_guard, web.checkout_limits).

The platform's settings turn the guard off for the rest of the suite (every test client is
127.0.0.1); here it is on, with small thresholds, and each test starts with a flushed Redis.
Clients are told apart by ``X-Forwarded-For`` (the test server's peer, 127.0.0.1, is a
trusted proxy). Failed payments go through the sandbox: Mollie marks a declined payment
failed at once (a Stripe Checkout Session stays open for another card, so it never does).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis
from pydantic import ValidationError

from donate.embedded import free_port
from donate.services import checkout_guard
from donate.settings import Settings
from donate.web.app import create_app
from donate.web.client_ip import resolve
from tests.support.db import make_settings
from tests.support.platform import Platform
from tests.support.server import serve

SMALL, LARGE = 300, 2500  # the campaign's minimum is 100; "small" is ≤ 500 by default

LIMITS: dict[str, Any] = {
    "checkout_rate_limits": True,
    "checkout_limit_per_ip": 3,
    "checkout_limit_per_campaign": 6,
    "card_testing_max_failures_per_ip": 2,
    "card_testing_max_failures_per_campaign": 4,
    "card_testing_cooldown_s": 600,
}


@pytest.fixture
async def guarded(pf: Platform, monkeypatch: pytest.MonkeyPatch) -> Platform:
    for name, value in LIMITS.items():
        monkeypatch.setattr(pf.runtime.settings, name, value)
    return pf


async def post_checkout(
    pf: Platform, ip: str, amount: int = LARGE, provider: str = "stripe", **over: Any
) -> httpx.Response:
    body = pf.checkout_body(amount, provider=provider, **over)
    return await pf.app.post("/api/v1/checkouts", json=body, headers={"X-Forwarded-For": ip})


def assert_refused(r: httpx.Response, *, card_testing: bool) -> int:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["status"] == 429 and problem["title"] == "Too many requests"
    assert problem["type"].endswith("/too-many-requests")
    assert ("failed" in problem["detail"]) is card_testing, problem
    retry_after = int(r.headers["retry-after"])
    assert retry_after >= 1
    return retry_after


async def test_per_ip_limit(guarded: Platform) -> None:
    pf = guarded
    for _ in range(3):
        assert (await post_checkout(pf, "203.0.113.1")).status_code == 201
    retry_after = assert_refused(await post_checkout(pf, "203.0.113.1"), card_testing=False)
    assert retry_after <= 60  # the one-minute window
    # A forged X-Forwarded-For prefix does not make another client: the proxy's hop counts.
    r = await post_checkout(pf, "198.51.100.9, 203.0.113.1")
    assert_refused(r, card_testing=False)
    assert (await post_checkout(pf, "203.0.113.2")).status_code == 201


async def test_per_campaign_limit_and_a_refused_client_does_not_use_it_up(
    guarded: Platform,
) -> None:
    pf = guarded
    for _ in range(3):
        assert (await post_checkout(pf, "203.0.113.10")).status_code == 201
    for _ in range(5):  # refused by its own limit: the campaign's budget is untouched
        assert_refused(await post_checkout(pf, "203.0.113.10"), card_testing=False)
    for i in range(3):
        assert (await post_checkout(pf, f"203.0.113.{20 + i}")).status_code == 201
    assert_refused(await post_checkout(pf, "203.0.113.30"), card_testing=False)
    other = str(pf.seeded["campaigns"][1]["id"])
    assert (await post_checkout(pf, "203.0.113.30", campaign_id=other)).status_code == 201


async def test_the_form_without_javascript_is_limited_too(guarded: Platform) -> None:
    pf = guarded
    slug = pf.seeded["campaigns"][0]["slug"]
    form = {
        "amount": "other", "amount_other": "25", "email": "grace@example.org",
        "first_name": "Grace", "last_name": "Hopper", "tip": "0",
    }  # fmt: skip
    headers = {"X-Forwarded-For": "203.0.113.40"}
    answers = [
        await pf.app.post(f"/c/{pf.org}/{slug}/donate", data=form, headers=headers)
        for _ in range(4)
    ]
    assert [r.status_code for r in answers[:3]] == [303, 303, 303], answers[0].text[:2000]
    refused = answers[3]
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert "Trop de tentatives en peu de temps" in refused.text


@pytest.fixture
def card_guarded(guarded: Platform, monkeypatch: pytest.MonkeyPatch) -> Platform:
    """The guard with rate limits out of the way: only the card-testing rules bite."""
    monkeypatch.setattr(guarded.runtime.settings, "checkout_limit_per_ip", 100)
    monkeypatch.setattr(guarded.runtime.settings, "checkout_limit_per_campaign", 100)
    return guarded


async def failed_small_gift(pf: Platform, ip: str) -> None:
    r = await post_checkout(pf, ip, SMALL, provider="mollie")
    assert r.status_code == 201, r.text
    await pf.settle(str(r.json()["checkout_url"]).rsplit("/", 1)[1], "failed")


async def test_small_failed_payments_block_small_checkouts_from_that_client(
    card_guarded: Platform, redis: ArqRedis
) -> None:
    pf = card_guarded
    await failed_small_gift(pf, "198.51.100.1")
    await pf.deliver_and_process(redis)
    assert (await post_checkout(pf, "198.51.100.1", SMALL, "mollie")).status_code == 201
    # A failed large gift is not card testing.
    r = await post_checkout(pf, "198.51.100.1", LARGE, "mollie")
    await pf.settle(str(r.json()["checkout_url"]).rsplit("/", 1)[1], "failed")
    await pf.deliver_and_process(redis)
    assert (await pf.status(r.json()["donation_id"])) == "failed"
    assert (await post_checkout(pf, "198.51.100.1", SMALL)).status_code == 201
    assert (await post_checkout(pf, "198.51.100.2", SMALL)).status_code == 201

    await failed_small_gift(pf, "198.51.100.1")
    await pf.deliver_and_process(redis)
    retry_after = assert_refused(await post_checkout(pf, "198.51.100.1", SMALL), card_testing=True)
    assert 540 <= retry_after <= 600  # the cool-down
    assert (await post_checkout(pf, "198.51.100.1", LARGE)).status_code == 201
    assert (await post_checkout(pf, "198.51.100.3", SMALL)).status_code == 201
    # Redis holds a keyed hash of the client, never its address.
    keys = [k.decode() for k in await redis.keys("donate:guard:*")]
    assert keys and not any("198.51.100" in k for k in keys)
    for key in keys:
        if await redis.type(key) == b"string":
            assert b"198.51.100" not in (await redis.get(key) or b"")


async def test_many_small_failures_on_a_campaign_block_its_small_checkouts(
    card_guarded: Platform, redis: ArqRedis
) -> None:
    pf = card_guarded
    for ip in ("192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"):
        await failed_small_gift(pf, ip)
    await pf.deliver_and_process(redis)
    assert_refused(await post_checkout(pf, "192.0.2.50", SMALL), card_testing=True)
    assert (await post_checkout(pf, "192.0.2.50", LARGE)).status_code == 201
    other = str(pf.seeded["campaigns"][1]["id"])
    r = await post_checkout(pf, "192.0.2.51", 500, campaign_id=other)
    assert r.status_code == 201, r.text


async def test_a_failure_is_counted_once_however_often_the_job_runs(
    pf: Platform, redis: ArqRedis
) -> None:
    settings = pf.runtime.settings.model_copy(update=LIMITS)
    campaign, donation = uuid.uuid4(), uuid.uuid4()
    client = checkout_guard.client_key(settings, "192.0.2.77")
    await checkout_guard.note_checkout(
        redis, settings, client=client, campaign_id=campaign, donation_id=donation,
        amount_minor=SMALL,
    )  # fmt: skip
    for _ in range(3):
        assert await checkout_guard.record_failure(redis, settings, donation)
    assert await redis.zcard(f"donate:guard:failed:ip:{client}") == 1
    assert await redis.exists(f"donate:guard:block:ip:{client}") == 0
    # A large checkout is not remembered, so its failure is not counted.
    large = uuid.uuid4()
    await checkout_guard.note_checkout(
        redis, settings, client=client, campaign_id=campaign, donation_id=large,
        amount_minor=LARGE,
    )  # fmt: skip
    assert not await checkout_guard.record_failure(redis, settings, large)


async def test_redis_down_never_refuses_a_gift(
    pf: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in LIMITS.items():
        monkeypatch.setattr(pf.runtime.settings, name, value)
    settings = pf.runtime.settings.model_copy(
        update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"}
    )
    async with (
        serve(create_app(settings, runtime=pf.runtime)) as base,
        httpx.AsyncClient(base_url=base, timeout=30) as client,
    ):
        for _ in range(LIMITS["checkout_limit_per_ip"] + 2):
            body = pf.checkout_body(SMALL, provider="stripe")
            r = await client.post("/api/v1/checkouts", json=body)
            assert r.status_code == 201, r.text
    # The outbox job counting a failure without Redis loses the count, not the job.
    await checkout_guard.record_failed_payment(settings, uuid.uuid4())


def test_client_address_behind_trusted_proxies() -> None:
    loopback = ("127.0.0.0/8", "::1/128")
    proxies = ("10.0.0.0/8",)
    # Not from a trusted proxy: the header is the client's own words.
    assert resolve("203.0.113.5", ["198.51.100.1"], loopback) == "203.0.113.5"
    assert resolve("127.0.0.1", [], loopback) == "127.0.0.1"
    # From the proxy: the right-most hop it did not add itself.
    assert resolve("10.0.0.2", ["198.51.100.1, 203.0.113.5, 10.0.0.9"], proxies) == "203.0.113.5"
    assert resolve("10.0.0.2", ["198.51.100.1", "203.0.113.5:4431"], proxies) == "203.0.113.5"
    assert resolve("10.0.0.2", ["[2001:db8::1]:443"], proxies) == "2001:db8::1"
    assert resolve("10.0.0.2", ["unknown"], proxies) == "10.0.0.2"
    assert resolve("10.0.0.2", ["10.0.0.7"], proxies) == "10.0.0.7"


def test_client_key_is_keyed_and_groups_an_ipv6_subscriber() -> None:
    a = make_settings("postgresql://x/y", "redis://x", secret_key="one")
    b = make_settings("postgresql://x/y", "redis://x", secret_key="two")
    assert checkout_guard.client_key(a, "2001:db8:1:2::5") == checkout_guard.client_key(
        a, "2001:db8:1:2:ffff::9"
    )
    assert checkout_guard.client_key(a, "2001:db8:1:2::5") != checkout_guard.client_key(
        a, "2001:db8:1:3::5"
    )
    assert checkout_guard.client_key(a, "192.0.2.1") != checkout_guard.client_key(b, "192.0.2.1")
    assert "192.0.2.1" not in checkout_guard.client_key(a, "192.0.2.1")


def test_settings_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    base = ("postgresql://x/y", "redis://x")
    s = make_settings(*base, trusted_proxies="10.0.0.0/8, 192.168.1.1")
    assert s.trusted_proxies == ("10.0.0.0/8", "192.168.1.1")
    monkeypatch.setenv("DONATE_TRUSTED_PROXIES", "172.16.0.0/12,::1")
    assert make_settings(*base).trusted_proxies == ("172.16.0.0/12", "::1")
    for bad in (
        {"trusted_proxies": "10.0.0.0/8, proxy.local"},
        {"checkout_limit_per_ip": 0},
        {"checkout_limit_per_campaign": -1},
        {"card_testing_small_amount_minor": -5},
        {"card_testing_window_s": 10},
        {"card_testing_max_failures_per_ip": 0},
        {"card_testing_cooldown_s": 30},
    ):
        with pytest.raises(ValidationError):
            make_settings(*base, **bad)
    # On unless turned off (the suite's make_settings turns it off).
    assert Settings.model_fields["checkout_rate_limits"].default is True
