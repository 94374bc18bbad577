"""Pure mapping of Stripe Billing objects (subscriptions, invoices, payment methods) to the
``base`` dataclasses, for API versions since 2025-03-31: an invoice names its subscription
under ``parent.subscription_details`` and its PaymentIntent only in ``payments`` (older
versions' top-level ``subscription``/``payment_intent`` are read too when present)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from donate.providers.base import (
    PaymentMethodInfo,
    PaymentSnapshot,
    PaymentStatus,
    SubscriptionSnapshot,
    SubscriptionStatus,
)
from donate.providers.stripe_mapping import (
    JSON,
    dispute_from,
    invoice_metadata,
    invoice_payment_intent,
    invoice_subscription,
    money,
    normalise_status,
    processing_fee,
    refund_from,
    to_datetime,
)

INTERVALS = {"monthly": "month", "yearly": "year"}
_FREQUENCY = {("month", 1): "monthly", ("year", 1): "yearly", ("month", 12): "yearly"}
_ENDED = frozenset({"canceled", "incomplete_expired"})


def _id(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _obj(value: Any) -> JSON | None:
    return dict(value) if isinstance(value, Mapping) else None


def frequency(recurring: Mapping[str, Any] | None) -> str:
    """A price's ``recurring`` → "monthly" | "yearly" (anything else: "{count} {interval}")."""
    if not recurring:
        raise ValueError("not a recurring price")
    key = (str(recurring.get("interval")), int(recurring.get("interval_count") or 1))
    return _FREQUENCY.get(key, f"{key[1]} {key[0]}")


def invoice_snapshot(
    invoice: JSON,
    intent: JSON | None,
    session: JSON | None = None,
    refunds: Sequence[JSON] = (),
    disputes: Sequence[JSON] = (),
) -> PaymentSnapshot:
    """One subscription payment: the invoice and its PaymentIntent (``latest_charge.
    balance_transaction`` expanded); ``session``: the Checkout Session that started it."""
    charge = _obj((intent or {}).get("latest_charge"))
    inv_status = invoice.get("status")
    if intent is not None:
        status = normalise_status(
            None, None, intent.get("status"), bool(intent.get("last_payment_error"))
        )
    elif inv_status == "paid":
        status = PaymentStatus.PAID  # nothing to charge (0 due) or paid out of band
    else:
        status = PaymentStatus.OPEN
    if inv_status == "void":
        status = PaymentStatus.CANCELED
    elif inv_status == "uncollectible" and status is not PaymentStatus.PAID:
        status = PaymentStatus.FAILED
    meta = invoice_metadata(invoice)
    donation = meta.get("donation_id") or ((session or {}).get("metadata") or {}).get("donation_id")
    paid_at = to_datetime((invoice.get("status_transitions") or {}).get("paid_at"))
    first = invoice.get("billing_reason") == "subscription_create"
    return PaymentSnapshot(
        provider="stripe",
        checkout_id=(session or {}).get("id") if first else None,
        payment_id=(intent or {}).get("id") or invoice_payment_intent(invoice),
        donation_id=str(donation) if donation else None,
        status=status,
        amount=money(invoice["amount_due"], invoice["currency"]),
        refunds=tuple(refund_from(r) for r in refunds),
        disputes=tuple(dispute_from(d) for d in disputes),
        fee=processing_fee(charge),
        method=_charge_method(charge),
        paid_at=paid_at if status is PaymentStatus.PAID else None,
        customer_id=_id(invoice.get("customer")),
        subscription_id=invoice_subscription(invoice),
        sequence_type="first" if first else "recurring",
        invoice_id=str(invoice["id"]),
    )


def _charge_method(charge: JSON | None) -> str | None:
    details = (charge or {}).get("payment_method_details") or {}
    kind = details.get("type")
    return str(kind) if kind else None


def payment_method_info(pm: JSON | None, mandate: JSON | None = None) -> PaymentMethodInfo | None:
    if pm is None:
        return None
    kind = str(pm.get("type"))
    details = pm.get(kind) or {}
    reference = None
    if mandate is not None:
        reference = ((mandate.get("payment_method_details") or {}).get("sepa_debit") or {}).get(
            "reference"
        )
    return PaymentMethodInfo(
        kind=kind,
        brand=details.get("brand") or details.get("bank_code"),
        last4=details.get("last4"),
        exp_month=details.get("exp_month"),
        exp_year=details.get("exp_year"),
        mandate_id=(mandate or {}).get("id"),
        mandate_reference=reference,
    )


def subscription_status(sub: Mapping[str, Any]) -> SubscriptionStatus:
    status = str(sub.get("status"))
    if status == "canceled":
        reason = (sub.get("cancellation_details") or {}).get("reason")
        return (
            SubscriptionStatus.LAPSED if reason == "payment_failed" else SubscriptionStatus.CANCELED
        )
    if status in ("unpaid", "incomplete_expired"):
        return SubscriptionStatus.LAPSED
    if status in ("past_due", "incomplete"):
        return SubscriptionStatus.PAST_DUE
    if status == "paused" or sub.get("pause_collection"):
        return SubscriptionStatus.PAUSED
    return SubscriptionStatus.ACTIVE


def subscription_from(
    sub: JSON, pm: JSON | None = None, mandate: JSON | None = None
) -> SubscriptionSnapshot:
    """``sub`` with ``latest_invoice`` expanded when the dunning state matters."""
    item = sub["items"]["data"][0]
    price = item["price"]
    amount = money(int(price["unit_amount"]) * int(item.get("quantity") or 1), price["currency"])
    ended = sub.get("status") in _ENDED
    latest = _obj(sub.get("latest_invoice")) or {}
    unpaid = latest.get("status") == "open"
    meta = {str(k): str(v) for k, v in (sub.get("metadata") or {}).items()}
    next_end = to_datetime(item.get("current_period_end"))
    return SubscriptionSnapshot(
        provider="stripe",
        subscription_id=sub["id"],
        status=subscription_status(sub),
        provider_status=str(sub.get("status")),
        amount=amount,
        interval=frequency(price.get("recurring")),
        customer_id=_id(sub.get("customer")),
        donation_id=meta.get("donation_id"),
        next_payment_date=None
        if ended or sub.get("cancel_at_period_end") or next_end is None
        else next_end.date(),
        payment_method=payment_method_info(pm or _obj(sub.get("default_payment_method")), mandate),
        cancel_at_period_end=bool(sub.get("cancel_at_period_end")),
        canceled_at=to_datetime(sub.get("canceled_at")),
        failed_attempts=int(latest.get("attempt_count") or 0) if unpaid else 0,
        next_retry_at=to_datetime(latest.get("next_payment_attempt")) if unpaid else None,
        metadata=meta,
    )
