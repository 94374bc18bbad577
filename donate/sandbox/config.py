"""Configuration of the provider sandbox: where it lives, what it signs with, who may call it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Provider = Literal["stripe", "mollie"]


@dataclass(frozen=True, slots=True)
class SandboxAccount:
    """One pre-created connected account.

    Stripe: ``account_id`` is ``acct_…``; it is reached with the platform key plus
    ``Stripe-Account``, so ``credentials`` stays empty.
    Mollie: ``account_id`` is the profile (``pfl_…``) payments are created on,
    ``organization_id`` its ``org_…``, and ``credentials`` the API keys (``test_…``)
    and OAuth access tokens (``access_…``) that reach it. An access token requires
    ``profileId`` on creates, like Mollie does.
    """

    provider: Provider
    account_id: str
    credentials: tuple[str, ...] = ()
    organization_id: str = ""
    name: str = ""
    email: str = ""
    country: str = "FR"
    currency: str = "EUR"


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    public_url: str  # the sandbox's own base URL; checkout pages are {public_url}/pay/{id}
    stripe_webhook_url: str | None = None  # the platform's Connect endpoint (/webhooks/stripe)
    stripe_webhook_secret: str = "whsec_sandbox"  # noqa: S105 - a test secret
    stripe_platform_key: str = "sk_test_sandbox"
    accounts: tuple[SandboxAccount, ...] = field(default_factory=tuple)
    webhook_max_attempts: int = 6
    webhook_retry_base_s: float = 0.5
    webhook_timeout_s: float = 10.0
    # Balance movements are available at once (real Stripe waits days): payouts are testable now.
    stripe_fee_bps: int = 150  # 1.5 % + 25 c, the EEA card rate
    stripe_fee_fixed_minor: int = 25
    stripe_dispute_fee_minor: int = 1500
    # Stripe Billing's default dunning: 4 attempts, then the subscription is canceled
    # ("unpaid" or "past_due" are the other choices of the dashboard setting).
    stripe_retry_attempts: int = 4
    stripe_dunning_final: str = "canceled"
    expiry_sweep_s: float = 5.0  # how often open checkouts past their expiry are expired

    @property
    def base(self) -> str:
        return self.public_url.rstrip("/")


def demo_accounts() -> tuple[SandboxAccount, ...]:
    """Two associations on each provider: what ``donate demo`` and the tests can start with."""
    return (
        SandboxAccount("stripe", "acct_sandboxAssoc1", name="Association One"),
        SandboxAccount("stripe", "acct_sandboxAssoc2", name="Association Two"),
        SandboxAccount(
            "mollie",
            "pfl_sandboxAssoc1",
            credentials=("test_sandboxAssoc1key", "access_sandboxAssoc1token"),
            organization_id="org_sandbox1",
            name="Association One",
        ),
        SandboxAccount(
            "mollie",
            "pfl_sandboxAssoc2",
            credentials=("test_sandboxAssoc2key", "access_sandboxAssoc2token"),
            organization_id="org_sandbox2",
            name="Association Two",
        ),
        # Connected by no seeded association: a new one can connect it from the back-office.
        SandboxAccount(
            "mollie",
            "pfl_sandboxAssoc3",
            credentials=("test_sandboxAssoc3key",),
            organization_id="org_sandbox3",
            name="Association Three",
        ),
    )
