"""What the Mollie adapter sends, checked on the wire with a fake ``requests`` adapter."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter

from donate.domain.money import Money
from donate.providers.base import (
    CheckoutRequest,
    ConnectedAccount,
    PaymentStatus,
    ProviderNotFound,
    ProviderRejected,
    ProviderUnavailable,
)
from donate.providers.mollie import MollieProvider

from .helpers import mollie_fixture

KEY_ACCOUNT = ConnectedAccount("mollie", "org_1", access_token="test_assocKey")
OAUTH_ACCOUNT = ConnectedAccount("mollie", "pfl_1", access_token="access_assocToken")
Handler = Callable[[requests.PreparedRequest], tuple[int, Any]]


class FakeMollie(BaseAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[requests.PreparedRequest] = []
        self.handler: Handler = lambda request: (500, {"status": 500, "detail": "boom"})

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.requests.append(request)
        status, body = self.handler(request)
        response = requests.Response()
        response.status_code = status
        response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response.headers["Content-Type"] = "application/hal+json"
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass


@pytest.fixture
def fake() -> FakeMollie:
    return FakeMollie()


@pytest.fixture
def provider(fake: FakeMollie) -> MollieProvider:
    provider = MollieProvider(api_base="http://mollie.invalid")
    for account in (KEY_ACCOUNT, OAUTH_ACCOUNT):
        client = provider._client(account)
        session = requests.Session()
        session.mount("http://", fake)
        client._client = session  # the SDK creates its Session lazily: hand it ours
    return provider


def _request(**overrides: Any) -> CheckoutRequest:
    values: dict[str, Any] = {
        "donation_id": "don_1",
        "amount": Money(2500, "EUR"),
        "application_fee": None,
        "description": "Don",
        "donor_email": "ada@example.org",
        "success_url": "https://donate.example/thanks",
        "cancel_url": "https://donate.example/cancel",
        "webhook_url": "https://donate.example/webhooks/mollie",
        "locale": "fr",
        "idempotency_key": "donation:don_1:checkout",
    }
    return CheckoutRequest(**(values | overrides))


async def test_create_payment_with_an_api_key(provider: MollieProvider, fake: FakeMollie) -> None:
    fake.handler = lambda request: (201, mollie_fixture("payment_single"))
    checkout = await provider.create_checkout(KEY_ACCOUNT, _request())
    assert checkout.checkout_id == checkout.payment_id == "tr_7UhSN1zuXS"
    assert checkout.checkout_url == "https://www.mollie.com/payscreen/select-method/7UhSN1zuXS"
    assert checkout.expires_at is not None
    (sent,) = fake.requests
    assert sent.method == "POST"
    assert sent.url == "http://mollie.invalid/v2/payments"
    assert sent.headers["Authorization"] == "Bearer test_assocKey"
    assert sent.headers["Idempotency-Key"] == "donation:don_1:checkout"
    body = json.loads(sent.body or b"")
    assert body == {
        "amount": {"currency": "EUR", "value": "25.00"},
        "description": "Don",
        "redirectUrl": "https://donate.example/thanks",
        "cancelUrl": "https://donate.example/cancel",
        "webhookUrl": "https://donate.example/webhooks/mollie",
        "metadata": {"donation_id": "don_1"},
        "locale": "fr_FR",
    }


async def test_create_payment_with_oauth_and_application_fee(
    provider: MollieProvider, fake: FakeMollie
) -> None:
    fake.handler = lambda request: (201, mollie_fixture("payment_single"))
    await provider.create_checkout(OAUTH_ACCOUNT, _request(application_fee=Money(150, "EUR")))
    body = json.loads(fake.requests[-1].body or b"")
    assert body["applicationFee"] == {
        "amount": {"currency": "EUR", "value": "1.50"},
        "description": "Platform fee",
    }
    assert body["profileId"] == "pfl_1"
    assert body["testmode"] is True  # OAuth reaches both modes: say which
    assert fake.requests[-1].headers["Authorization"] == "Bearer access_assocToken"


async def test_fee_in_another_currency_is_rejected(provider: MollieProvider) -> None:
    with pytest.raises(ProviderRejected):
        await provider.create_checkout(
            KEY_ACCOUNT, _request(amount=Money(1000, "JPY"), application_fee=Money(1, "EUR"))
        )


async def test_fetch_lists_refunds_and_chargebacks_when_not_embedded(
    provider: MollieProvider, fake: FakeMollie
) -> None:
    payment = mollie_fixture("payment_single") | {"status": "paid"}

    def handler(request: requests.PreparedRequest) -> tuple[int, Any]:
        path = urlsplit(request.url or "").path
        if path.endswith("/refunds"):
            return 200, mollie_fixture("refunds_list") | {"_links": {}}
        if path.endswith("/chargebacks"):
            return 200, mollie_fixture("chargebacks_list") | {"_links": {}}
        return 200, payment

    fake.handler = handler
    snap = await provider.fetch_payment(KEY_ACCOUNT, "tr_7UhSN1zuXS")
    assert snap.status is PaymentStatus.PAID
    assert snap.refunded == Money(595, "EUR")
    assert len(snap.disputes) == 1
    get = fake.requests[0]
    assert parse_qs(urlsplit(get.url or "").query) == {"embed": ["refunds,chargebacks"]}


async def test_refund_posts_to_the_payment(provider: MollieProvider, fake: FakeMollie) -> None:
    fake.handler = lambda request: (201, mollie_fixture("refund_single"))
    info = await provider.refund(KEY_ACCOUNT, "tr_7UhSN1zuXS", Money(595, "EUR"), "don:1:refund:1")
    assert info.refund_id == "re_4qqhO89gsT"
    (sent,) = fake.requests
    assert sent.url == "http://mollie.invalid/v2/payments/tr_7UhSN1zuXS/refunds"
    assert sent.headers["Idempotency-Key"] == "don:1:refund:1"
    assert json.loads(sent.body or b"") == {"amount": {"currency": "EUR", "value": "5.95"}}


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (404, {"status": 404, "title": "Not Found", "detail": "No payment"}, ProviderNotFound),
        (422, {"status": 422, "title": "Unprocessable", "detail": "amount"}, ProviderRejected),
        (500, {"status": 500, "title": "Error", "detail": "boom"}, ProviderUnavailable),
        (502, b"<html>Bad gateway</html>", ProviderUnavailable),
    ],
)
async def test_http_errors_are_mapped(
    provider: MollieProvider,
    fake: FakeMollie,
    status: int,
    body: Any,
    expected: type[Exception],
) -> None:
    fake.handler = lambda request: (status, body)
    with pytest.raises(expected):
        await provider.fetch_payment(KEY_ACCOUNT, "tr_7UhSN1zuXS")


async def test_connection_errors_are_unavailable(
    provider: MollieProvider, fake: FakeMollie
) -> None:
    def refuse(request: requests.PreparedRequest) -> tuple[int, Any]:
        raise requests.ConnectionError("refused")

    fake.handler = refuse
    with pytest.raises(ProviderUnavailable):
        await provider.fetch_payment(KEY_ACCOUNT, "tr_7UhSN1zuXS")


async def test_settlement_lines(provider: MollieProvider, fake: FakeMollie) -> None:
    def handler(request: requests.PreparedRequest) -> tuple[int, Any]:
        path = urlsplit(request.url or "").path
        if path.endswith("/payments"):
            return 200, mollie_fixture("payments_list") | {"_links": {}}
        if path.endswith("/refunds"):
            return 200, mollie_fixture("refunds_list") | {"_links": {}}
        if path.endswith("/chargebacks"):
            return 200, mollie_fixture("settlement_chargebacks_list") | {"_links": {}}
        return 200, mollie_fixture("settlement_single")

    fake.handler = handler
    lines = await provider.list_payout_lines(KEY_ACCOUNT, "stl_jDk30akdN")
    kinds = {line.kind for line in lines}
    assert kinds == {"payment", "refund", "dispute", "fee"}
    paths = [urlsplit(r.url or "").path for r in fake.requests]
    assert paths[0] == "/v2/settlements/stl_jDk30akdN"
    assert "/v2/settlements/stl_jDk30akdN/payments" in paths
