"""Test support: the sandbox and a webhook receiver served by uvicorn in background threads."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import stripe
import uvicorn
from mollie.api.client import Client as MollieClient
from starlette.applications import Starlette

from donate.providers.stripe import QuietHTTPXClient
from donate.sandbox.config import SandboxConfig, demo_accounts
from donate.sandbox.ledger import Ledger

WHSEC = "whsec_test_sandbox_secret"
PLATFORM_KEY = "sk_test_sandbox"
STRIPE_ACCT = "acct_sandboxAssoc1"
MOLLIE_KEY = "test_sandboxAssoc1key"
MOLLIE_TOKEN = "access_sandboxAssoc1token"
MOLLIE_PROFILE = "pfl_sandboxAssoc1"


class ServerThread:
    """uvicorn on a free port in a daemon thread; the app is built once its URL is known."""

    def __init__(self, build: Callable[[str], Starlette]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.app = build(self.url)
        config = uvicorn.Config(self.app, log_level="warning", ws="none", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@dataclass
class Received:
    path: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Receiver:
    """Records webhooks; answers ``fail_next`` requests with 500 before accepting."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    fail_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]


@dataclass
class Sandbox:
    url: str
    ledger: Ledger
    http_clients: list[QuietHTTPXClient] = field(default_factory=list)

    def stripe(
        self, account: str | None = STRIPE_ACCT, key: str = PLATFORM_KEY, retries: int = 0
    ) -> stripe.StripeClient:
        http = QuietHTTPXClient()
        self.http_clients.append(http)  # closed by the fixture: no unclosed-socket warnings
        return stripe.StripeClient(
            key,
            stripe_account=account,
            base_addresses={"api": f"{self.url}/stripe"},
            http_client=http,
            max_network_retries=retries,
        )

    def mollie(self, key: str = MOLLIE_KEY) -> MollieClient:
        client = MollieClient(api_endpoint=f"{self.url}/mollie")
        if key.startswith("access_"):
            client.set_access_token(key)
        else:
            client.set_api_key(key)
        return client

    async def control(self, path: str, body: dict[str, object] | None = None) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.url) as client:
            if body is None:
                return await client.get(f"/control/{path}")
            return await client.post(f"/control/{path}", json=body, timeout=30)

    async def drain(self) -> None:
        resp = await self.control("drain", {"timeout_s": 20})
        assert resp.json()["drained"], resp.text


def sandbox_config(url: str, receiver: Receiver) -> SandboxConfig:
    return SandboxConfig(
        public_url=url,
        stripe_webhook_url=f"{receiver.url}/webhooks/stripe",
        stripe_webhook_secret=WHSEC,
        stripe_platform_key=PLATFORM_KEY,
        accounts=demo_accounts(),
        webhook_max_attempts=4,
        webhook_retry_base_s=0.05,
    )
