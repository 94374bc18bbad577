"""Stripe adapter: Checkout Sessions as Connect *direct charges* on the association's account.

Every account-scoped call carries ``Stripe-Account: acct_…``: the payment, its Stripe fees,
refunds, disputes and payouts live on the association's account and the platform earns
``application_fee_amount``. SDK objects are turned into plain dicts at once and mapped to the
``base`` dataclasses by the pure functions of ``stripe_mapping``; SDK exceptions become the
``ProviderError`` tree (``map_error``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING

import stripe

from donate.domain.money import Money
from donate.providers.base import (
    Checkout,
    CheckoutRequest,
    ConnectedAccount,
    PaymentSnapshot,
    Payout,
    PayoutLine,
    ProviderNotFound,
    ProviderRejected,
    RefundInfo,
    WebhookInvalid,
    WebhookNotice,
)
from donate.providers.stripe_common import (
    QuietHTTPXClient,
    map_error,
    request_options,
)
from donate.providers.stripe_common import id_of as _id_of
from donate.providers.stripe_common import plain as _plain
from donate.providers.stripe_common import stripe_errors as _stripe_errors
from donate.providers.stripe_mapping import (
    JSON,
    notice_from_event,
    payout_from,
    payout_line_from,
    refund_from,
    snapshot_from,
    stripe_locale,
    to_datetime,
)
from donate.providers.stripe_recurring import StripeRecurring

if TYPE_CHECKING:
    from stripe._request_options import RequestOptions
    from stripe.params.checkout import SessionCreateParams

__all__ = ["STRIPE_API_DEFAULT", "QuietHTTPXClient", "StripeProvider", "map_error"]

STRIPE_API_DEFAULT = "https://api.stripe.com"
_MAX_ITEMS = 2000  # listing cap: 30 days of undelivered events
# Expanding the deepest path expands every step: PI, its latest charge, the charge's balance txn.
_PI_EXPAND = ["latest_charge.balance_transaction"]
_SESSION_EXPAND = ["payment_intent.latest_charge.balance_transaction"]


class StripeProvider(StripeRecurring):
    """``PaymentProvider`` for Stripe (see ``base.PaymentProvider`` for the contract)."""

    name = "stripe"

    def __init__(
        self,
        secret_key: str,
        webhook_secret: str | None,
        *,
        api_base: str = STRIPE_API_DEFAULT,
        webhook_tolerance_s: int = 300,
        livemode: bool = False,
        timeout_s: float = 20.0,
        max_network_retries: int = 1,
    ) -> None:
        self._webhook_secret = webhook_secret
        self._tolerance_s = webhook_tolerance_s
        self._livemode = livemode
        self._http = QuietHTTPXClient(timeout=timeout_s)
        self._client = stripe.StripeClient(
            api_key=secret_key,
            base_addresses={"api": api_base.rstrip("/")},
            http_client=self._http,
            max_network_retries=max_network_retries,
        )

    async def aclose(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]  # unannotated in the SDK

    @staticmethod
    def _options(account: ConnectedAccount | None, idempotency_key: str = "") -> RequestOptions:
        return request_options(account, idempotency_key)

    async def create_checkout(self, account: ConnectedAccount, req: CheckoutRequest) -> Checkout:
        if req.frequency != "once":
            return await self._create_subscription_checkout(
                account, req, _with_session_placeholder(req.success_url)
            )
        metadata = {**req.metadata, "donation_id": req.donation_id}
        params: SessionCreateParams = {
            "mode": "payment",
            "submit_type": "donate",
            "client_reference_id": req.donation_id,
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": req.amount.currency.lower(),
                        "unit_amount": req.amount.minor,
                        "product_data": {"name": req.description or "Donation"},
                    },
                }
            ],
            "payment_intent_data": {"metadata": metadata, "description": req.description},
            "metadata": metadata,
            "success_url": _with_session_placeholder(req.success_url),
            "cancel_url": req.cancel_url,
            "locale": stripe_locale(req.locale),
        }
        if req.donor_email:
            params["customer_email"] = req.donor_email
        if req.application_fee:
            _same_currency(req.amount, req.application_fee)
            params["payment_intent_data"]["application_fee_amount"] = req.application_fee.minor
        if req.expires_at is not None:
            params["expires_at"] = int(req.expires_at.timestamp())
        with _stripe_errors():
            session = _plain(
                await self._client.v1.checkout.sessions.create_async(
                    params, self._options(account, req.idempotency_key)
                )
            )
            pi = session.get("payment_intent")
            return Checkout(
                provider=self.name,
                checkout_id=session["id"],
                checkout_url=session["url"],
                payment_id=pi if isinstance(pi, str) else (pi or {}).get("id"),
                expires_at=to_datetime(session.get("expires_at")),
            )

    async def fetch_payment(self, account: ConnectedAccount, ref: str) -> PaymentSnapshot:
        opts = self._options(account)
        v1 = self._client.v1
        session: JSON | None = None
        with _stripe_errors():
            if ref.startswith("cs_"):
                session = _plain(
                    await v1.checkout.sessions.retrieve_async(
                        ref, {"expand": _SESSION_EXPAND}, opts
                    )
                )
                pi = session.get("payment_intent")
                intent = pi if isinstance(pi, dict) else None
                invoice_id = _id_of(session.get("invoice"))
                if session.get("mode") == "subscription" and invoice_id:
                    return await self._invoice_payment(account, invoice_id, session=session)
            elif ref.startswith("in_"):
                return await self._invoice_payment(account, ref)
            elif ref.startswith(("pi_", "ch_")):
                pi_id = ref
                if ref.startswith("ch_"):
                    charge = _plain(await v1.charges.retrieve_async(ref, None, opts))
                    pi_id = _id_of(charge.get("payment_intent")) or ""
                    if not pi_id:
                        raise ProviderRejected(f"stripe: charge {ref} has no payment intent")
                intent = _plain(
                    await v1.payment_intents.retrieve_async(pi_id, {"expand": _PI_EXPAND}, opts)
                )
                found = await v1.checkout.sessions.list_async(
                    {"payment_intent": pi_id, "limit": 1}, opts
                )
                session = _plain(found.data[0]) if found.data else None
                if session is None:
                    # No Checkout: a subscription invoice's payment (renewal or first).
                    invoice_id = await self._invoice_of_intent(account, pi_id)
                    if invoice_id:
                        return await self._invoice_payment(account, invoice_id, intent=intent)
            else:
                raise ProviderNotFound(f"stripe: not a payment reference: {ref!r}")
            refunds: list[JSON] = []
            disputes: list[JSON] = []
            # Refunds and disputes hang off a charge: none can exist before the first one.
            if intent is not None and intent.get("latest_charge"):
                pi_id = str(intent["id"])
                found_r = await v1.refunds.list_async({"payment_intent": pi_id, "limit": 100}, opts)
                found_d = await v1.disputes.list_async(
                    {"payment_intent": pi_id, "limit": 100}, opts
                )
                refunds = [_plain(r) for r in found_r.data]
                disputes = [_plain(d) for d in found_d.data]
            return snapshot_from(session, intent, refunds, disputes)

    async def refund(
        self, account: ConnectedAccount, payment_id: str, amount: Money, idempotency_key: str
    ) -> RefundInfo:
        opts = self._options(account)
        with _stripe_errors():
            pi_id = payment_id
            if payment_id.startswith("cs_"):
                session = _plain(
                    await self._client.v1.checkout.sessions.retrieve_async(payment_id, None, opts)
                )
                pi_id = _id_of(session.get("payment_intent")) or ""
                if not pi_id:
                    raise ProviderRejected(f"stripe: session {payment_id} has no payment yet")
            refund = await self._client.v1.refunds.create_async(
                {"payment_intent": pi_id, "amount": amount.minor, "metadata": {"source": "donate"}},
                self._options(account, idempotency_key),
            )
            info = refund_from(_plain(refund))
        if info.amount.currency != amount.currency:
            raise ProviderRejected(
                f"stripe: refund in {info.amount.currency}, not {amount.currency}"
            )
        return info

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookNotice:
        if not self._webhook_secret:
            raise WebhookInvalid("stripe: no webhook secret configured")
        header = _header(headers, "stripe-signature")
        try:
            stripe.WebhookSignature.verify_header(
                body,
                header,
                self._webhook_secret,
                self._tolerance_s,
            )
            event = json.loads(body)
        except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
            raise WebhookInvalid(f"stripe: {exc}") from exc
        notice = notice_from_event(event)
        if notice.livemode != self._livemode:
            raise WebhookInvalid(
                f"stripe: livemode={notice.livemode} event on a test/live mismatch"
            )
        return notice

    async def list_payouts(self, account: ConnectedAccount, limit: int = 100) -> list[Payout]:
        with _stripe_errors():
            page = await self._client.v1.payouts.list_async(
                {"limit": max(1, min(limit, 100))}, self._options(account)
            )
            return [payout_from(_plain(p)) for p in page.data][:limit]

    async def list_payout_lines(
        self, account: ConnectedAccount, payout_id: str
    ) -> list[PayoutLine]:
        return [ln async for batch in self.iter_payout_lines(account, payout_id) for ln in batch]

    async def iter_payout_lines(
        self, account: ConnectedAccount, payout_id: str, batch: int = 1000
    ) -> AsyncIterator[list[PayoutLine]]:
        # Auto-pagination to the end, ``batch`` lines at a time: a payout may have 100,000.
        lines: list[PayoutLine] = []
        with _stripe_errors():
            page = await self._client.v1.balance_transactions.list_async(
                {"payout": payout_id, "limit": 100, "expand": ["data.source"]},
                self._options(account),
            )
            async for txn in page.auto_paging_iter():
                lines.append(payout_line_from(_plain(txn)))
                if len(lines) >= batch:
                    yield lines
                    lines = []
        if lines:
            yield lines

    async def list_pending_event_refs(
        self, account: ConnectedAccount | None
    ) -> list[WebhookNotice]:
        notices: list[WebhookNotice] = []
        with _stripe_errors():
            page = await self._client.v1.events.list_async(
                {"delivery_success": False, "limit": 100}, self._options(account)
            )
            async for event in page.auto_paging_iter():
                data = _plain(event)
                if account is not None and account.account_id:
                    # Listing with Stripe-Account omits "account": say whose event it is.
                    data.setdefault("account", account.account_id)
                try:
                    notices.append(notice_from_event(data))
                except WebhookInvalid:
                    continue  # an event about nothing we can re-fetch
                if len(notices) >= _MAX_ITEMS:
                    break
        return notices


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    # Plain dicts are case-sensitive; Starlette's Headers are not.
    for key, val in headers.items():
        if key.lower() == name:
            return val
    return None


def _with_session_placeholder(url: str) -> str:
    """Let the return page re-fetch the session: Stripe replaces ``{CHECKOUT_SESSION_ID}``."""
    if "{CHECKOUT_SESSION_ID}" in url:
        return url
    return f"{url}{'&' if '?' in url else '?'}session_id={{CHECKOUT_SESSION_ID}}"


def _same_currency(amount: Money, fee: Money) -> None:
    if fee.currency != amount.currency or fee.minor < 0 or fee > amount:
        raise ProviderRejected(f"stripe: application fee {fee} does not fit in {amount}")
