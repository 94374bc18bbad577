"""Fixtures of the integrator webhook tests: endpoints cleaned up after (the receiver is in
tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tests.integrator_webhooks.helpers import create_endpoint
from tests.support.platform import Platform

MakeEndpoint = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
async def make_endpoint(pf: Platform) -> AsyncIterator[MakeEndpoint]:
    """Create endpoints through the API; every one is deleted when the test ends, so no
    test's endpoint receives another test's events."""
    made: list[tuple[str, str, str | None]] = []

    async def make(url: str, event_types: list[str], **extra: Any) -> dict[str, Any]:
        key = extra.pop("key", None)
        org = extra.get("org", pf.org)
        data = await create_endpoint(pf, url, event_types, key, **extra)
        made.append((org, data["id"], key))
        return data

    yield make
    for org, endpoint_id, key in made:
        await pf.app.delete(
            f"/api/v1/orgs/{org}/webhook-endpoints/{endpoint_id}", headers=pf.auth(key)
        )
