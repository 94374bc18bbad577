"""Mollie adapter: one Mollie payment per donation, on the association's own account.

mollie-api-python is synchronous (requests), so every SDK call runs in a worker thread
(``anyio.to_thread.run_sync``) and returns plain dicts; ``mollie_mapping`` turns them into the
``base`` dataclasses. One SDK client per access token is cached (its ``requests.Session``
keeps connections alive, and ``mollie_http`` retries a request sent on a connection that just
dropped); ``access_…`` tokens are OAuth (Mollie Connect, with ``applicationFee``),
``test_…``/``live_…`` are an association's own API key.

Webhook event ids. A classic Mollie webhook is a bare ``id=tr_…`` with no signature and no
event id, and Mollie posts the *same body* for every state change of the payment (paid, then
refunded, then charged back…) and for its own retries. Any id derived from the body alone
(object id, body hash, a time bucket) would make the raw-event dedup drop a later state
change, which would then wait for the reconciliation cron. So each call gets a fresh id,
``"{object_id}:{uuid4 hex}"``: Mollie webhooks are *not* deduplicated at ingest. That is safe
because a Mollie webhook carries no state: its processing re-fetches the payment and applies
the provider's current truth, which is idempotent (DESIGN rules 2 and 3). The cost is at most
one redundant re-fetch per Mollie retry (10 calls over 26 h, only when we failed to answer).
"""

from __future__ import annotations

import re
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import parse_qs

import anyio.to_thread
from mollie.api.client import Client
from mollie.api.error import (
    Error as MollieError,
)
from mollie.api.error import (
    IdentifierError,
    RequestError,
    RequestSetupError,
    ResponseError,
    ResponseHandlingError,
)
from mollie.api.objects.list import PaginationList
from mollie.api.objects.payment import Payment

from donate.domain.money import Money
from donate.providers.base import (
    Checkout,
    CheckoutRequest,
    ConnectedAccount,
    PaymentSnapshot,
    Payout,
    PayoutLine,
    ProviderError,
    ProviderNotFound,
    ProviderRejected,
    ProviderUnavailable,
    RefundInfo,
    WebhookInvalid,
    WebhookNotice,
)
from donate.providers.mollie_http import MollieClient
from donate.providers.mollie_mapping import (
    JSON,
    amount_param,
    cost_lines,
    mollie_locale,
    money,
    payout_from,
    refund_from,
    settlement_line,
    snapshot_from,
    to_datetime,
)
from donate.providers.mollie_recurring import MollieRecurring

MOLLIE_API_DEFAULT = "https://api.mollie.com"
_T = TypeVar("_T")
_MAX_ITEMS = 5000  # listing cap: one payment's refunds or chargebacks
_PAGE = 250  # Mollie's largest page
_CACHED_CLIENTS = 256
_WEBHOOK_ID = re.compile(r"^(tr|sub|ord|pl)_[A-Za-z0-9]{1,64}$")
_WEBHOOK_TYPE = {"tr": "payment", "sub": "subscription", "ord": "order", "pl": "payment_link"}
_PAYMENT_ID = re.compile(r"^tr_[A-Za-z0-9]+$")


def map_error(exc: MollieError) -> ProviderError:
    """SDK exception → our tree: retryable, not found, or rejected."""
    message = f"mollie: {exc}"
    if isinstance(exc, IdentifierError):
        return ProviderNotFound(message)  # an id Mollie cannot have issued
    if isinstance(exc, RequestSetupError):
        return ProviderRejected(message)  # a malformed key or request body
    if isinstance(exc, RequestError | ResponseHandlingError):
        return ProviderUnavailable(message)  # network error, or a non-JSON 5xx page
    if isinstance(exc, ResponseError):
        status = int(exc.status or 0)
        if status in (404, 410):
            return ProviderNotFound(message)
        if status == 429 or status >= 500 or status == 0:
            return ProviderUnavailable(message)
        return ProviderRejected(message)
    return ProviderError(message)


def _all_pages(page: PaginationList) -> list[JSON]:
    items: list[JSON] = []
    current: PaginationList | None = page
    while current is not None:
        items.extend(dict(obj) for obj in current)
        if len(items) > _MAX_ITEMS:
            raise ProviderRejected("mollie: too many items to list")
        # The SDK's list paging is unannotated.
        more = current.has_next()  # type: ignore[no-untyped-call]
        current = current.get_next() if more else None  # type: ignore[no-untyped-call]
    return items


def _embedded(obj: Mapping[str, Any], name: str) -> list[JSON] | None:
    found = (obj.get("_embedded") or {}).get(name)
    return [dict(x) for x in found] if isinstance(found, list) else None


class MollieProvider(MollieRecurring):
    """``PaymentProvider`` for Mollie (see ``base.PaymentProvider`` for the contract)."""

    name = "mollie"

    def __init__(
        self,
        *,
        api_base: str = MOLLIE_API_DEFAULT,
        livemode: bool = False,
        timeout_s: int = 20,
    ) -> None:
        self._api_base = api_base.rstrip("/")
        self._livemode = livemode
        self._timeout = (min(5, timeout_s), timeout_s)  # (connect, read)
        self._clients: OrderedDict[str, Client] = OrderedDict()

    def _client(self, account: ConnectedAccount) -> Client:
        """The cached SDK client for this account's token (created in the event-loop thread)."""
        token = (account.access_token or "").strip()
        if not token:
            raise ProviderRejected(f"mollie: account {account.account_id} has no access token")
        if token.startswith(("live_", "test_")) and token.startswith("live_") != self._livemode:
            raise ProviderRejected("mollie: API key mode does not match the platform's livemode")
        client = self._clients.get(token)
        if client is not None:
            self._clients.move_to_end(token)
            return client
        client = MollieClient(api_endpoint=self._api_base, timeout=self._timeout)
        try:
            if token.startswith("access_"):
                client.set_access_token(token)
                # OAuth tokens reach both modes: say which one each request is for.
                client.set_testmode(not self._livemode)
            else:
                client.set_api_key(token)
        except RequestSetupError as exc:
            raise ProviderRejected(f"mollie: {exc}") from exc
        self._clients[token] = client
        if len(self._clients) > _CACHED_CLIENTS:
            self._clients.popitem(last=False)
        return client

    async def _call(self, work: Callable[[], _T]) -> _T:
        """Run blocking SDK work in a worker thread and map its errors."""
        try:
            return await anyio.to_thread.run_sync(work)
        except MollieError as exc:
            raise map_error(exc) from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise ProviderError(f"mollie: unexpected response shape: {exc!r}") from exc

    async def create_checkout(self, account: ConnectedAccount, req: CheckoutRequest) -> Checkout:
        data: JSON = {
            "amount": amount_param(req.amount),
            "description": (req.description or "Donation")[:255],
            "redirectUrl": req.success_url,
            "cancelUrl": req.cancel_url,
            "webhookUrl": req.webhook_url,
            "metadata": {**req.metadata, "donation_id": req.donation_id},
        }
        locale = mollie_locale(req.locale)
        if locale:
            data["locale"] = locale
        if req.application_fee:
            fee = req.application_fee
            if fee.currency != req.amount.currency or fee.minor < 0 or fee > req.amount:
                raise ProviderRejected(f"mollie: application fee {fee} does not fit {req.amount}")
            data["applicationFee"] = {"amount": amount_param(fee), "description": "Platform fee"}
        if account.account_id.startswith("pfl_"):
            data["profileId"] = account.account_id  # required with OAuth tokens
        if req.frequency != "once":
            return await self._create_first_payment(account, req, data)
        client = self._client(account)
        key = req.idempotency_key

        def work() -> JSON:
            return dict(client.payments.create(data, idempotency_key=key))

        payment = await self._call(work)
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
        )

    async def fetch_payment(self, account: ConnectedAccount, ref: str) -> PaymentSnapshot:
        if not _PAYMENT_ID.match(ref):
            raise ProviderNotFound(f"mollie: not a payment id: {ref!r}")
        client = self._client(account)

        def work() -> PaymentSnapshot:
            payment = client.payments.get(ref, embed="refunds,chargebacks")
            data = dict(payment)
            refunds = _embedded(data, "refunds")
            chargebacks = _embedded(data, "chargebacks")
            # Only a paid payment can have either; ask when the API did not embed them.
            if data.get("status") == "paid" or data.get("amountRefunded"):
                if refunds is None:
                    refunds = _all_pages(payment.refunds.list(limit=_PAGE))
                if chargebacks is None:
                    chargebacks = _all_pages(payment.chargebacks.list(limit=_PAGE))
            return snapshot_from(data, refunds or [], chargebacks or [])

        return await self._call(work)

    async def refund(
        self, account: ConnectedAccount, payment_id: str, amount: Money, idempotency_key: str
    ) -> RefundInfo:
        if not _PAYMENT_ID.match(payment_id):
            raise ProviderNotFound(f"mollie: not a payment id: {payment_id!r}")
        client = self._client(account)
        body = {"amount": amount_param(amount)}

        def work() -> RefundInfo:
            # The refund endpoint needs only the payment id: skip a GET of the payment.
            payment = Payment({"id": payment_id}, client)  # type: ignore[no-untyped-call]
            return refund_from(dict(payment.refunds.create(body, idempotency_key=idempotency_key)))

        return await self._call(work)

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookNotice:
        try:
            fields = parse_qs(body.decode("ascii"), strict_parsing=True, max_num_fields=10)
        except (UnicodeDecodeError, ValueError) as exc:
            raise WebhookInvalid(f"mollie: malformed webhook body: {exc}") from exc
        ids = fields.get("id", [])
        if len(ids) != 1 or not _WEBHOOK_ID.match(ids[0]):
            raise WebhookInvalid("mollie: webhook without a valid id")
        object_id = ids[0]
        prefix = object_id.split("_", 1)[0]
        return WebhookNotice(
            provider=self.name,
            event_id=f"{object_id}:{uuid.uuid4().hex}",  # never deduplicated: see module doc
            event_type=_WEBHOOK_TYPE[prefix],
            object_id=object_id,
            payment_ref=object_id if prefix == "tr" else None,
            account=None,
            livemode=self._livemode,
            subscription_id=object_id if prefix == "sub" else None,
        )

    async def list_payouts(self, account: ConnectedAccount, limit: int = 100) -> list[Payout]:
        client = self._client(account)
        size = max(1, min(limit, _PAGE))

        def work() -> list[Payout]:
            page = client.settlements.list(limit=size)
            return [payout_from(dict(s)) for s in page][:limit]

        return await self._call(work)

    async def list_payout_lines(
        self, account: ConnectedAccount, payout_id: str
    ) -> list[PayoutLine]:
        return [ln async for batch in self.iter_payout_lines(account, payout_id) for ln in batch]

    async def iter_payout_lines(
        self, account: ConnectedAccount, payout_id: str, batch: int = 1000
    ) -> AsyncIterator[list[PayoutLine]]:
        # Page by page to the end (a settlement may hold tens of thousands of payments), each
        # page fetched in a worker thread; ``batch`` is a hint, a page is at most _PAGE lines.
        client = self._client(account)
        settlement = await self._call(lambda: client.settlements.get(payout_id))
        data = dict(settlement)
        stl_id = str(data["id"])
        listings = (
            ("payment", lambda: settlement.payments.list(limit=_PAGE), False),
            ("refund", lambda: settlement.refunds.list(limit=_PAGE), True),
            ("dispute", lambda: settlement.chargebacks.list(limit=_PAGE), True),
        )
        for kind, first, negative in listings:
            page: PaginationList | None = await self._call(first)
            while page is not None:
                current = page
                yield [settlement_line(stl_id, kind, dict(o), negative) for o in current]
                # The SDK's list paging is unannotated.
                more = current.has_next()  # type: ignore[no-untyped-call]
                page = await self._call(current.get_next) if more else None
        yield cost_lines(data)

    async def list_pending_event_refs(
        self, account: ConnectedAccount | None
    ) -> list[WebhookNotice]:
        # Mollie keeps no event log: the reconciliation cron re-fetches open payments instead.
        return []


__all__ = ["MOLLIE_API_DEFAULT", "MollieProvider", "map_error", "money"]
