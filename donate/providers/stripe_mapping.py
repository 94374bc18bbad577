"""Pure mapping of Stripe API objects (plain dicts, as on the wire) to the ``base`` dataclasses.

No I/O and no SDK objects here, so every rule is testable with Stripe's own example objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from donate.domain.money import Money
from donate.providers.base import (
    Dispute,
    DisputeStatus,
    PaymentSnapshot,
    PaymentStatus,
    Payout,
    PayoutLine,
    RefundInfo,
    WebhookInvalid,
    WebhookNotice,
)

JSON = dict[str, Any]

# Stripe Checkout locales we can name; anything else lets Checkout use the browser's.
_LOCALES = frozenset(
    {"bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "hr", "hu"}
    | {"it", "ja", "ko", "lt", "lv", "nb", "nl", "pl", "pt", "ro", "sv"}
)

_REFUND_STATUS = {"requires_action": "pending", "pending": "pending", "succeeded": "succeeded"}
_REFUND_STATUS |= {"failed": "failed", "canceled": "canceled"}

# warning_closed: an inquiry closed without a chargeback; prevented: stopped before the
# funds moved. In both the association keeps the money.
_DISPUTE_STATUS = {
    "won": DisputeStatus.WON,
    "warning_closed": DisputeStatus.WON,
    "prevented": DisputeStatus.WON,
    "lost": DisputeStatus.LOST,
}

_PAYOUT_KIND = {
    "charge": "payment",
    "payment": "payment",
    "refund": "refund",
    "payment_refund": "refund",
    "payment_failure_refund": "refund",
    "payment_reversal": "refund",
    "application_fee": "application_fee",
    "application_fee_refund": "application_fee",
    "stripe_fee": "fee",
    "tax_fee": "fee",
    "payout": "payout",
    "payout_cancel": "payout",
    "payout_failure": "payout",
}
_DISPUTE_CATEGORIES = frozenset({"dispute", "dispute_reversal"})


def stripe_locale(locale: str) -> str:
    """``fr``, ``fr-FR`` or ``fr_FR`` → ``fr``; unknown → ``auto``."""
    lang = locale.replace("_", "-").split("-")[0].lower()
    return lang if lang in _LOCALES else "auto"


def money(minor: Any, currency: Any) -> Money:
    """Stripe amounts are integer minor units with a lower-case currency."""
    if not isinstance(minor, int) or not isinstance(currency, str):
        raise ValueError(f"not a Stripe amount: {minor!r} {currency!r}")
    return Money(minor, currency.upper())


def to_datetime(ts: Any) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if isinstance(ts, int) else None


def _date(ts: Any) -> date | None:
    moment = to_datetime(ts)
    return moment.date() if moment else None


def _id(value: Any) -> str | None:
    """An expandable field: the id string, or the expanded object's id."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        found = value.get("id")
        return found if isinstance(found, str) else None
    return None


def _obj(value: Any) -> JSON | None:
    return dict(value) if isinstance(value, Mapping) else None


def _donation_id(*objects: JSON | None) -> str | None:
    for obj in objects:
        meta = (obj or {}).get("metadata")
        if isinstance(meta, Mapping) and isinstance(meta.get("donation_id"), str):
            return str(meta["donation_id"])
    return None


def normalise_status(
    session_status: str | None,
    payment_status: str | None,
    intent_status: str | None,
    has_payment_error: bool = False,
) -> PaymentStatus:
    """One status from a Checkout Session and/or its PaymentIntent (either may be missing).

    A declined card inside an open session is not final (the donor may try again), so the
    session decides while it is open; a SEPA debit that failed after the session completed
    shows as ``complete`` + ``unpaid`` + PI ``requires_payment_method``.
    """
    if intent_status == "succeeded" or payment_status in ("paid", "no_payment_required"):
        return PaymentStatus.PAID
    if intent_status == "processing" or intent_status == "requires_capture":
        return PaymentStatus.PENDING
    if session_status == "expired":
        return PaymentStatus.EXPIRED
    if intent_status == "canceled":
        return PaymentStatus.CANCELED
    if session_status == "complete":
        if intent_status == "requires_payment_method":
            return PaymentStatus.FAILED
        return PaymentStatus.PENDING
    if session_status == "open":
        return PaymentStatus.OPEN
    if intent_status == "requires_payment_method" and has_payment_error:
        return PaymentStatus.FAILED  # a bare PaymentIntent: no hosted page to retry on
    return PaymentStatus.OPEN


def refund_from(refund: JSON) -> RefundInfo:
    return RefundInfo(
        refund_id=refund["id"],
        amount=money(refund["amount"], refund["currency"]),
        status=_REFUND_STATUS.get(str(refund.get("status")), "pending"),
        created_at=to_datetime(refund.get("created")),
    )


def dispute_from(dispute: JSON) -> Dispute:
    return Dispute(
        dispute_id=dispute["id"],
        amount=money(dispute["amount"], dispute["currency"]),
        status=_DISPUTE_STATUS.get(str(dispute.get("status")), DisputeStatus.OPEN),
    )


def processing_fee(charge: JSON | None) -> Money | None:
    """Stripe's own fee on a direct charge. The balance transaction's ``fee`` also holds our
    application fee (charged to the association), so keep only the other ``fee_details``."""
    txn = _obj((charge or {}).get("balance_transaction"))
    if txn is None:
        return None
    currency = str(txn["currency"]).upper()
    details = txn.get("fee_details") or []
    if not details:
        return money(txn["fee"], currency)
    minor = sum(int(d["amount"]) for d in details if d.get("type") != "application_fee")
    return Money(minor, currency)


def _method(session: JSON | None, intent: JSON | None, charge: JSON | None) -> str | None:
    details = _obj((charge or {}).get("payment_method_details"))
    if details and isinstance(details.get("type"), str):
        return str(details["type"])
    for obj in (intent, session):
        types = (obj or {}).get("payment_method_types")
        if isinstance(types, list) and len(types) == 1:
            return str(types[0])
    return None


def snapshot_from(
    session: JSON | None,
    intent: JSON | None,
    refunds: Sequence[JSON] = (),
    disputes: Sequence[JSON] = (),
) -> PaymentSnapshot:
    """The snapshot of a session (with its PaymentIntent expanded, when it has one) or of a
    bare PaymentIntent (with ``latest_charge.balance_transaction`` expanded)."""
    if session is None and intent is None:
        raise ValueError("need a checkout session or a payment intent")
    charge = _obj((intent or {}).get("latest_charge"))
    if session is not None and session.get("amount_total") is not None:
        amount = money(session["amount_total"], session["currency"])
    else:
        assert intent is not None  # amount_total is always set on a payment-mode session
        amount = money(intent["amount"], intent["currency"])
    status = normalise_status(
        (session or {}).get("status"),
        (session or {}).get("payment_status"),
        (intent or {}).get("status"),
        bool((intent or {}).get("last_payment_error")),
    )
    return PaymentSnapshot(
        provider="stripe",
        checkout_id=(session or {}).get("id"),
        payment_id=(intent or {}).get("id") or _id((session or {}).get("payment_intent")),
        donation_id=_donation_id(session, intent),
        status=status,
        amount=amount,
        refunds=tuple(refund_from(r) for r in refunds),
        disputes=tuple(dispute_from(d) for d in disputes),
        fee=processing_fee(charge),
        method=_method(session, intent, charge),
        # Stripe has no "paid at": the charge's creation is when the donor paid (for SEPA,
        # when the debit was submitted).
        paid_at=to_datetime(charge.get("created")) if charge and status == "paid" else None,
        customer_id=_id((session or {}).get("customer")) or _id((intent or {}).get("customer")),
        subscription_id=_id((session or {}).get("subscription")),
        sequence_type="first" if (session or {}).get("mode") == "subscription" else None,
    )


def invoice_subscription(invoice: Mapping[str, Any]) -> str | None:
    details = ((invoice.get("parent") or {}).get("subscription_details")) or {}
    return _id(details.get("subscription")) or _id(invoice.get("subscription"))


def invoice_metadata(invoice: Mapping[str, Any]) -> Mapping[str, Any]:
    details = ((invoice.get("parent") or {}).get("subscription_details")) or {}
    meta = details.get("metadata") or (invoice.get("subscription_details") or {}).get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def invoice_payment_intent(invoice: Mapping[str, Any]) -> str | None:
    """The PaymentIntent of an invoice: ``payments`` (expanded) or the legacy field."""
    payments = invoice.get("payments")
    if isinstance(payments, Mapping):
        rows = [p for p in payments.get("data") or [] if isinstance(p, Mapping)]
        rows.sort(key=lambda p: (not p.get("is_default"), -int(p.get("created") or 0)))
        for row in rows:
            found = _id((row.get("payment") or {}).get("payment_intent"))
            if found:
                return found
    return _id(invoice.get("payment_intent"))


def _payment_ref(obj: JSON) -> str | None:
    kind = obj.get("object")
    if kind in ("checkout.session", "payment_intent"):
        return _id(obj.get("id"))
    if kind in ("charge", "refund", "dispute"):
        ref = _id(obj.get("payment_intent")) or _id(obj.get("charge"))
        return ref or (_id(obj.get("id")) if kind == "charge" else None)
    if kind == "invoice":
        # Webhook bodies carry no ``payments``: then the invoice itself is the reference
        # (``fetch_payment`` accepts in_… and finds its PaymentIntent).
        return invoice_payment_intent(obj) or _id(obj.get("id"))
    if kind == "invoice_payment":
        return _id((obj.get("payment") or {}).get("payment_intent"))
    return None


def _subscription_ref(obj: JSON) -> str | None:
    kind = obj.get("object")
    if kind == "subscription":
        return _id(obj.get("id"))
    if kind == "invoice":
        return invoice_subscription(obj)
    if kind in ("checkout.session", "subscription_item"):
        return _id(obj.get("subscription"))
    return None


def notice_from_event(event: Any) -> WebhookNotice:
    """Reduce an event (webhook body or ``GET /v1/events`` item) to what to re-fetch."""
    if not isinstance(event, Mapping):
        raise WebhookInvalid("stripe: event is not a JSON object")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    event_id, event_type = event.get("id"), event.get("type")
    if not (isinstance(event_id, str) and event_id.startswith("evt_")):
        raise WebhookInvalid("stripe: event without an evt_ id")
    if not isinstance(event_type, str) or not isinstance(obj, Mapping):
        raise WebhookInvalid(f"stripe: event {event_id} has no type or object")
    object_id = _id(obj.get("id"))
    livemode = event.get("livemode")
    if object_id is None or not isinstance(livemode, bool):
        raise WebhookInvalid(f"stripe: event {event_id} has no object id or livemode")
    account = event.get("account")
    return WebhookNotice(
        provider="stripe",
        event_id=event_id,
        event_type=event_type,
        object_id=object_id,
        payment_ref=_payment_ref(dict(obj)),
        account=account if isinstance(account, str) else None,
        livemode=livemode,
        donation_id=_donation_id(dict(obj))
        or (str(invoice_metadata(obj).get("donation_id") or "") or None),
        subscription_id=_subscription_ref(dict(obj)),
    )


def declined_charge(event: Any) -> str | None:
    """The charge a ``payment_intent.payment_failed`` event reports declined. A card decline
    names it in ``last_payment_error``; a failure without a charge (an authentication that
    did not complete) names none, and ``latest_charge`` would then be an older attempt."""
    data = event.get("data") if isinstance(event, Mapping) else None
    obj = data.get("object") if isinstance(data, Mapping) else None
    error = obj.get("last_payment_error") if isinstance(obj, Mapping) else None
    return _id(error.get("charge")) if isinstance(error, Mapping) else None


_PAYOUT_STATUS = frozenset({"pending", "in_transit", "paid", "failed", "canceled"})


def payout_from(payout: JSON) -> Payout:
    status = str(payout.get("status"))
    return Payout(
        provider="stripe",
        payout_id=payout["id"],
        amount=money(payout["amount"], payout["currency"]),
        status=status if status in _PAYOUT_STATUS else "pending",
        arrival_date=_date(payout.get("arrival_date")),
        created_at=to_datetime(payout.get("created")),
    )


def payout_line_kind(txn_type: str, reporting_category: str | None) -> str:
    if reporting_category in _DISPUTE_CATEGORIES or txn_type in _DISPUTE_CATEGORIES:
        return "dispute"
    return _PAYOUT_KIND.get(txn_type, "adjustment")


def payout_line_from(txn: JSON) -> PayoutLine:
    """One balance transaction of a payout (``source`` expanded when Stripe allowed it)."""
    currency = str(txn["currency"]).upper()
    source = txn.get("source")
    source_obj = _obj(source)
    return PayoutLine(
        line_id=txn["id"],
        kind=payout_line_kind(str(txn.get("type")), txn.get("reporting_category")),
        source_id=_id(source),
        payment_ref=_payment_ref(source_obj) if source_obj else None,
        gross=money(txn["amount"], currency),
        fee=money(txn["fee"], currency),
        net=money(txn["net"], currency),
        created_at=to_datetime(txn.get("created")),
        description=str(txn.get("description") or ""),
    )
