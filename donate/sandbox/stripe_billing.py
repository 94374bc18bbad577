"""Stripe subscriptions from Checkout (mode=subscription). Not built yet: the recurring issue."""

from __future__ import annotations

from donate.sandbox.stripe_state import StripeState
from donate.sandbox.util import JSON


class SubscriptionsUnsupported(Exception):
    pass


def start_subscription(st: StripeState, account: str, cs: JSON, outcome: str, method: str) -> JSON:
    from donate.sandbox.stripe_checkout import SettleRefused

    raise SettleRefused("Stripe subscription checkouts are not emulated yet")


def renew(st: StripeState, sub_id: str, outcome: str) -> JSON:
    from donate.sandbox.stripe_checkout import SettleRefused

    raise SettleRefused("Stripe subscriptions are not emulated yet")
