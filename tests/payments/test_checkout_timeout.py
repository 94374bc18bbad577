"""A provider that answers too slowly: the donor gets a clear 503, no donation stays pending."""

from __future__ import annotations

import dataclasses
from uuid import UUID

import pytest

from donate.providers.registry import build_providers
from donate.services.checkout import CheckoutInput, DonorInput, start_checkout
from donate.services.errors import ProviderDown
from tests.support.platform import Platform


@pytest.mark.parametrize("provider", ["stripe", "mollie"])
async def test_provider_timeout_cancels_the_donation(pf: Platform, provider: str) -> None:
    settings = pf.runtime.settings
    impatient = dataclasses.replace(
        pf.runtime,
        providers=build_providers(
            stripe_secret_key=settings.stripe_secret_key.get_secret_value()
            if settings.stripe_secret_key
            else None,
            stripe_api_base=settings.stripe_api_base,
            stripe_webhook_secret=None,
            mollie_api_base=settings.mollie_api_base,
            timeout_s=1,
        ),
    )
    await pf.faults(api_latency_ms=3000)
    inp = CheckoutInput(
        campaign_id=UUID(pf.campaign_id),
        amount_minor=2500,
        currency="EUR",
        provider=provider,
        donor=DonorInput(email="slow@example.fr", first_name="Lou", last_name="Lent"),
    )
    with pytest.raises(ProviderDown) as caught:
        await start_checkout(impatient, inp)
    assert not caught.value.rejected  # unreachable (503), not refused (502)
    async with pf.runtime.pool.acquire() as conn:
        row = await conn.fetchrow(
            """SELECT d.id, d.status FROM donations d JOIN donors o ON o.id = d.donor_id
               WHERE o.email = 'slow@example.fr' ORDER BY d.created_at DESC LIMIT 1"""
        )
    assert row is not None
    assert row["status"] == "canceled"
    for p in impatient.providers.values():
        close = getattr(p, "aclose", None)
        if close is not None:
            await close()
