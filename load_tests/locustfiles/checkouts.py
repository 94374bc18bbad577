"""A checkout burst: donors pressing "give" at once (``POST /api/v1/checkouts``), each
checkout created at the provider sandbox (Stripe three times in four, Mollie otherwise).
Every answer must be a 201 with the provider's checkout URL."""

from __future__ import annotations

import random
import uuid

from bench_webhooks import checkout_body
from locust import task

from locustfiles.common import BUDGET, LoadUser, plan


class CheckoutDonor(LoadUser):
    def on_start(self) -> None:
        self.tag = uuid.uuid4().hex[:8]
        self.n = 0

    @task
    def give(self) -> None:
        BUDGET.take()
        self.n += 1
        provider = "stripe" if random.random() < 0.75 else "mollie"
        body = checkout_body(plan()["checkout_campaign_id"], self.n)
        body["provider"] = provider
        body["donor"]["email"] = f"donor-{self.tag}-{self.n}@example.org"
        with self.client.post(
            "/api/v1/checkouts", json=body, name=f"checkout ({provider})", catch_response=True
        ) as r:
            if r.status_code != 201:
                r.failure(f"{r.status_code}: {r.text[:120]}")
            elif not (r.json() or {}).get("checkout_url"):
                r.failure("201 without a checkout_url")
            else:
                r.success()
