"""The provider sandbox, served for real (uvicorn in a background thread) for the adapters.

A second small server records the webhooks the sandbox sends, so the adapters can verify
exactly what a provider would have delivered.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from donate.providers.base import ConnectedAccount
from donate.providers.mollie import MollieProvider
from donate.providers.stripe import StripeProvider


class ServerThread:
    """Serve an ASGI app on a free local port; the app is built once the URL is known."""

    def __init__(self, build: Callable[[str], ASGIApp]) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(build(self.url), log_level="warning", ws="none", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self._sock.close()


@dataclass
class Hooks:
    """Webhook requests received from the sandbox: (path, raw body, headers)."""

    received: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self, _url: str) -> ASGIApp:
        async def receive(request: Request) -> Response:
            body = await request.body()
            with self.lock:
                self.received.append((request.url.path, body, dict(request.headers)))
            return Response(status_code=200)

        return Starlette(routes=[Route("/hooks/{provider}", receive, methods=["POST"])])

    def wait_for(
        self, provider: str, predicate: Callable[[bytes], bool], timeout: float = 10.0
    ) -> list[tuple[bytes, dict[str, str]]]:
        """Every recorded webhook of ``provider`` whose body matches, once there is one."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                found = [
                    (body, headers)
                    for path, body, headers in self.received
                    if path == f"/hooks/{provider}" and predicate(body)
                ]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


@dataclass(frozen=True)
class Sandbox:
    url: str
    hooks_url: str
    hooks: Hooks
    stripe_key: str
    stripe_webhook_secret: str
    stripe_account: ConnectedAccount
    mollie_key_account: ConnectedAccount
    mollie_oauth_account: ConnectedAccount

    async def control(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=15) as client:
            response = await client.post(f"{self.url}/control/{action}", json=body)
        response.raise_for_status()
        result: dict[str, Any] = response.json() if response.content else {}
        return result


NO_FAULTS = {
    "webhook_duplicates": 0,
    "webhook_shuffle": False,
    "webhook_drop_ratio": 0.0,
    "webhook_delay_ms": 0,
    "api_error_ratio": 0.0,
    "api_latency_ms": 0,
}


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    app_module = pytest.importorskip("donate.sandbox.app", reason="provider sandbox not built yet")
    from donate.sandbox.config import SandboxConfig, demo_accounts

    hooks = Hooks()
    accounts = demo_accounts()
    stripe_acct = next(a for a in accounts if a.provider == "stripe")
    mollie_acct = next(a for a in accounts if a.provider == "mollie")
    key = next(c for c in mollie_acct.credentials if c.startswith("test_"))
    token = next(c for c in mollie_acct.credentials if c.startswith("access_"))
    with ServerThread(hooks.app) as hook_server:
        config_holder: list[Any] = []

        def build(url: str) -> ASGIApp:
            config = SandboxConfig(
                public_url=url,
                stripe_webhook_url=f"{hook_server.url}/hooks/stripe",
                accounts=accounts,
                webhook_retry_base_s=0.05,
            )
            config_holder.append(config)
            app: ASGIApp = app_module.create_sandbox_app(config)
            return app

        with ServerThread(build) as server:
            config = config_holder[0]
            yield Sandbox(
                url=server.url,
                hooks_url=hook_server.url,
                hooks=hooks,
                stripe_key=config.stripe_platform_key,
                stripe_webhook_secret=config.stripe_webhook_secret,
                stripe_account=ConnectedAccount("stripe", stripe_acct.account_id),
                mollie_key_account=ConnectedAccount(
                    "mollie", mollie_acct.account_id, access_token=key
                ),
                mollie_oauth_account=ConnectedAccount(
                    "mollie", mollie_acct.account_id, access_token=token
                ),
            )


@pytest.fixture
async def stripe_provider(sandbox: Sandbox) -> AsyncIterator[StripeProvider]:
    provider = StripeProvider(
        sandbox.stripe_key,
        sandbox.stripe_webhook_secret,
        api_base=f"{sandbox.url}/stripe",
        timeout_s=10,
        max_network_retries=0,
    )
    yield provider
    await provider.aclose()


@pytest.fixture
def mollie_provider(sandbox: Sandbox) -> MollieProvider:
    return MollieProvider(api_base=f"{sandbox.url}/mollie", timeout_s=10)


@pytest.fixture
async def faults(sandbox: Sandbox) -> AsyncIterator[Callable[..., Any]]:
    """Set sandbox faults for one test; always cleared afterwards."""

    async def set_faults(**values: Any) -> None:
        await sandbox.control("faults", NO_FAULTS | values)

    yield set_faults
    await sandbox.control("faults", NO_FAULTS)
