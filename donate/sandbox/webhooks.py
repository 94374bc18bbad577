"""Outgoing webhooks: fault injection, Stripe signing, retries with backoff, delivery log.

One worker sends due deliveries in order; a failed attempt is rescheduled rather than
waited on, so one broken receiver never holds back the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import stripe

from donate.sandbox.faults import FaultState
from donate.sandbox.util import JSON


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One webhook a provider would send."""

    provider: str  # "stripe" | "mollie"
    url: str
    body: bytes
    object_id: str  # evt_… (Stripe) / tr_… (Mollie)
    event_type: str  # Stripe event type; Mollie "payment"
    account: str | None = None


@dataclass(slots=True)
class Attempt:
    at: float
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(slots=True)
class Delivery:
    delivery_id: int
    out: Outgoing
    duplicate: bool
    status: str = "pending"  # pending | delivered | failed | dropped
    attempts: list[Attempt] = field(default_factory=list)
    next_at: float = 0.0

    def to_json(self) -> JSON:
        return {
            "delivery_id": self.delivery_id,
            "provider": self.out.provider,
            "url": self.out.url,
            "object_id": self.out.object_id,
            "event_type": self.out.event_type,
            "account": self.out.account,
            "duplicate": self.duplicate,
            "status": self.status,
            "attempts": [
                {
                    "at": a.at,
                    "status_code": a.status_code,
                    "error": a.error,
                    "duration_ms": a.duration_ms,
                }
                for a in self.attempts
            ],
        }


class WebhookDispatcher:
    def __init__(
        self,
        faults: FaultState,
        *,
        stripe_secret: str,
        max_attempts: int,
        retry_base_s: float,
        timeout_s: float,
        on_delivered: Callable[[Outgoing], None],
    ) -> None:
        self._faults = faults
        self._secret = stripe_secret
        self._max_attempts = max(1, max_attempts)
        self._retry_base_s = retry_base_s
        self._timeout_s = timeout_s
        self._on_delivered = on_delivered
        self._ids = itertools.count(1)
        self._heap: list[tuple[float, int, Delivery]] = []
        self._wake = asyncio.Event()
        self._busy = False
        self.deliveries: list[Delivery] = []

    def emit(self, batch: list[Outgoing]) -> None:
        """Queue the webhooks one action produced, applying drop/duplicate/shuffle/delay."""
        f = self._faults.faults
        rng = self._faults.rng
        queued: list[Delivery] = []
        for out in batch:
            original = Delivery(next(self._ids), out, duplicate=False)
            self.deliveries.append(original)
            if self._faults.webhook_dropped():
                original.status = "dropped"  # lost for good: only the catch-up can find it
                continue
            queued.append(original)
            for _ in range(f.webhook_duplicates):
                copy = Delivery(next(self._ids), out, duplicate=True)
                self.deliveries.append(copy)
                queued.append(copy)
        if f.webhook_shuffle:
            rng.shuffle(queued)
        start = time.monotonic() + f.webhook_delay_ms / 1000
        for order, d in enumerate(queued):
            d.next_at = start + order * 1e-6  # keeps emission order among equal due times
            heapq.heappush(self._heap, (d.next_at, d.delivery_id, d))
        self._wake.set()

    def pending(self) -> int:
        return len(self._heap) + (1 if self._busy else 0)

    async def drain(self, timeout_s: float) -> bool:
        """Wait until nothing is queued or being retried; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while self.pending():
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=self._timeout_s) as client:
            while True:
                if not self._heap:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=wait)
                    continue
                _, _, delivery = heapq.heappop(self._heap)
                self._busy = True
                try:
                    await self._attempt(client, delivery)
                finally:
                    self._busy = False

    async def _attempt(self, client: httpx.AsyncClient, d: Delivery) -> None:
        out = d.out
        headers = {"User-Agent": "donate-sandbox/1.0"}
        if out.provider == "stripe":
            payload = out.body.decode()
            headers["Content-Type"] = "application/json; charset=utf-8"
            # Signed at each attempt with a fresh timestamp, like Stripe.
            headers["Stripe-Signature"] = stripe.WebhookSignature.generate_signature_header(
                payload, self._secret
            )
        else:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            resp = await client.post(out.url, content=out.body, headers=headers)
            status = resp.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        d.attempts.append(
            Attempt(time.time(), status, error, int((time.monotonic() - started) * 1000))
        )
        if status is not None and 200 <= status < 300:
            d.status = "delivered"
            self._on_delivered(out)
        elif len(d.attempts) >= self._max_attempts:
            d.status = "failed"
        else:
            d.next_at = time.monotonic() + self._retry_base_s * 2 ** (len(d.attempts) - 1)
            heapq.heappush(self._heap, (d.next_at, d.delivery_id, d))
