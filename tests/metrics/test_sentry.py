"""Sentry as configured by ``observability.sentry_options``, captured by a fake transport:
errors carry the release and environment and nothing personal; requests are traced."""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from donate.bootstrap import build_runtime
from donate.observability import _before_send, sentry_options
from donate.settings import Settings
from donate.web.app import create_app
from tests.support.platform import Platform
from tests.support.server import serve

DSN = "https://public@sentry.invalid/1"
PII = ("ada@example.org", "ada%40example.org", "Lovelace", "session-cookie-value", "test_key_x")


class Captured(Transport):
    """Keeps what Sentry would send."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.items: list[tuple[str, dict[str, Any]]] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        for item in envelope.items:
            payload = item.payload.json
            if payload is not None:
                self.items.append((str(item.type), payload))

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        """Items of one type: "event" (errors), "transaction", "session"…"""
        return [payload for t, payload in self.items if t == kind]


@pytest.fixture
def sentry(pf: Platform) -> Iterator[tuple[Captured, Settings]]:
    settings = pf.runtime.settings.model_copy(
        update={"sentry_dsn": DSN, "sentry_traces_sample_rate": 1.0}
    )
    transport = Captured()
    sentry_sdk.init(**sentry_options(settings), transport=transport)
    try:
        yield transport, settings
    finally:
        client = sentry_sdk.get_client()
        client.close()
        sentry_sdk.get_global_scope().set_client(None)


def test_release_defaults_to_the_package_version() -> None:
    options = sentry_options(Settings(_env_file=None, environment="test"))
    assert options["release"] == f"donate@{importlib.metadata.version('donate')}"
    assert not options.get("send_default_pii") and options["include_local_variables"] is False
    custom = Settings(_env_file=None, environment="test", release="donate@abc123")
    assert sentry_options(custom)["release"] == "donate@abc123"


async def test_an_unhandled_error_is_reported_with_release_and_without_pii(
    sentry: tuple[Captured, Settings],
) -> None:
    transport, settings = sentry
    runtime = await build_runtime(settings, pool_min=0)
    await runtime.pool.close()  # every query fails: an unexpected error
    async with (
        serve(create_app(settings, runtime=runtime)) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        r = await client.get(
            "/api/v1/campaigns/9b0c8a55-8c3e-4ae8-9d3c-2b7e6d8a1f00",
            params={"email": "ada@example.org", "name": "Lovelace"},
            headers={"Authorization": "Bearer test_key_x", "Cookie": "sid=session-cookie-value"},
        )
        assert r.status_code == 500
        assert r.headers["content-type"] == "application/problem+json"
        # Expected 4xx are not errors.
        assert (await client.get("/no/such/page")).status_code == 404
    sentry_sdk.flush()
    events = transport.of_type("event")
    # One error (the logged 500 and the middleware's capture are deduplicated); no 404.
    assert len(events) == 1, [e.get("exception") for e in events]
    event = events[0]
    assert event["release"] == f"donate@{importlib.metadata.version('donate')}"
    assert event["environment"] == "test"
    assert event["exception"]["values"][-1]["type"] == "InterfaceError"
    assert event["request"]["url"].endswith(
        "/api/v1/campaigns/9b0c8a55-8c3e-4ae8-9d3c-2b7e6d8a1f00"
    )
    text = json.dumps([payload for _, payload in transport.items])
    for secret in PII:
        assert secret not in text, secret


async def test_a_request_is_traced_with_its_queries(
    sentry: tuple[Captured, Settings], pf: Platform
) -> None:
    transport, settings = sentry
    async with (
        serve(create_app(settings, runtime=pf.runtime)) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        r = await client.get(f"/api/v1/campaigns/{pf.campaign_id}")
        assert r.status_code == 200
        assert (await client.get("/healthz")).status_code == 200  # probes are not traced
        assert (await client.get("/metrics")).status_code == 200
    sentry_sdk.flush()
    transactions = transport.of_type("transaction")
    assert [t["transaction"] for t in transactions] == ["/api/v1/campaigns/{campaign_id}"]
    traced = transactions[0]
    assert traced["release"].startswith("donate@") and traced["environment"] == "test"
    assert any(s["op"] == "db" for s in traced["spans"]), [s["op"] for s in traced["spans"]]


def test_scrub_reads_query_strings_and_spares_versions() -> None:
    event = {
        "release": "donate@0.1.0",
        "request": {"query_string": "name=Lovelace&email=ada%40example.org&page=2"},
        "extra": {"note": "built from donate@0.1.0 for ada@example.org"},
    }
    cleaned = _before_send(event, {})
    assert cleaned["release"] == "donate@0.1.0"
    query = cleaned["request"]["query_string"]
    assert "Lovelace" not in query and "ada" not in query and "page=2" in query
    assert cleaned["extra"]["note"] == "built from donate@0.1.0 for [email]"
