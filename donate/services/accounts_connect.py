"""Connecting the association's own payment accounts (Stripe Connect, Mollie).

Stripe: a Standard account is created once per association (idempotency key derived from
the association), recorded ``pending``, and becomes ``active`` (usable for checkouts) when
the account, read back from Stripe after onboarding, has ``charges_enabled``.
Mollie: the association's API key is checked against Mollie and stored encrypted (Fernet).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from donate.db import audit_log as audit_db
from donate.db import org_profile
from donate.providers.base import ProviderError, ProviderRejected
from donate.providers.onboarding import StripeOnboarding, mollie_profile
from donate.services.errors import InvalidRequest, ProviderDown
from donate.services.runtime import Runtime


@dataclass(frozen=True, slots=True)
class Connections:
    stripe: dict[str, Any] | None
    mollie: dict[str, Any] | None
    stripe_available: bool


async def connections(rt: Runtime, org_id: UUID) -> Connections:
    async with rt.pool.acquire() as conn:
        stripe = await org_profile.provider_account(conn, org_id, "stripe")
        mollie = await org_profile.provider_account(conn, org_id, "mollie")
    return Connections(stripe, mollie, rt.settings.stripe_secret_key is not None)


def _stripe(rt: Runtime) -> StripeOnboarding:
    key = rt.settings.stripe_secret_key
    if key is None:
        raise InvalidRequest({"stripe": "Stripe is not configured on this platform."})
    return StripeOnboarding(key.get_secret_value(), api_base=rt.settings.stripe_api_base)


async def start_stripe(
    rt: Runtime,
    org_id: UUID,
    actor: str,
    *,
    email: str,
    return_url: str,
    refresh_url: str,
) -> str:
    """The URL of Stripe's hosted onboarding for the association's (new or pending) account."""
    client = _stripe(rt)
    try:
        async with rt.pool.acquire() as conn:
            current = await org_profile.provider_account(conn, org_id, "stripe")
            profile = await org_profile.get(conn, org_id)
        if current is not None and current["status"] in ("pending", "active"):
            account_id = str(current["account_id"])
        else:
            account_id = await client.create_account(
                email=email,
                name=str(profile["legal_name"]),
                country=str(profile["country"]),
                idempotency_key=f"organization:{org_id}:stripe-account",
            )
            async with rt.pool.acquire() as conn, conn.transaction():
                await org_profile.save_provider_account(
                    conn, org_id, "stripe", account_id, None,
                    livemode=rt.settings.is_production, status="pending",
                )  # fmt: skip
                await audit_db.record(conn, org_id, actor, "provider.stripe_created",
                                     "provider_account", account_id)  # fmt: skip
        return await client.onboarding_url(
            account_id, return_url=return_url, refresh_url=refresh_url
        )
    except ProviderError as exc:
        raise ProviderDown(str(exc), rejected=isinstance(exc, ProviderRejected)) from exc
    finally:
        await client.aclose()


async def finish_stripe(rt: Runtime, org_id: UUID, actor: str) -> bool:
    """Read the account back after onboarding; True when it can take payments now."""
    async with rt.pool.acquire() as conn:
        current = await org_profile.provider_account(conn, org_id, "stripe")
    if current is None:
        return False
    client = _stripe(rt)
    try:
        state = await client.account_state(str(current["account_id"]))
    except ProviderError as exc:
        raise ProviderDown(str(exc), rejected=isinstance(exc, ProviderRejected)) from exc
    finally:
        await client.aclose()
    status = "active" if state.charges_enabled else "pending"
    async with rt.pool.acquire() as conn, conn.transaction():
        await org_profile.save_provider_account(
            conn, org_id, "stripe", state.account_id, None,
            livemode=state.livemode, status=status,
        )  # fmt: skip
        if status == "active" and current["status"] != "active":
            await audit_db.record(conn, org_id, actor, "provider.stripe_connected",
                                 "provider_account", state.account_id)  # fmt: skip
    return status == "active"


async def connect_mollie(rt: Runtime, org_id: UUID, actor: str, api_key: str) -> str:
    """Check the key with Mollie and store it encrypted; returns the profile id."""
    try:
        profile = await mollie_profile(
            rt.settings.mollie_api_base, api_key, livemode=rt.settings.is_production
        )
    except ProviderRejected:
        raise InvalidRequest({"api_key": "Mollie does not accept this API key."}) from None
    except ProviderError as exc:
        raise ProviderDown(str(exc)) from exc
    try:
        async with rt.pool.acquire() as conn, conn.transaction():
            saved = await org_profile.save_provider_account(
                conn, org_id, "mollie", profile.profile_id, rt.secrets.encrypt(api_key.strip()),
                livemode=profile.mode == "live", status="active",
            )  # fmt: skip
            if saved:
                await audit_db.record(conn, org_id, actor, "provider.mollie_connected",
                                     "provider_account", profile.profile_id)  # fmt: skip
    except asyncpg.UniqueViolationError:
        saved = False
    if not saved:
        raise InvalidRequest(
            {"api_key": "This Mollie account is connected to another association."}
        )
    return profile.profile_id
