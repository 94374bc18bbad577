"""The sandbox's whole memory: both providers' state, faults, idempotency and webhooks."""

from __future__ import annotations

import asyncio

from donate.sandbox.config import SandboxConfig
from donate.sandbox.faults import FaultState
from donate.sandbox.idempotency import IdempotencyStore
from donate.sandbox.mollie_state import MollieState
from donate.sandbox.stripe_state import StripeState
from donate.sandbox.webhooks import Outgoing, WebhookDispatcher


class Ledger:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.faults = FaultState()
        self.idem = IdempotencyStore()
        self.dispatcher = WebhookDispatcher(
            self.faults,
            stripe_secret=config.stripe_webhook_secret,
            max_attempts=config.webhook_max_attempts,
            retry_base_s=config.webhook_retry_base_s,
            timeout_s=config.webhook_timeout_s,
            on_delivered=self._delivered,
        )
        self.stripe = StripeState(config, sink=self.dispatcher.emit)
        self.mollie = MollieState(config, sink=self.dispatcher.emit)

    def _delivered(self, out: Outgoing) -> None:
        if out.provider == "stripe":
            self.stripe.mark_delivered(out.object_id)

    async def api_fault(self) -> bool:
        """Apply the API latency, then say whether this call must answer 500."""
        latency = self.faults.faults.api_latency_ms
        if latency:
            await asyncio.sleep(latency / 1000)
        return self.faults.api_should_fail()

    def flush(self) -> None:
        self.stripe.flush()
        self.mollie.flush()
