"""The retry schedule and the signature, as pure functions (no database)."""

from __future__ import annotations

import hashlib
import hmac
import random
from datetime import UTC, datetime, timedelta

from donate.services import integrator_delivery as delivery
from donate.services import integrator_urls
from donate.settings import Settings
from tests.integrator_webhooks.helpers import python_verifier


class _Middle(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return (a + b) / 2


def _settings(**over: float) -> Settings:
    return Settings(_env_file=None, environment="test", **over)  # type: ignore[call-arg, arg-type]


def test_default_schedule_doubles_up_to_six_hours_for_three_days() -> None:
    s = _settings()
    delays = [delivery.retry_delay_s(s, n, _Middle()) for n in range(1, 40)]
    assert delays[:5] == [30, 60, 120, 240, 480]
    assert max(delays) == 6 * 3600
    # How many attempts fit in the 3-day window (the first is immediate).
    elapsed, attempts = 0.0, 1
    for d in delays:
        if elapsed + d > 3 * 86400:
            break
        elapsed += d
        attempts += 1
    assert 18 <= attempts <= 24  # docs/webhooks.md says "about 20"


def test_jitter_stays_within_twenty_percent() -> None:
    s = _settings()
    rng = random.Random(7)
    for attempt in range(1, 15):
        plain = delivery.retry_delay_s(s, attempt, _Middle())
        jittered = delivery.retry_delay_s(s, attempt, rng)
        assert 0.8 * plain <= jittered <= 1.2 * plain
    spread = {round(delivery.retry_delay_s(s, 3, rng), 3) for _ in range(20)}
    assert len(spread) > 1  # not a constant


def test_no_retry_after_the_window() -> None:
    s = _settings(integrator_webhook_retry_window_s=3600.0)
    now = datetime.now(UTC)
    assert delivery.next_retry_s(s, now, 1) is not None
    assert delivery.next_retry_s(s, now - timedelta(seconds=3590), 1) is None


def test_signature_header_matches_the_documented_scheme() -> None:
    body = b'{"id":"evt_1","type":"webhook.test"}'
    header = delivery.signature_header(["whsec_a", "whsec_b"], 1_764_150_000, body)
    t, v1a, v1b = header.split(",")
    assert t == "t=1764150000"
    want = hmac.new(b"whsec_a", b"1764150000." + body, hashlib.sha256).hexdigest()
    assert v1a == f"v1={want}" and v1b != v1a
    verify = python_verifier()
    assert not verify(body, header, "whsec_a")  # too old for the default tolerance
    assert verify(body, header, "whsec_b", tolerance_s=10**10)
    assert not verify(body, "v1=" + want, "whsec_a", tolerance_s=10**10)  # no timestamp
    assert not verify(body, "garbage", "whsec_a")


def test_pinning_keeps_the_name_for_host_and_tls() -> None:
    p = integrator_urls.pin("https://hooks.example.org:8443/in?x=1", "93.184.215.14")
    assert p == integrator_urls.Pinned(
        "https://93.184.215.14:8443/in?x=1", "hooks.example.org:8443", "hooks.example.org"
    )
    p6 = integrator_urls.pin("https://hooks.example.org/in", "2606:2800:220:1::1")
    assert p6.url == "https://[2606:2800:220:1::1]/in"
    assert p6.host_header == "hooks.example.org"
