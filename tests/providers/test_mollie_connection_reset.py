"""A Mollie request whose connection drops before the answer is sent once more, and a
payment is still created exactly once (the SDK's Idempotency-Key): found in 2,000 sandbox
checkouts, where a kept-alive connection the sandbox had just closed turned into a 503."""

from __future__ import annotations

import select
import socket
import struct
import threading
import uuid
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import pytest
import requests

from donate.domain.money import Money
from donate.providers.base import CheckoutRequest, ProviderUnavailable
from donate.providers.mollie import MollieProvider
from donate.providers.mollie_http import MollieClient

from .conftest import Sandbox
from .test_mollie_requests import FakeMollie

Drop = Literal["before", "after", "never"]


def _reset(sock: socket.socket) -> None:
    """Close with a TCP RST ("Connection reset by peer"), as a server dropping it does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class Relay:
    """A TCP relay to the sandbox that counts connections and resets the first one: before
    passing its request on (``drop="before"``: the sandbox never sees it), or once the
    sandbox has answered (``"after"``: the payment exists, its answer is lost)."""

    def __init__(self, target_url: str, drop: Drop) -> None:
        parts = urlsplit(target_url)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._drop = drop
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._stop = threading.Event()
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}{parts.path}"
        self.connections = 0

    def __enter__(self) -> Relay:
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    def _serve(self) -> None:
        with self._listener:
            while not self._stop.is_set():
                try:
                    client, _ = self._listener.accept()
                except TimeoutError:
                    continue
                self.connections += 1
                first = self.connections == 1
                threading.Thread(target=self._relay, args=(client, first), daemon=True).start()

    def _relay(self, client: socket.socket, first: bool) -> None:
        drop = self._drop if first else "never"
        with client, socket.create_connection(self._target) as upstream:
            while not self._stop.is_set():
                ready, _, _ = select.select([client, upstream], [], [], 0.1)
                if client in ready:
                    data = client.recv(65536)
                    if not data:
                        return
                    if drop == "before":  # the request never reaches the sandbox
                        return _reset(client)
                    upstream.sendall(data)
                if upstream in ready:
                    if drop == "after":  # the sandbox did the work; its answer is lost
                        return _reset(client)
                    data = upstream.recv(65536)
                    if not data:
                        return
                    client.sendall(data)


def _request(sandbox: Sandbox) -> CheckoutRequest:
    donation_id = f"don_{uuid.uuid4().hex[:10]}"
    return CheckoutRequest(
        donation_id=donation_id,
        amount=Money(2500, "EUR"),
        application_fee=None,
        description="Don",
        donor_email="ada@example.org",
        success_url="https://donate.example/thanks",
        cancel_url="https://donate.example/cancel",
        webhook_url=f"{sandbox.hooks_url}/hooks/mollie",
        idempotency_key=f"donation:{donation_id}:checkout",
    )


async def _sandbox_payments_of(sandbox: Sandbox, donation_id: str) -> list[dict[str, Any]]:
    token = sandbox.mollie_key_account.access_token
    async with httpx.AsyncClient(timeout=15) as http:
        r = await http.get(
            f"{sandbox.url}/mollie/v2/payments",
            params={"limit": 50},  # newest first
            headers={"Authorization": f"Bearer {token}"},
        )
    r.raise_for_status()
    payments: list[dict[str, Any]] = r.json()["_embedded"]["payments"]
    return [p for p in payments if p["metadata"].get("donation_id") == donation_id]


@pytest.mark.parametrize("drop", ["before", "after"])
async def test_a_dropped_connection_is_retried_and_pays_once(sandbox: Sandbox, drop: Drop) -> None:
    with Relay(f"{sandbox.url}/mollie", drop) as relay:
        provider = MollieProvider(api_base=relay.url, timeout_s=10)
        req = _request(sandbox)
        checkout = await provider.create_checkout(sandbox.mollie_key_account, req)
    assert relay.connections == 2  # the dropped one, then the retry
    created = await _sandbox_payments_of(sandbox, req.donation_id)
    assert [p["id"] for p in created] == [checkout.payment_id]


async def test_a_read_timeout_is_not_retried(sandbox: Sandbox, faults: Any) -> None:
    await faults(api_latency_ms=1500)
    with Relay(f"{sandbox.url}/mollie", "never") as relay:
        provider = MollieProvider(api_base=relay.url, timeout_s=1)
        with pytest.raises(ProviderUnavailable):
            await provider.create_checkout(sandbox.mollie_key_account, _request(sandbox))
    assert relay.connections == 1


def test_every_write_carries_an_idempotency_key() -> None:
    """What makes retrying a write safe, even for an SDK call that passes no key."""
    fake = FakeMollie()
    fake.handler = lambda request: (200, {"resource": "method", "id": "ideal"})
    client = MollieClient(api_endpoint="http://mollie.invalid")
    client.set_api_key("test_assocKey")
    session = requests.Session()
    session.mount("http://", fake)
    client._client = session  # the SDK creates its Session lazily: hand it ours
    client.perform_http_call("POST", "profiles/me/methods/ideal")  # methods.enable: no key
    client.perform_http_call("DELETE", "profiles/me/methods/ideal")
    client.perform_http_call("POST", "payments", {}, idempotency_key="donation:1:checkout")
    client.perform_http_call("GET", "payments/tr_1")
    enable, disable, create, get = (r.headers for r in fake.requests)
    assert enable["Idempotency-Key"] != disable["Idempotency-Key"]
    assert create["Idempotency-Key"] == "donation:1:checkout"
    assert "Idempotency-Key" not in get
