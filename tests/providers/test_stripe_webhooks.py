"""Stripe webhook verification and parsing (no network)."""

from __future__ import annotations

import json
import time

import pytest
import stripe

from donate.providers.base import WebhookInvalid
from donate.providers.stripe import StripeProvider

from .helpers import WEBHOOK_SECRET, signed, stripe_event, stripe_object


@pytest.fixture
def provider() -> StripeProvider:
    return StripeProvider("sk_test_x", WEBHOOK_SECRET, api_base="http://127.0.0.1:9")


def _session_event() -> dict[str, object]:
    session = stripe_object("checkout.session")
    session["metadata"] = {"donation_id": "don_42"}
    return stripe_event(session, "checkout.session.completed", account="acct_1Assoc")


def test_valid_signature_parses_the_session_event(provider: StripeProvider) -> None:
    body, headers = signed(_session_event())
    notice = provider.parse_webhook(body, headers)
    assert notice.provider == "stripe"
    assert notice.event_id == "evt_1Test"
    assert notice.event_type == "checkout.session.completed"
    assert notice.object_id.startswith("cs_test_")
    assert notice.payment_ref == notice.object_id
    assert notice.account == "acct_1Assoc"
    assert notice.livemode is False
    assert notice.donation_id == "don_42"


def test_header_lookup_is_case_insensitive(provider: StripeProvider) -> None:
    body, headers = signed(_session_event())
    lower = {k.lower(): v for k, v in headers.items()}
    assert provider.parse_webhook(body, lower).event_id == "evt_1Test"


def test_any_v1_signature_may_match(provider: StripeProvider) -> None:
    body, headers = signed(_session_event())
    t, v1 = headers["Stripe-Signature"].split(",")
    headers["Stripe-Signature"] = f"{t},v1={'0' * 64},{v1}"
    assert provider.parse_webhook(body, headers).event_id == "evt_1Test"


def test_forged_signature_is_refused(provider: StripeProvider) -> None:
    body, headers = signed(_session_event(), secret="whsec_someone_else")
    with pytest.raises(WebhookInvalid):
        provider.parse_webhook(body, headers)


def test_tampered_body_is_refused(provider: StripeProvider) -> None:
    body, headers = signed(_session_event())
    with pytest.raises(WebhookInvalid):
        provider.parse_webhook(body.replace(b"don_42", b"don_43"), headers)


@pytest.mark.parametrize("header", [None, "", "garbage", "t=abc,v1=def", "t=123"])
def test_missing_or_malformed_signature_header_is_refused(
    provider: StripeProvider, header: str | None
) -> None:
    body, _ = signed(_session_event())
    headers = {} if header is None else {"Stripe-Signature": header}
    with pytest.raises(WebhookInvalid):
        provider.parse_webhook(body, headers)


def test_stale_signature_is_refused(provider: StripeProvider) -> None:
    body, headers = signed(_session_event(), timestamp=int(time.time()) - 301)
    with pytest.raises(WebhookInvalid, match="tolerance"):
        provider.parse_webhook(body, headers)


def test_signature_within_tolerance_is_accepted(provider: StripeProvider) -> None:
    body, headers = signed(_session_event(), timestamp=int(time.time()) - 250)
    assert provider.parse_webhook(body, headers).event_id == "evt_1Test"


def test_tolerance_is_configurable() -> None:
    strict = StripeProvider("sk_test_x", WEBHOOK_SECRET, webhook_tolerance_s=10)
    body, headers = signed(_session_event(), timestamp=int(time.time()) - 60)
    with pytest.raises(WebhookInvalid):
        strict.parse_webhook(body, headers)


def test_livemode_mismatch_is_refused(provider: StripeProvider) -> None:
    event = _session_event()
    event["livemode"] = True
    body, headers = signed(event)
    with pytest.raises(WebhookInvalid, match="livemode"):
        provider.parse_webhook(body, headers)
    live = StripeProvider("sk_live_x", WEBHOOK_SECRET, livemode=True)
    assert live.parse_webhook(body, headers).livemode is True


def test_no_configured_secret_refuses_everything() -> None:
    body, headers = signed(_session_event())
    with pytest.raises(WebhookInvalid):
        StripeProvider("sk_test_x", None).parse_webhook(body, headers)


@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        b"[]",
        b'"evt_1"',
        json.dumps({"id": "evt_1", "type": "x", "livemode": False}).encode(),
        json.dumps(
            {"id": "nope", "type": "x", "livemode": False, "data": {"object": {"id": "a"}}}
        ).encode(),
        json.dumps({"id": "evt_1", "type": "x", "data": {"object": {"id": "a"}}}).encode(),
        b"\xff\xfe",
    ],
)
def test_malformed_bodies_are_refused(provider: StripeProvider, payload: bytes) -> None:
    header = stripe.WebhookSignature.generate_signature_header(
        payload.decode("latin-1"), WEBHOOK_SECRET
    )
    with pytest.raises(WebhookInvalid):
        provider.parse_webhook(payload, {"Stripe-Signature": header})


@pytest.mark.parametrize(
    ("kind", "event_type", "fields", "ref"),
    [
        ("payment_intent", "payment_intent.succeeded", {}, "pi_1PgafyB7WZ01zgkWSjxsAJo3"),
        ("charge", "charge.refunded", {"payment_intent": "pi_A"}, "pi_A"),
        ("charge", "charge.refunded", {"payment_intent": None}, "ch_1PgafuB7WZ01zgkWXYmPNZs8"),
        ("refund", "refund.updated", {"payment_intent": "pi_B"}, "pi_B"),
        ("refund", "refund.updated", {}, "ch_1PgafuB7WZ01zgkWXYmPNZs8"),
        ("dispute", "charge.dispute.created", {"payment_intent": "pi_C"}, "pi_C"),
        ("dispute", "charge.dispute.closed", {}, "ch_1PgafuB7WZ01zgkWXYmPNZs8"),
        ("payout", "payout.paid", {}, None),
    ],
)
def test_payment_ref_of_each_object_kind(
    provider: StripeProvider, kind: str, event_type: str, fields: dict[str, object], ref: str | None
) -> None:
    obj = {**stripe_object(kind), **fields}
    notice = provider.parse_webhook(*signed(stripe_event(obj, event_type)))
    assert notice.object_id == obj["id"]
    assert notice.payment_ref == ref
    assert notice.account is None


def test_invoice_events_name_their_payment_and_subscription() -> None:
    provider = StripeProvider("sk_test_x", WEBHOOK_SECRET)
    invoice = {
        "id": "in_1Renewal",
        "object": "invoice",
        "billing_reason": "subscription_cycle",
        "parent": {
            "type": "subscription_details",
            "subscription_details": {
                "subscription": "sub_1Plan",
                "metadata": {"donation_id": "don_9"},
            },
        },
    }
    notice = provider.parse_webhook(*signed(stripe_event(invoice, "invoice.paid")))
    assert (notice.object_id, notice.payment_ref) == ("in_1Renewal", "in_1Renewal")
    assert (notice.subscription_id, notice.donation_id) == ("sub_1Plan", "don_9")
    expanded = invoice | {
        "payments": {
            "object": "list",
            "data": [
                {
                    "is_default": True,
                    "payment": {"type": "payment_intent", "payment_intent": "pi_3X"},
                }
            ],
        }
    }
    assert (
        provider.parse_webhook(*signed(stripe_event(expanded, "invoice.paid"))).payment_ref
        == "pi_3X"
    )
    legacy = {
        "id": "in_1Old",
        "object": "invoice",
        "payment_intent": "pi_3Old",
        "subscription": "sub_1Old",
    }
    old = provider.parse_webhook(*signed(stripe_event(legacy, "invoice.payment_failed")))
    assert (old.payment_ref, old.subscription_id) == ("pi_3Old", "sub_1Old")
    inpay = {
        "id": "inpay_1",
        "object": "invoice_payment",
        "invoice": "in_1Renewal",
        "payment": {"type": "payment_intent", "payment_intent": "pi_3Y"},
    }
    assert (
        provider.parse_webhook(*signed(stripe_event(inpay, "invoice_payment.paid"))).payment_ref
        == "pi_3Y"
    )
    sub = {"id": "sub_1Plan", "object": "subscription", "metadata": {"donation_id": "don_9"}}
    deleted = provider.parse_webhook(*signed(stripe_event(sub, "customer.subscription.deleted")))
    assert (deleted.object_id, deleted.subscription_id, deleted.payment_ref) == (
        "sub_1Plan",
        "sub_1Plan",
        None,
    )
    assert deleted.donation_id == "don_9"
