"""Mollie recurring gifts: customer → *first* payment (the donor's checkout, which leaves a
mandate) → subscription on that mandate, whose payments Mollie creates each cycle and posts
to the subscription's ``webhookUrl`` (with ``subscriptionId`` set).

Mollie reaches a subscription only under its customer (``/customers/{cst}/subscriptions/{sub}``):
every method takes ``customer_id``; without it the account's subscriptions are searched.
Mollie never retries a failed debit and cannot pause a subscription.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from mollie.api.client import Client
from mollie.api.objects.customer import Customer
from mollie.api.objects.subscription import Subscription
from mollie.api.resources import CustomerMandates, CustomerSubscriptions, SubscriptionPayments

from donate.domain.money import Money
from donate.providers.base import (
    Checkout,
    CheckoutRequest,
    ConnectedAccount,
    PaymentSnapshot,
    ProviderError,
    ProviderNotFound,
    ProviderRejected,
    SubscriptionSnapshot,
)
from donate.providers.mollie_mapping import (
    INTERVALS,
    JSON,
    amount_param,
    mollie_locale,
    snapshot_from,
    subscription_from,
    to_datetime,
)

_T = TypeVar("_T")
_PAGE = 250
_RECENT = 12  # payments read to count consecutive failures
_MAX_SCAN = 5000
UPDATE_PURPOSE = "payment_method_update"


def _months(interval: str) -> int:
    return 12 if interval == "yearly" else 1


def first_renewal(paid: date, interval: str) -> date:
    """The first payment paid the first cycle: the plan's own payments start one later."""
    index = paid.month - 1 + _months(interval)
    year, month = paid.year + index // 12, index % 12 + 1
    return date(year, month, min(paid.day, 28))  # Mollie moves month ends; 28 is always safe


def _pages(page: Any, cap: int = _MAX_SCAN) -> list[JSON]:
    items: list[JSON] = []
    while page is not None:
        items.extend(dict(obj) for obj in page)
        if len(items) > cap:
            raise ProviderRejected("mollie: too many items to list")
        page = page.get_next() if page.has_next() else None
    return items


class MollieRecurring:
    """The recurring half of ``MollieProvider`` (see ``base.PaymentProvider``)."""

    name = "mollie"

    def _client(self, account: ConnectedAccount) -> Client:
        raise NotImplementedError

    async def _call(self, work: Callable[[], _T]) -> _T:
        raise NotImplementedError

    # --- checkout: customer + first payment --------------------------------------------------

    async def _create_first_payment(
        self, account: ConnectedAccount, req: CheckoutRequest, data: JSON
    ) -> Checkout:
        if req.frequency not in INTERVALS:
            raise ProviderRejected(f"mollie: unknown frequency {req.frequency!r}")
        client = self._client(account)
        key = req.idempotency_key
        customer_body: JSON = {
            "email": req.donor_email or None,
            "metadata": {"donation_id": req.donation_id},
        }
        locale = mollie_locale(req.locale)
        if locale:
            customer_body["locale"] = locale
        body = {**data, "sequenceType": "first"}
        body["metadata"] = {**data["metadata"], "frequency": req.frequency}

        def work() -> tuple[str, JSON]:
            customer = dict(
                client.customers.create(
                    customer_body, idempotency_key=f"{key}:customer" if key else ""
                )
            )
            payment = client.payments.create(
                {**body, "customerId": customer["id"]}, idempotency_key=key
            )
            return str(customer["id"]), dict(payment)

        customer_id, payment = await self._call(work)
        try:
            url = str(payment["_links"]["checkout"]["href"])
        except (KeyError, TypeError) as exc:
            raise ProviderError(f"mollie: no checkout link in {payment.get('id')}") from exc
        return Checkout(
            provider=self.name,
            checkout_id=payment["id"],
            checkout_url=url,
            payment_id=payment["id"],
            expires_at=to_datetime(payment.get("expiresAt")),
            customer_id=customer_id,
        )

    # --- reaching a subscription -------------------------------------------------------------

    def _customer_of(self, client: Client, subscription_id: str, customer_id: str | None) -> str:
        """Runs in the worker thread."""
        if customer_id:
            return customer_id
        for sub in _pages(client.subscriptions.list(limit=_PAGE)):
            if sub.get("id") == subscription_id:
                found = Subscription(sub, client).customer_id  # type: ignore[no-untyped-call]
                if found:
                    return str(found)
        raise ProviderNotFound(f"mollie: no subscription {subscription_id}")

    @staticmethod
    def _subs(client: Client, customer_id: str) -> CustomerSubscriptions:
        return CustomerSubscriptions(client, Customer({"id": customer_id}, client))  # type: ignore[no-untyped-call]

    def _snapshot(self, client: Client, customer_id: str, sub: JSON) -> SubscriptionSnapshot:
        """Runs in the worker thread: the plan with its mandate and recent payments."""
        sub.setdefault("customerId", customer_id)
        customer = Customer({"id": customer_id}, client)  # type: ignore[no-untyped-call]
        mandate = None
        if sub.get("mandateId"):
            mandate = dict(CustomerMandates(client, customer).get(str(sub["mandateId"])))
        obj = Subscription(sub, client)  # type: ignore[no-untyped-call]
        recent = [dict(p) for p in SubscriptionPayments(client, customer, obj).list(limit=_RECENT)]
        return subscription_from(sub, mandate, recent)

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
        if interval not in INTERVALS:
            raise ProviderRejected(f"mollie: unknown frequency {interval!r}")
        today = datetime.now(UTC).date()
        start = start_date or first_renewal(today, interval)
        # Mollie wants each subscription's description unique per customer.
        label = description or f"Don régulier {metadata.get('donation_id', '')}".strip()
        body: JSON = {
            "amount": amount_param(amount),
            "interval": INTERVALS[interval],
            "description": label[:255],
            "webhookUrl": webhook_url,
            "metadata": dict(metadata),
            "startDate": start.isoformat(),
        }
        if mandate:
            body["mandateId"] = mandate
        if application_fee:
            if application_fee.currency != amount.currency or application_fee > amount:
                raise ProviderRejected(f"mollie: application fee {application_fee} > {amount}")
            body["applicationFee"] = {
                "amount": amount_param(application_fee),
                "description": "Platform fee",
            }
        if account.account_id.startswith("pfl_") and (account.access_token or "").startswith(
            "access_"
        ):
            body["profileId"] = account.account_id
        client = self._client(account)

        def work() -> SubscriptionSnapshot:
            created = self._subs(client, customer_id).create(body, idempotency_key=idempotency_key)
            return self._snapshot(client, customer_id, dict(created))

        return await self._call(work)

    async def fetch_subscription(
        self, account: ConnectedAccount, subscription_id: str, *, customer_id: str | None = None
    ) -> SubscriptionSnapshot:
        client = self._client(account)

        def work() -> SubscriptionSnapshot:
            cst = self._customer_of(client, subscription_id, customer_id)
            sub = dict(self._subs(client, cst).get(subscription_id))
            return self._snapshot(client, cst, sub)

        return await self._call(work)

    async def list_subscription_payments(
        self, account: ConnectedAccount, subscription_id: str, *, customer_id: str | None = None
    ) -> list[PaymentSnapshot]:
        """The plan's payments, oldest first; Mollie does not link the first payment to the
        plan, so it is included only when the plan's metadata names it (``first_payment_id``)."""
        client = self._client(account)

        def work() -> list[PaymentSnapshot]:
            cst = self._customer_of(client, subscription_id, customer_id)
            customer = Customer({"id": cst}, client)  # type: ignore[no-untyped-call]
            sub = self._subs(client, cst).get(subscription_id)
            rows = _pages(SubscriptionPayments(client, customer, sub).list(limit=_PAGE))
            first = (sub.metadata or {}).get("first_payment_id")
            if first and all(r["id"] != first for r in rows):
                rows.append(dict(client.payments.get(str(first))))
            snaps = []
            for row in reversed(rows):  # Mollie lists newest first
                refunds: list[JSON] = []
                chargebacks: list[JSON] = []
                payment = client.payments.get(row["id"]) if _has_money_back(row) else None
                if payment is not None:
                    refunds = _pages(payment.refunds.list(limit=_PAGE))
                    chargebacks = _pages(payment.chargebacks.list(limit=_PAGE))
                snaps.append(snapshot_from(row, refunds, chargebacks))
            return snaps

        return await self._call(work)

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
        if pause is not None:
            raise ProviderRejected("mollie: subscriptions cannot be paused (cancel, then restart)")
        body: JSON = {}
        if amount is not None:
            body["amount"] = amount_param(amount)
        if interval is not None:
            if interval not in INTERVALS:
                raise ProviderRejected(f"mollie: unknown frequency {interval!r}")
            body["interval"] = INTERVALS[interval]
        client = self._client(account)

        def work() -> SubscriptionSnapshot:
            cst = self._customer_of(client, subscription_id, customer_id)
            subs = self._subs(client, cst)
            if body:
                sub = subs.update(subscription_id, body, idempotency_key=idempotency_key)
            else:
                sub = subs.get(subscription_id)
            return self._snapshot(client, cst, dict(sub))

        return await self._call(work)

    async def cancel_subscription(
        self, account: ConnectedAccount, subscription_id: str, *, customer_id: str | None = None
    ) -> SubscriptionSnapshot:
        client = self._client(account)

        def work() -> SubscriptionSnapshot:
            cst = self._customer_of(client, subscription_id, customer_id)
            subs = self._subs(client, cst)
            current = dict(subs.get(subscription_id))
            if current.get("status") not in ("canceled", "completed"):
                current = dict(subs.delete(subscription_id))
            return self._snapshot(client, cst, current)

        return await self._call(work)

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
        """A first payment of the smallest amount (Mollie needs one to make a mandate)."""
        client = self._client(account)

        def work() -> str:
            cst = self._customer_of(client, subscription_id, customer_id)
            sub = dict(self._subs(client, cst).get(subscription_id))
            currency = str(sub["amount"]["currency"])
            body: JSON = {
                "amount": amount_param(Money(1, currency)),
                "description": "Mise à jour du moyen de paiement",
                "sequenceType": "first",
                "customerId": cst,
                "redirectUrl": return_url,
                "metadata": {"purpose": UPDATE_PURPOSE, "subscription_id": subscription_id},
            }
            if webhook_url:
                body["webhookUrl"] = webhook_url
            if account.account_id.startswith("pfl_") and (account.access_token or "").startswith(
                "access_"
            ):
                body["profileId"] = account.account_id
            payment = dict(client.payments.create(body, idempotency_key=idempotency_key))
            return str(payment["_links"]["checkout"]["href"])

        return await self._call(work)

    async def complete_payment_method_update(
        self,
        account: ConnectedAccount,
        subscription_id: str,
        payment_ref: str,
        *,
        customer_id: str | None = None,
    ) -> SubscriptionSnapshot:
        client = self._client(account)

        def work() -> SubscriptionSnapshot:
            payment = dict(client.payments.get(payment_ref))
            meta = payment.get("metadata") or {}
            if payment.get("status") != "paid" or not payment.get("mandateId"):
                raise ProviderRejected(f"mollie: {payment_ref} left no mandate (not paid)")
            if meta.get("subscription_id") != subscription_id:
                raise ProviderRejected(f"mollie: {payment_ref} is not for {subscription_id}")
            cst = str(payment.get("customerId") or customer_id)
            sub = self._subs(client, cst).update(
                subscription_id,
                {"mandateId": payment["mandateId"]},
                idempotency_key=f"{payment_ref}:mandate",
            )
            return self._snapshot(client, cst, dict(sub))

        return await self._call(work)


def _has_money_back(payment: JSON) -> bool:
    for key in ("amountRefunded", "amountChargedBack"):
        value = payment.get(key) or {}
        if value and str(value.get("value", "0")) not in ("0", "0.00", "0.000"):
            return True
    return False
