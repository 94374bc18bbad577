"""A webhook storm from both providers, about the checkouts the sandbox really holds.

Stripe: signed ``checkout.session.completed`` events (``bench_webhooks.stripe_event``, signed
as Stripe does), with a share re-sent as Stripe does on a retry (same event, same body, a
fresh signature): the first delivery must answer ``duplicate: false``, a re-delivery
``duplicate: true``. Mollie: form posts ``id=tr_…`` (no signature, no event id: the platform
re-fetches the payment), a share of them re-posted ids; never deduplicated at ingest by design
(``donate/providers/mollie.py``), so every answer is ``duplicate: false``.
"""

from __future__ import annotations

import json
import random
import uuid

from bench_webhooks import stripe_event, stripe_signature
from locust import task

from locustfiles.common import BUDGET, LoadUser, plan

KEEP = 2_000  # re-deliveries are drawn from this user's latest deliveries


class StripeWebhookSender(LoadUser):
    weight = 3

    def on_start(self) -> None:
        self.tag = uuid.uuid4().hex[:10]
        self.n = 0
        self.sent: list[bytes] = []

    def _event(self) -> bytes:
        self.n += 1
        session, donation, account = random.choice(plan()["stripe_sessions"])
        event = stripe_event(f"evt_{self.tag}{self.n:08d}", self.n)
        event["account"] = account
        obj = event["data"]["object"]
        obj.update(id=session, client_reference_id=donation, payment_status="unpaid",
                   payment_intent=None, status="open")  # fmt: skip
        obj["metadata"]["donation_id"] = donation
        return json.dumps(event).encode()

    @task
    def deliver(self) -> None:
        BUDGET.take()
        again = bool(self.sent) and random.random() < plan()["duplicate_share"]
        body = random.choice(self.sent) if again else self._event()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": stripe_signature(body, plan()["stripe_webhook_secret"]),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        name = "stripe webhook (re-delivery)" if again else "stripe webhook"
        with self.client.post(
            "/webhooks/stripe", data=body, headers=headers, name=name, catch_response=True
        ) as r:
            if r.status_code != 200:
                r.failure(f"{r.status_code}: {r.text[:120]}")
            elif r.json().get("duplicate") is not again:
                r.failure(f"duplicate={r.json().get('duplicate')} on a {name}")
            else:
                r.success()
                if not again:
                    self.sent = [*self.sent[-KEEP + 1 :], body]


class MollieWebhookSender(LoadUser):
    weight = 1

    def on_start(self) -> None:
        self.sent: list[str] = []

    @task
    def deliver(self) -> None:
        BUDGET.take()
        again = bool(self.sent) and random.random() < plan()["duplicate_share"]
        payment = random.choice(self.sent) if again else random.choice(plan()["mollie_payments"])
        name = "mollie webhook (re-post)" if again else "mollie webhook"
        with self.client.post(
            "/webhooks/mollie", data=f"id={payment}".encode(), name=name, catch_response=True,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ) as r:  # fmt: skip
            if r.status_code != 200:
                r.failure(f"{r.status_code}: {r.text[:120]}")
            elif r.json().get("duplicate") is not False:
                r.failure("a Mollie webhook was taken for a duplicate")
            else:
                r.success()
                self.sent = [*self.sent[-KEEP + 1 :], payment]
