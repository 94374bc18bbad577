"""Helpers of the payment tests: the platform as a donor, a provider and an association see it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import httpx
import stripe
from arq.connections import ArqRedis

from donate.services.runtime import Runtime
from tests.support.jobs import drain

WEBHOOK_SECRET = "whsec_payments_test_secret"
SEED_SECRET = "payments-test-secret"


def donor(**over: Any) -> dict[str, Any]:
    return {
        "email": "ada@example.org",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "address_line1": "1 rue de la Paix",
        "postal_code": "75002",
        "city": "Paris",
        "country": "FR",
        **over,
    }


@dataclass
class Platform:
    """The app and the sandbox as a donor, a provider and the association see them."""

    app_url: str
    sandbox_url: str
    redis_url: str
    runtime: Runtime
    seeded: dict[str, Any]
    app: httpx.AsyncClient
    sandbox: httpx.AsyncClient

    @property
    def campaign_id(self) -> str:
        return str(self.seeded["campaigns"][0]["id"])

    @property
    def org(self) -> str:
        return str(self.seeded["org_slug"])

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.seeded['api_key']}"}

    def checkout_body(self, amount_minor: int = 2500, **over: Any) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id,
            "amount_minor": amount_minor,
            "currency": "EUR",
            "frequency": "once",
            "donor": donor(),
            "wants_receipt": True,
            **over,
        }

    async def checkout(self, provider: str, amount_minor: int = 2500, **over: Any) -> Checkout:
        body = self.checkout_body(amount_minor, provider=provider, **over)
        r = await self.app.post("/api/v1/checkouts", json=body)
        assert r.status_code == 201, r.text
        data = r.json()
        url = str(data["checkout_url"])
        assert url.startswith(f"{self.sandbox_url}/pay/"), url
        return Checkout(str(data["donation_id"]), url.rsplit("/", 1)[1], amount_minor)

    async def settle(self, checkout_id: str, outcome: str = "paid", **extra: Any) -> dict[str, Any]:
        r = await self.sandbox.post(
            "/control/settle", json={"id": checkout_id, "outcome": outcome, **extra}
        )
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    async def faults(self, **faults: Any) -> None:
        r = await self.sandbox.post("/control/faults", json=faults)
        assert r.status_code == 200, r.text

    async def deliver(self) -> None:
        """Wait until the sandbox has delivered (or given up on) every queued webhook."""
        r = await self.sandbox.post("/control/drain", json={"timeout_s": 60})
        assert r.status_code == 200, r.text
        assert r.json()["drained"], r.text

    async def process(self, redis: ArqRedis) -> None:
        await drain(self.runtime, redis, self.redis_url)

    async def deliver_and_process(self, redis: ArqRedis) -> None:
        await self.deliver()
        await self.process(redis)

    async def status(self, donation_id: str) -> str:
        r = await self.app.get(f"/api/v1/donations/{donation_id}")
        assert r.status_code == 200, r.text
        return str(r.json()["status"])

    async def totals(self, campaign_id: str | None = None) -> tuple[int, int]:
        r = await self.app.get(f"/api/v1/campaigns/{campaign_id or self.campaign_id}")
        assert r.status_code == 200, r.text
        data = r.json()
        return int(data["raised_minor"]), int(data["donors_count"])

    async def payment_id(self, donation_id: str) -> str:
        r = await self.app.get(
            f"/api/v1/orgs/{self.org}/donations/{donation_id}", headers=self.auth()
        )
        assert r.status_code == 200, r.text
        return str(r.json()["provider_payment_id"])

    async def ledger(self) -> dict[str, Any]:
        r = await self.sandbox.get("/control/ledger")
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    async def post_stripe(self, payload: bytes, secret: str = WEBHOOK_SECRET) -> httpx.Response:
        header = stripe.WebhookSignature.generate_signature_header(payload.decode(), secret)
        return await self.app.post(
            "/webhooks/stripe",
            content=payload,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        )

    async def stripe_events_of(self, donation_id: str) -> list[bytes]:
        async with self.runtime.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT payload FROM provider_events WHERE provider = 'stripe' "
                "AND donation_ref = $1 ORDER BY id",
                donation_id,
            )
        return [bytes(r["payload"]) for r in rows]

    async def sql_sum_counted(self, campaign_id: str | None = None) -> int:
        async with self.runtime.pool.acquire() as conn:
            total: int = await conn.fetchval(
                "SELECT coalesce(sum(counted_minor), 0)::bigint FROM donations "
                "WHERE campaign_id = $1",
                uuid.UUID(campaign_id or self.campaign_id),
            )
        return total


@dataclass(frozen=True)
class SmtpOutbox:
    """The test SMTP sink: its URL and the folder where each message lands as a .eml file."""

    url: str
    folder: Path

    def messages(self, to: str | None = None) -> list[EmailMessage]:
        found = []
        for path in sorted(self.folder.glob("*.eml")):
            msg = message_from_bytes(path.read_bytes(), _class=EmailMessage, policy=default)
            assert isinstance(msg, EmailMessage)
            if to is None or msg["To"] == to:
                found.append(msg)
        return found


@dataclass(frozen=True)
class Checkout:
    donation_id: str
    checkout_id: str  # cs_… or tr_…
    amount_minor: int
