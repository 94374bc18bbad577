"""Shared helpers of the provider tests: fixture loading and signed Stripe webhooks."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import stripe

FIXTURES = Path(__file__).parent / "fixtures"
WEBHOOK_SECRET = "whsec_test_providers"


def mollie_fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "mollie" / f"{name}.json").read_text())
    return data


def stripe_object(kind: str) -> dict[str, Any]:
    """A fresh copy of Stripe's example object of this type (``checkout.session``, …)."""
    objects = json.loads((FIXTURES / "stripe" / "objects.json").read_text())
    data: dict[str, Any] = objects[kind]
    return data


def stripe_event(obj: dict[str, Any], event_type: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "evt_1Test",
        "object": "event",
        "type": event_type,
        "livemode": False,
        "created": int(time.time()),
        "data": {"object": obj},
        **extra,
    }


def signed(
    event: dict[str, Any], secret: str = WEBHOOK_SECRET, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """Body and headers as Stripe sends them."""
    body = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=timestamp)
    return body.encode(), {"Stripe-Signature": header, "Content-Type": "application/json"}
