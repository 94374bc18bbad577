"""Connecting an association's own provider account (never SQL, only the official SDKs).

Stripe Connect with Account Links: the platform creates a Standard account, sends the
association to Stripe's hosted onboarding, and reads the account back on return (it takes
payments once ``charges_enabled``). Mollie with the association's API key: the key is checked
by reading the profile it belongs to (``GET /v2/profiles/me``).
"""

from __future__ import annotations

from dataclasses import dataclass

import anyio.to_thread
import stripe
from mollie.api.client import Client
from mollie.api.error import Error as MollieError

from donate.providers.base import ProviderRejected
from donate.providers.mollie import map_error as mollie_error
from donate.providers.stripe_common import QuietHTTPXClient, map_error, request_options


@dataclass(frozen=True, slots=True)
class StripeAccountState:
    account_id: str
    charges_enabled: bool
    details_submitted: bool
    livemode: bool


@dataclass(frozen=True, slots=True)
class MollieProfile:
    profile_id: str
    name: str
    mode: str  # "test" | "live"


class StripeOnboarding:
    """The platform's side of Stripe Connect onboarding."""

    def __init__(self, secret_key: str, *, api_base: str, timeout_s: float = 20.0) -> None:
        self._http = QuietHTTPXClient(timeout=timeout_s)
        self._client = stripe.StripeClient(
            api_key=secret_key,
            base_addresses={"api": api_base.rstrip("/")},
            http_client=self._http,
            max_network_retries=1,
        )

    async def aclose(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]  # unannotated in the SDK

    async def create_account(
        self, *, email: str, name: str, country: str, idempotency_key: str
    ) -> str:
        try:
            account = await self._client.v1.accounts.create_async(
                {
                    "type": "standard",
                    "country": country,
                    "email": email,
                    "business_profile": {"name": name},
                },
                request_options(None, idempotency_key),
            )
        except stripe.StripeError as exc:
            raise map_error(exc) from exc
        return str(account.id)

    async def onboarding_url(self, account_id: str, *, return_url: str, refresh_url: str) -> str:
        try:
            link = await self._client.v1.account_links.create_async(
                {
                    "account": account_id,
                    "type": "account_onboarding",
                    "return_url": return_url,
                    "refresh_url": refresh_url,
                }
            )
        except stripe.StripeError as exc:
            raise map_error(exc) from exc
        return str(link.url)

    async def account_state(self, account_id: str) -> StripeAccountState:
        try:
            account = await self._client.v1.accounts.retrieve_async(account_id)
        except stripe.StripeError as exc:
            raise map_error(exc) from exc
        return StripeAccountState(
            str(account.id),
            bool(account.charges_enabled),
            bool(account.details_submitted),
            bool(getattr(account, "livemode", False)),
        )


async def mollie_profile(api_base: str, api_key: str, *, livemode: bool) -> MollieProfile:
    """The profile an association's API key belongs to; ``ProviderRejected`` for a key that
    is malformed, unknown to Mollie, or of the wrong mode for this platform."""
    key = api_key.strip()
    if not key.startswith(("test_", "live_")) or len(key) < 10:
        raise ProviderRejected("mollie: not an API key")
    if key.startswith("live_") != livemode:
        raise ProviderRejected("mollie: API key mode does not match the platform's livemode")

    def fetch() -> MollieProfile:
        client = Client(api_endpoint=api_base.rstrip("/"), timeout=(5, 20))
        client.set_api_key(key)
        profile = client.profiles.get("me")
        return MollieProfile(str(profile.id), str(profile.name or ""), str(profile.mode or ""))

    try:
        return await anyio.to_thread.run_sync(fetch)
    except MollieError as exc:
        raise mollie_error(exc) from exc
