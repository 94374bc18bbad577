"""Build the provider adapters from settings values (called by the entry points, DESIGN rule 9)."""

from __future__ import annotations

from donate.providers.base import PaymentProvider
from donate.providers.mollie import MOLLIE_API_DEFAULT, MollieProvider
from donate.providers.stripe import STRIPE_API_DEFAULT, StripeProvider


def build_providers(
    stripe_secret_key: str | None,
    stripe_api_base: str = STRIPE_API_DEFAULT,
    stripe_webhook_secret: str | None = None,
    stripe_webhook_tolerance_s: int = 300,
    mollie_api_base: str = MOLLIE_API_DEFAULT,
    livemode: bool = False,
    *,
    timeout_s: int = 20,
) -> dict[str, PaymentProvider]:
    """``{"stripe": …, "mollie": …}`` keyed by ``PaymentProvider.name``.

    Stripe is left out when no platform secret key is configured (every Stripe call needs
    it). Mollie needs no platform credential: each association's token travels in its
    ``ConnectedAccount``. Without a webhook secret the Stripe adapter refuses every webhook.
    """
    providers: dict[str, PaymentProvider] = {}
    if stripe_secret_key:
        providers["stripe"] = StripeProvider(
            stripe_secret_key,
            stripe_webhook_secret,
            api_base=stripe_api_base,
            webhook_tolerance_s=stripe_webhook_tolerance_s,
            livemode=livemode,
            timeout_s=float(timeout_s),
        )
    providers["mollie"] = MollieProvider(
        api_base=mollie_api_base, livemode=livemode, timeout_s=timeout_s
    )
    return providers
