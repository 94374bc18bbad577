"""Stripe recurring gifts: Checkout in ``mode=subscription`` on the connected account, then
the subscription's invoices (one per cycle, each paid by one PaymentIntent).

The platform's share is ``application_fee_percent`` (Stripe takes it from every invoice);
changes never prorate (``proration_behavior=none``): a new amount applies from the next cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

import stripe

from donate.domain.money import Money
from donate.providers.base import (
    Checkout,
    CheckoutRequest,
    ConnectedAccount,
    PaymentSnapshot,
    ProviderRejected,
    SubscriptionSnapshot,
    SubscriptionStatus,
)
from donate.providers.stripe_billing_mapping import (
    INTERVALS,
    invoice_snapshot,
    subscription_from,
)
from donate.providers.stripe_common import JSON, id_of, plain, request_options, stripe_errors
from donate.providers.stripe_mapping import (
    invoice_payment_intent,
    invoice_subscription,
    stripe_locale,
    to_datetime,
)

if TYPE_CHECKING:
    from stripe.params import SubscriptionUpdateParams
    from stripe.params.checkout import SessionCreateParams

_PI_EXPAND = ["latest_charge.balance_transaction"]
_MAX_INVOICES = 1000


def fee_percent(amount: Money, fee: Money) -> float:
    """The application fee as Stripe's percent (2 decimals), rounded half up."""
    if fee.currency != amount.currency or fee.minor < 0 or fee > amount:
        raise ProviderRejected(f"stripe: application fee {fee} does not fit in {amount}")
    pct = (Decimal(fee.minor) * 100 / Decimal(amount.minor)).quantize(
        Decimal("0.01"), ROUND_HALF_UP
    )
    return float(pct)


def subscription_params(req: CheckoutRequest, success_url: str) -> SessionCreateParams:
    interval = INTERVALS.get(req.frequency)
    if interval is None:
        raise ProviderRejected(f"stripe: unknown frequency {req.frequency!r}")
    metadata = {**req.metadata, "donation_id": req.donation_id, "frequency": req.frequency}
    params: SessionCreateParams = {
        "mode": "subscription",
        "client_reference_id": req.donation_id,
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": req.amount.currency.lower(),
                    "unit_amount": req.amount.minor,
                    "recurring": {"interval": interval},
                    "product_data": {"name": req.description or "Donation"},
                },
            }
        ],
        "subscription_data": {"metadata": metadata},
        "metadata": metadata,
        "success_url": success_url,
        "cancel_url": req.cancel_url,
        "locale": stripe_locale(req.locale),
    }
    if req.description:
        params["subscription_data"]["description"] = req.description
    if req.donor_email:
        params["customer_email"] = req.donor_email
    if req.application_fee:
        pct = fee_percent(req.amount, req.application_fee)
        params["subscription_data"]["application_fee_percent"] = pct
    if req.expires_at is not None:
        params["expires_at"] = int(req.expires_at.timestamp())
    return params


class StripeRecurring:
    """The recurring half of ``StripeProvider`` (see ``base.PaymentProvider``)."""

    name = "stripe"
    _client: stripe.StripeClient

    async def _create_subscription_checkout(
        self, account: ConnectedAccount, req: CheckoutRequest, success_url: str
    ) -> Checkout:
        params = subscription_params(req, success_url)
        with stripe_errors():
            session = plain(
                await self._client.v1.checkout.sessions.create_async(
                    params, request_options(account, req.idempotency_key)
                )
            )
        return Checkout(
            provider=self.name,
            checkout_id=session["id"],
            checkout_url=session["url"],
            payment_id=None,  # the first invoice's PaymentIntent exists once it is paid
            expires_at=to_datetime(session.get("expires_at")),
        )

    # --- payments of a subscription ------------------------------------------------------------

    async def _invoice_payment(
        self,
        account: ConnectedAccount,
        invoice_id: str,
        *,
        session: JSON | None = None,
        intent: JSON | None = None,
        invoice: JSON | None = None,
    ) -> PaymentSnapshot:
        """The snapshot of one subscription invoice's payment (with refunds and disputes)."""
        v1, opts = self._client.v1, request_options(account)
        with stripe_errors():
            if invoice is None:
                invoice = plain(
                    await v1.invoices.retrieve_async(invoice_id, {"expand": ["payments"]}, opts)
                )
            pi_id = invoice_payment_intent(invoice)
            if intent is None and pi_id:
                intent = plain(
                    await v1.payment_intents.retrieve_async(pi_id, {"expand": _PI_EXPAND}, opts)
                )
            if session is None and invoice.get("billing_reason") == "subscription_create":
                sub_id = invoice_subscription(invoice) or ""
                found = await v1.checkout.sessions.list_async(
                    {"subscription": sub_id, "limit": 1}, opts
                )
                session = plain(found.data[0]) if found.data else None
            refunds: list[JSON] = []
            disputes: list[JSON] = []
            charge = (intent or {}).get("latest_charge")
            if isinstance(charge, dict) and intent is not None:
                # Only ask when the charge says there is something to list.
                if charge.get("amount_refunded"):
                    page = await v1.refunds.list_async(
                        {"payment_intent": intent["id"], "limit": 100}, opts
                    )
                    refunds = [plain(r) for r in page.data]
                if charge.get("disputed"):
                    page_d = await v1.disputes.list_async(
                        {"payment_intent": intent["id"], "limit": 100}, opts
                    )
                    disputes = [plain(d) for d in page_d.data]
            return invoice_snapshot(invoice, intent, session, refunds, disputes)

    async def _invoice_of_intent(self, account: ConnectedAccount, pi_id: str) -> str | None:
        with stripe_errors():
            found = await self._client.v1.invoice_payments.list_async(
                {"payment": {"type": "payment_intent", "payment_intent": pi_id}, "limit": 1},
                request_options(account),
            )
        if not found.data:
            return None
        return id_of(plain(found.data[0]).get("invoice"))

    async def list_subscription_payments(
        self, account: ConnectedAccount, subscription_id: str, *, customer_id: str | None = None
    ) -> list[PaymentSnapshot]:
        invoices: list[JSON] = []
        with stripe_errors():
            page = await self._client.v1.invoices.list_async(
                {"subscription": subscription_id, "limit": 100, "expand": ["data.payments"]},
                request_options(account),
            )
            async for found in page.auto_paging_iter():
                invoices.append(plain(found))
                if len(invoices) >= _MAX_INVOICES:
                    raise ProviderRejected(f"stripe: {subscription_id} has too many invoices")
        snapshots = []
        for inv in reversed(invoices):  # Stripe lists newest first
            if inv.get("status") in ("draft", "void"):
                continue  # not a payment: not finalized yet, or voided while paused
            snapshots.append(await self._invoice_payment(account, inv["id"], invoice=inv))
        return snapshots

    # --- the subscription itself ---------------------------------------------------------------

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
        raise ProviderRejected("stripe: subscriptions start when their Checkout is paid")

    async def fetch_subscription(
        self, account: ConnectedAccount, subscription_id: str, *, customer_id: str | None = None
    ) -> SubscriptionSnapshot:
        v1, opts = self._client.v1, request_options(account)
        with stripe_errors():
            sub = plain(
                await v1.subscriptions.retrieve_async(
                    subscription_id, {"expand": ["default_payment_method", "latest_invoice"]}, opts
                )
            )
            pm = sub.get("default_payment_method")
            mandate = None
            if isinstance(pm, dict) and pm.get("type") == "sepa_debit":
                mandate = await self._mandate_of(account, pm)
            return subscription_from(sub, pm if isinstance(pm, dict) else None, mandate)

    async def _mandate_of(self, account: ConnectedAccount, pm: JSON) -> JSON | None:
        """A SEPA payment method's mandate, named by the latest charge made with it."""
        v1, opts = self._client.v1, request_options(account)
        customer = id_of(pm.get("customer"))
        if not customer:
            return None
        charges = await v1.charges.list_async({"customer": customer, "limit": 10}, opts)
        for ch in charges.data:
            details = plain(ch).get("payment_method_details") or {}
            mandate_id = (details.get("sepa_debit") or {}).get("mandate")
            if ch.payment_method == pm["id"] and mandate_id:
                return plain(await v1.mandates.retrieve_async(mandate_id, None, opts))
        return None

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
        v1 = self._client.v1
        params: SubscriptionUpdateParams = {}
        with stripe_errors():
            sub = plain(
                await v1.subscriptions.retrieve_async(
                    subscription_id, None, request_options(account)
                )
            )
            if amount is not None or interval is not None:
                item = sub["items"]["data"][0]
                price = item["price"]
                current = Money(
                    int(price["unit_amount"]) * int(item.get("quantity") or 1),
                    str(price["currency"]).upper(),
                )
                new_amount = amount or current
                if new_amount.currency != current.currency or new_amount.minor <= 0:
                    raise ProviderRejected(f"stripe: {new_amount} cannot replace {current}")
                new_interval = (
                    INTERVALS.get(interval) if interval else price["recurring"]["interval"]
                )
                if new_interval is None:
                    raise ProviderRejected(f"stripe: unknown frequency {interval!r}")
                params["items"] = [
                    {
                        "id": item["id"],
                        "quantity": 1,
                        "price_data": {
                            "currency": price["currency"],
                            "product": id_of(price["product"]) or "",
                            "unit_amount": new_amount.minor,
                            "recurring": {"interval": new_interval},
                        },
                    }
                ]
                params["proration_behavior"] = "none"
            if pause is not None:
                params["pause_collection"] = {"behavior": "void"} if pause else ""
            if params:
                await v1.subscriptions.update_async(
                    subscription_id,
                    params,
                    request_options(account, idempotency_key),
                )
        return await self.fetch_subscription(account, subscription_id)

    async def cancel_subscription(
        self, account: ConnectedAccount, subscription_id: str, *, customer_id: str | None = None
    ) -> SubscriptionSnapshot:
        current = await self.fetch_subscription(account, subscription_id)
        if current.status in (SubscriptionStatus.CANCELED, SubscriptionStatus.LAPSED) and (
            current.provider_status in ("canceled", "incomplete_expired")
        ):
            return current  # already ended: canceling twice is a no-op
        with stripe_errors():
            await self._client.v1.subscriptions.cancel_async(
                subscription_id, None, request_options(account)
            )
        return await self.fetch_subscription(account, subscription_id)

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
        v1 = self._client.v1
        with stripe_errors():
            if not customer_id:
                sub = plain(
                    await v1.subscriptions.retrieve_async(
                        subscription_id, None, request_options(account)
                    )
                )
                customer_id = id_of(sub.get("customer"))
            if not customer_id:
                raise ProviderRejected(f"stripe: {subscription_id} has no customer")
            session = await v1.billing_portal.sessions.create_async(
                {
                    "customer": customer_id,
                    "return_url": return_url,
                    "flow_data": {"type": "payment_method_update"},
                },
                request_options(account, idempotency_key),
            )
            return str(session.url)

    async def complete_payment_method_update(
        self,
        account: ConnectedAccount,
        subscription_id: str,
        payment_ref: str,
        *,
        customer_id: str | None = None,
    ) -> SubscriptionSnapshot:
        # The portal already made the new payment method the subscription's default.
        return await self.fetch_subscription(account, subscription_id)
