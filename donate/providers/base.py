"""The contract every payment provider adapter implements.

Errors (all subclasses of ``ProviderError``)::

    ProviderError
    ├── ProviderUnavailable   timeout, connection error, 5xx, 429: retry with the same key
    ├── ProviderRejected      4xx: the request itself is wrong (retrying won't help)
    ├── ProviderNotFound      the object does not exist on the provider (unknown id)
    └── WebhookInvalid        a webhook that fails verification (signature, staleness, form)
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from donate.domain.money import Money


class ProviderError(Exception):
    """Base of adapter errors."""


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or answered 5xx/429: retry later, same idempotency key."""


class ProviderRejected(ProviderError):
    """The provider refused the request (4xx other than 404)."""


class ProviderNotFound(ProviderError):
    """The provider does not know this object."""


class WebhookInvalid(ProviderError):
    """A webhook request that must be refused (HTTP 400) and not stored."""


class PaymentStatus(enum.StrEnum):
    """Normalised state of one provider payment (Checkout Session/PaymentIntent, Mollie payment)."""

    OPEN = "open"  # created, the donor has not finished the hosted checkout
    PENDING = (
        "pending"  # submitted, result not known yet (SEPA processing, Mollie pending/authorized)
    )
    PAID = "paid"  # final success: money captured
    FAILED = "failed"
    CANCELED = "canceled"
    EXPIRED = "expired"


class DisputeStatus(enum.StrEnum):
    OPEN = "open"  # funds withdrawn or under review, outcome unknown
    WON = "won"  # the association kept the money
    LOST = "lost"  # the money went back to the payer


@dataclass(frozen=True, slots=True)
class ConnectedAccount:
    """The association's own account at the provider.

    Stripe: ``account_id`` is ``acct_…`` and calls use the platform key with ``Stripe-Account``.
    Mollie: ``access_token`` is an OAuth token or the association's API key (``test_…``/``live_…``),
    ``account_id`` its profile or organization id.
    """

    provider: str
    account_id: str
    access_token: str | None = None


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    donation_id: str
    amount: Money  # what the payer is charged: gift + tip + covered fees
    application_fee: Money | None  # the platform's share (tip, platform fee); None = nothing
    description: str
    donor_email: str
    success_url: str
    cancel_url: str
    webhook_url: str  # Mollie: per payment; Stripe ignores it (endpoint configured on the account)
    locale: str = "fr"
    # "once" | "monthly" | "yearly". Recurring: Stripe opens Checkout in subscription mode
    # (the subscription starts when it is paid); Mollie creates a customer and its *first*
    # payment, and the plan starts with ``start_subscription`` once that payment is paid.
    frequency: str = "once"
    metadata: Mapping[str, str] = field(default_factory=dict)
    idempotency_key: str = ""  # deterministic, e.g. "donation:{id}:checkout"
    # When the hosted page stops accepting payment (Stripe: 30 min to 24 h ahead; Mollie: ignored).
    # Derive it from the donation row (created_at + expiry), never from "now": a retry with the
    # same idempotency key must send identical parameters. None = the provider's default (24 h).
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Checkout:
    provider: str
    checkout_id: str  # cs_… (Stripe) or tr_… (Mollie): what the hosted page is for
    checkout_url: str
    payment_id: str | None  # pi_… once known / tr_…
    expires_at: datetime | None
    customer_id: str | None = None  # Mollie recurring: the cst_… the first payment is for


@dataclass(frozen=True, slots=True)
class Dispute:
    dispute_id: str  # dp_… / chb_…
    amount: Money
    status: DisputeStatus


@dataclass(frozen=True, slots=True)
class RefundInfo:
    refund_id: str  # re_… / re_… (Mollie)
    amount: Money
    status: str  # "pending" | "succeeded" | "failed" | "canceled"
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PaymentSnapshot:
    """The provider's current truth about one payment, re-fetched (never from a webhook body)."""

    provider: str
    checkout_id: str | None
    payment_id: str | None
    donation_id: str | None  # from the metadata we set at checkout
    status: PaymentStatus
    amount: Money
    refunds: Sequence[RefundInfo] = ()
    disputes: Sequence[Dispute] = ()
    fee: Money | None = None  # provider's processing fee, when known
    method: str | None = None  # "card" | "sepa_debit" | "ideal" | "bancontact" | …
    paid_at: datetime | None = None
    customer_id: str | None = None
    subscription_id: str | None = None  # sub_… of the recurring plan this payment belongs to
    # "first" (the checkout that starts a plan) | "recurring" (a renewal) | None (one-off).
    # A renewal carries the donation_id of the checkout that started its plan.
    sequence_type: str | None = None
    invoice_id: str | None = None  # Stripe in_… of a subscription payment
    mandate_id: str | None = None  # Mollie mdt_… left by a paid first payment
    purpose: str | None = None  # "payment_method_update": not a gift (Mollie mandate change)

    @property
    def refunded(self) -> Money:
        """Refunds that succeeded or are on their way (pending counts: the money is leaving)."""
        total = Money.zero(self.amount.currency)
        for r in self.refunds:
            if r.status in ("pending", "succeeded"):
                total += r.amount
        return total

    @property
    def disputed_lost(self) -> Money:
        """Amount of disputes/chargebacks that are open or lost (money not with the association)."""
        total = Money.zero(self.amount.currency)
        for d in self.disputes:
            if d.status is not DisputeStatus.WON:
                total += d.amount
        return total


@dataclass(frozen=True, slots=True)
class WebhookNotice:
    """A verified webhook, reduced to what tells us which object to re-fetch."""

    provider: str
    event_id: str  # Stripe evt_…; Mollie has none: adapter derives one (see its docstring)
    event_type: str  # Stripe type; Mollie "payment" | "subscription" | …
    object_id: str  # the object to re-fetch: cs_/pi_/ch_/dp_/po_ (Stripe), tr_/sub_ (Mollie)
    payment_ref: (
        str | None
    )  # the checkout/payment id this concerns, when the body tells (pi_/cs_/tr_)
    account: str | None  # Stripe Connect "account" (acct_…); None for Mollie
    livemode: bool
    donation_id: str | None = None  # metadata.donation_id when present in the body
    subscription_id: str | None = None  # sub_… the event concerns, when the body tells


class SubscriptionStatus(enum.StrEnum):
    """Normalised state of a recurring plan at the provider."""

    ACTIVE = "active"  # collecting normally
    PAST_DUE = "past_due"  # the latest payment failed; the provider may still retry
    PAUSED = "paused"  # collection paused (Stripe ``pause_collection``)
    CANCELED = "canceled"  # ended on request (donor, association, dashboard)
    LAPSED = "lapsed"  # ended or stuck because payments failed (Stripe: retries exhausted)


@dataclass(frozen=True, slots=True)
class PaymentMethodInfo:
    """How a plan is paid, for reminders (card expiry, SEPA pre-notification)."""

    kind: str  # "card" | "sepa_debit" | "paypal" | …
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    mandate_id: str | None = None  # Stripe mandate_… / Mollie mdt_…
    mandate_reference: str | None = None  # SEPA mandate reference (UMR) shown to the debtor


@dataclass(frozen=True, slots=True)
class SubscriptionSnapshot:
    """The provider's current truth about one recurring plan, re-fetched."""

    provider: str
    subscription_id: str
    status: SubscriptionStatus
    provider_status: str  # the provider's own word (active, past_due, unpaid, suspended…)
    amount: Money  # charged each cycle
    interval: str  # "monthly" | "yearly"
    customer_id: str | None
    donation_id: str | None  # metadata.donation_id of the checkout that started it
    next_payment_date: date | None  # next scheduled charge (None once ended)
    payment_method: PaymentMethodInfo | None = None
    cancel_at_period_end: bool = False
    canceled_at: datetime | None = None
    failed_attempts: int = 0  # failed attempts of the current (unpaid) cycle
    next_retry_at: datetime | None = None  # when the provider retries (Stripe), if it will
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Payout:
    provider: str
    payout_id: str  # po_… / stl_…
    amount: Money
    status: str  # "pending" | "in_transit" | "paid" | "failed" | "canceled"
    arrival_date: date | None
    created_at: datetime | None


@dataclass(frozen=True, slots=True)
class PayoutLine:
    line_id: str  # txn_… (Stripe balance transaction) or a stable id from the Mollie settlement
    # "payment" | "refund" | "dispute" | "fee" | "application_fee" | "adjustment" | "payout"
    kind: str
    source_id: str | None  # ch_/pi_/re_/dp_ (Stripe), tr_/re_/chb_ (Mollie)
    payment_ref: str | None  # pi_/tr_ the line belongs to, when known
    gross: Money
    fee: Money
    net: Money
    created_at: datetime | None
    description: str = ""


class PaymentProvider(Protocol):
    """One payment provider, as the services see it.

    Every method that creates something takes a deterministic idempotency key so a retry
    never creates a second object. Methods raise the ``ProviderError`` tree above; no SDK
    exception or object ever escapes.
    """

    name: str

    async def create_checkout(self, account: ConnectedAccount, req: CheckoutRequest) -> Checkout:
        """Create the hosted checkout of one donation (Stripe Checkout Session / Mollie payment)."""
        ...

    async def fetch_payment(self, account: ConnectedAccount, ref: str) -> PaymentSnapshot:
        """Re-fetch the full current state of a payment from its checkout or payment id."""
        ...

    async def refund(
        self, account: ConnectedAccount, payment_id: str, amount: Money, idempotency_key: str
    ) -> RefundInfo:
        """Refund ``amount`` of a paid payment (full or partial)."""
        ...

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookNotice:
        """Verify and parse a webhook request; raise ``WebhookInvalid`` when it must be refused."""
        ...

    async def list_payouts(self, account: ConnectedAccount, limit: int = 100) -> list[Payout]:
        """Recent payouts (Stripe payouts / Mollie settlements) of the connected account."""
        ...

    async def list_payout_lines(
        self, account: ConnectedAccount, payout_id: str
    ) -> list[PayoutLine]:
        """Every movement in one payout (Stripe balance transactions / Mollie settlement)."""
        ...

    def iter_payout_lines(
        self, account: ConnectedAccount, payout_id: str, batch: int = 1000
    ) -> AsyncIterator[list[PayoutLine]]:
        """The same movements page by page to the end, about ``batch`` at a time (a payout
        may have 100,000 lines: the sync stores them with flat memory)."""
        ...

    async def list_pending_event_refs(
        self, account: ConnectedAccount | None
    ) -> list[WebhookNotice]:
        """Catch-up for missed webhooks: Stripe events with ``delivery_success=false``;
        Mollie returns [] (the reconciliation cron re-fetches open payments instead)."""
        ...

    # --- recurring plans -----------------------------------------------------------------------
    # ``customer_id`` (keyword) is what Mollie needs to reach a subscription (its URLs are
    # under the customer); without it the Mollie adapter searches the account's subscriptions.
    # Stripe ignores it.

    async def start_subscription(
        self,
        account: ConnectedAccount,
        customer_id: str,
        mandate: str | None,
        amount: Money,
        interval: str,
        webhook_url: str,
        metadata: Mapping[str, str],
        idempotency_key: str,
        *,
        start_date: date | None = None,
        description: str = "",
        application_fee: Money | None = None,
    ) -> SubscriptionSnapshot:
        """Mollie: start the plan once its first payment is paid (``mandate``: the payment's
        ``mandate_id``). ``start_date`` is the first *renewal* (the first payment paid the
        first cycle): derive it from that payment's ``paid_at`` so retries send the same
        body; None = today + one interval. Stripe: ``ProviderRejected`` (Checkout starts it)."""
        ...

    async def fetch_subscription(
        self, account: ConnectedAccount, subscription_id: str, *, customer_id: str | None = None
    ) -> SubscriptionSnapshot:
        """Re-fetch the plan's current state."""
        ...

    async def list_subscription_payments(
        self, account: ConnectedAccount, subscription_id: str, *, customer_id: str | None = None
    ) -> list[PaymentSnapshot]:
        """Every payment of the plan, the first included, oldest first."""
        ...

    async def update_subscription(
        self,
        account: ConnectedAccount,
        subscription_id: str,
        amount: Money | None = None,
        interval: str | None = None,
        pause: bool | None = None,
        *,
        customer_id: str | None = None,
        idempotency_key: str = "",
    ) -> SubscriptionSnapshot:
        """Change amount and/or interval (from the next cycle; Stripe charges at once when the
        interval changes), pause (True) or resume (False). Mollie cannot pause."""
        ...

    async def cancel_subscription(
        self, account: ConnectedAccount, subscription_id: str, *, customer_id: str | None = None
    ) -> SubscriptionSnapshot:
        """Stop future payments now; never refunds. Canceling a canceled plan is a no-op."""
        ...

    async def payment_method_update_url(
        self,
        account: ConnectedAccount,
        subscription_id: str,
        return_url: str,
        *,
        customer_id: str | None = None,
        webhook_url: str | None = None,
        idempotency_key: str = "",
    ) -> str:
        """A hosted page where the donor replaces the plan's payment method. Stripe: a
        customer-portal session. Mollie: a minimal *first* payment (its webhook goes to
        ``webhook_url``; purpose "payment_method_update"); once paid, call
        ``complete_payment_method_update``."""
        ...

    async def complete_payment_method_update(
        self,
        account: ConnectedAccount,
        subscription_id: str,
        payment_ref: str,
        *,
        customer_id: str | None = None,
    ) -> SubscriptionSnapshot:
        """Mollie: move the plan onto the mandate of the paid update payment. Stripe: nothing
        to do (the portal already switched it); returns the plan."""
        ...
