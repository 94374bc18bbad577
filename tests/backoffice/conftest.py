from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.backoffice import close_clients


@pytest.fixture(autouse=True)
async def _close_admin_clients() -> AsyncIterator[None]:
    yield
    await close_clients()
