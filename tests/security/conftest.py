"""Fixtures of the security tests: admin clients closed after each test, a live receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integrator_webhooks.helpers import Receiver
from tests.support.backoffice import close_clients
from tests.support.server import serve


@pytest.fixture(autouse=True)
async def _close_admin_clients() -> AsyncIterator[None]:
    yield
    await close_clients()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    async with serve(rec.app()) as base:
        rec.url = f"{base}/hook"
        yield rec
