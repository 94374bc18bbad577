"""What the Stripe adapter sends, checked on the wire with an httpx mock transport."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from donate.domain.money import Money
from donate.providers.base import (
    CheckoutRequest,
    ConnectedAccount,
    PaymentStatus,
    ProviderNotFound,
    ProviderRejected,
    ProviderUnavailable,
)
from donate.providers.stripe import StripeProvider

from .helpers import stripe_object

ACCOUNT = ConnectedAccount(provider="stripe", account_id="acct_1Assoc")
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.handler: Handler = lambda request: httpx.Response(500)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)


@pytest.fixture
async def wire() -> AsyncIterator[tuple[StripeProvider, Recorder]]:
    recorder = Recorder()
    provider = StripeProvider(
        "sk_test_platform", "whsec_x", api_base="http://stripe.invalid", max_network_retries=0
    )
    # Swap the SDK's httpx client for one whose transport is the recorder.
    provider._http._client_async = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    yield provider, recorder
    await provider.aclose()


def _form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def _query(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(urlsplit(str(request.url)).query)


def _json(obj: dict[str, Any], status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=obj)


def _request(**overrides: Any) -> CheckoutRequest:
    values: dict[str, Any] = {
        "donation_id": "don_1",
        "amount": Money(2500, "EUR"),
        "application_fee": Money(200, "EUR"),
        "description": "Don à l'association",
        "donor_email": "ada@example.org",
        "success_url": "https://donate.example/thanks",
        "cancel_url": "https://donate.example/cancel",
        "webhook_url": "https://donate.example/webhooks/stripe",
        "locale": "fr",
        "metadata": {"campaign_id": "cmp_1"},
        "idempotency_key": "donation:don_1:checkout",
        "expires_at": datetime(2030, 1, 1, tzinfo=UTC),
    }
    return CheckoutRequest(**(values | overrides))


async def test_create_checkout_sends_a_direct_charge(
    wire: tuple[StripeProvider, Recorder],
) -> None:
    provider, recorder = wire
    session = stripe_object("checkout.session") | {"url": "https://checkout.example/cs"}
    recorder.handler = lambda request: _json(session)
    checkout = await provider.create_checkout(ACCOUNT, _request())

    assert checkout.checkout_id == session["id"]
    assert checkout.checkout_url == "https://checkout.example/cs"
    assert checkout.payment_id == "pi_1PgafyB7WZ01zgkWSjxsAJo3"
    (sent,) = recorder.requests
    assert sent.method == "POST"
    assert sent.url.path == "/v1/checkout/sessions"
    assert sent.headers["Stripe-Account"] == "acct_1Assoc"
    assert sent.headers["Idempotency-Key"] == "donation:don_1:checkout"
    assert sent.headers["Authorization"] == "Bearer sk_test_platform"
    form = _form(sent)
    assert form["mode"] == "payment"
    assert form["line_items[0][price_data][currency]"] == "eur"
    assert form["line_items[0][price_data][unit_amount]"] == "2500"
    assert form["line_items[0][quantity]"] == "1"
    assert form["payment_intent_data[application_fee_amount]"] == "200"
    assert form["payment_intent_data[metadata][donation_id]"] == "don_1"
    assert form["metadata[donation_id]"] == "don_1"
    assert form["metadata[campaign_id]"] == "cmp_1"
    assert form["customer_email"] == "ada@example.org"
    assert form["locale"] == "fr"
    assert form["success_url"] == "https://donate.example/thanks?session_id={CHECKOUT_SESSION_ID}"
    assert form["expires_at"] == str(int(datetime(2030, 1, 1, tzinfo=UTC).timestamp()))


async def test_checkout_without_fee_or_expiry_omits_them(
    wire: tuple[StripeProvider, Recorder],
) -> None:
    provider, recorder = wire
    recorder.handler = lambda request: _json(stripe_object("checkout.session"))
    await provider.create_checkout(
        ACCOUNT, _request(application_fee=None, expires_at=None, amount=Money(1000, "JPY"))
    )
    form = _form(recorder.requests[0])
    assert "payment_intent_data[application_fee_amount]" not in form
    assert "expires_at" not in form
    assert form["line_items[0][price_data][currency]"] == "jpy"
    assert form["line_items[0][price_data][unit_amount]"] == "1000"


async def test_long_idempotency_keys_are_hashed_deterministically(
    wire: tuple[StripeProvider, Recorder],
) -> None:
    provider, recorder = wire
    recorder.handler = lambda request: _json(stripe_object("checkout.session"))
    req = _request(idempotency_key="k" * 300)
    await provider.create_checkout(ACCOUNT, req)
    await provider.create_checkout(ACCOUNT, req)
    first, second = (r.headers["Idempotency-Key"] for r in recorder.requests)
    assert first == second
    assert len(first) <= 255


async def test_recurring_gifts_open_checkout_in_subscription_mode(
    wire: tuple[StripeProvider, Recorder],
) -> None:
    provider, recorder = wire
    session = stripe_object("checkout.session") | {"mode": "subscription", "payment_intent": None}
    recorder.handler = lambda request: _json(session)
    checkout = await provider.create_checkout(ACCOUNT, _request(frequency="yearly"))
    assert checkout.payment_id is None
    (sent,) = recorder.requests
    form = _form(sent)
    assert sent.headers["Stripe-Account"] == "acct_1Assoc"
    assert form["mode"] == "subscription"
    assert form["line_items[0][price_data][recurring][interval]"] == "year"
    assert form["line_items[0][price_data][unit_amount]"] == "2500"
    assert form["subscription_data[application_fee_percent]"] == "8.0"  # 200 of 2500
    assert form["subscription_data[metadata][donation_id]"] == "don_1"
    assert form["subscription_data[metadata][frequency]"] == "yearly"
    assert not any(k.startswith("payment_intent_data") for k in form)
    assert "submit_type" not in form
    with pytest.raises(ProviderRejected, match="weekly"):
        await provider.create_checkout(ACCOUNT, _request(frequency="weekly"))
    assert len(recorder.requests) == 1


async def test_fetch_by_session_expands_and_lists_refunds_and_disputes(
    wire: tuple[StripeProvider, Recorder],
) -> None:
    provider, recorder = wire
    txn = stripe_object("balance_transaction") | {"currency": "eur", "fee": 50}
    charge = stripe_object("charge") | {"balance_transaction": txn}
    intent = stripe_object("payment_intent") | {
        "status": "succeeded",
        "amount": 2500,
        "currency": "eur",
        "latest_charge": charge,
    }
    session = stripe_object("checkout.session") | {
        "status": "complete",
        "payment_status": "paid",
        "amount_total": 2500,
        "currency": "eur",
        "payment_intent": intent,
        "metadata": {"donation_id": "don_1"},
    }
    refund = stripe_object("refund") | {"amount": 700, "currency": "eur"}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/v1/checkout/sessions/"):
            return _json(session)
        if request.url.path == "/v1/refunds":
            return _json(
                {"object": "list", "data": [refund], "has_more": False, "url": "/v1/refunds"}
            )
        return _json({"object": "list", "data": [], "has_more": False, "url": "/v1/disputes"})

    recorder.handler = handler
    snap = await provider.fetch_payment(ACCOUNT, session["id"])
    assert snap.status is PaymentStatus.PAID
    assert snap.amount == Money(2500, "EUR")
    assert snap.refunded == Money(700, "EUR")
    assert snap.fee == Money(50, "EUR")
    assert snap.donation_id == "don_1"
    get_session, list_refunds, list_disputes = recorder.requests
    assert _query(get_session)["expand[0]"] == ["payment_intent.latest_charge.balance_transaction"]
    assert _query(list_refunds)["payment_intent"] == [intent["id"]]
    assert _query(list_disputes)["payment_intent"] == [intent["id"]]
    assert all(r.headers["Stripe-Account"] == "acct_1Assoc" for r in recorder.requests)


async def test_unknown_reference_is_not_found(wire: tuple[StripeProvider, Recorder]) -> None:
    provider, recorder = wire
    with pytest.raises(ProviderNotFound):
        await provider.fetch_payment(ACCOUNT, "tr_mollie")
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (500, {"error": {"type": "api_error", "message": "boom"}}, ProviderUnavailable),
        (429, {"error": {"type": "rate_limit_error", "message": "slow"}}, ProviderUnavailable),
        (
            404,
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "message": "no",
                }
            },
            ProviderNotFound,
        ),
        (400, {"error": {"type": "invalid_request_error", "message": "bad"}}, ProviderRejected),
        (401, {"error": {"type": "invalid_request_error", "message": "key"}}, ProviderRejected),
    ],
)
async def test_http_errors_are_mapped(
    wire: tuple[StripeProvider, Recorder],
    status: int,
    body: dict[str, Any],
    expected: type[Exception],
) -> None:
    provider, recorder = wire
    recorder.handler = lambda request: httpx.Response(status, content=json.dumps(body))
    with pytest.raises(expected):
        await provider.fetch_payment(ACCOUNT, "pi_123")


async def test_connection_errors_are_unavailable(wire: tuple[StripeProvider, Recorder]) -> None:
    provider, recorder = wire

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    recorder.handler = refuse
    with pytest.raises(ProviderUnavailable):
        await provider.refund(ACCOUNT, "pi_123", Money(100, "EUR"), "donation:don_1:refund:1")
