"""Mollie payments: creation, the payer's outcome, refunds and chargebacks."""

from __future__ import annotations

import time

from donate.domain.money import Money
from donate.sandbox.mollie_state import Caller, MollieApiError, MollieState, money
from donate.sandbox.util import JSON, iso, mollie_amount, new_id, parse_mollie_amount

METHODS = ("creditcard", "ideal", "bancontact", "directdebit", "banktransfer", "paypal")
CONTROL_METHODS = {
    "card": "creditcard",
    "sepa_debit": "directdebit",
    "ideal": "ideal",
    "bancontact": "bancontact",
}
FINAL = frozenset({"paid", "failed", "canceled", "expired"})
_EXPIRY_S = 15 * 60


class SettleRefused(Exception):
    """The payment cannot take that outcome any more (HTTP 409)."""


def amount_param(data: JSON, key: str = "amount") -> Money:
    try:
        value = parse_mollie_amount(data.get(key))
    except ValueError as exc:
        raise MollieApiError(422, f"The amount is invalid: {exc}", key) from None
    if value.minor <= 0:
        raise MollieApiError(422, "The amount must be positive", key)
    return value


def profile_for(caller: Caller, data: JSON) -> str:
    """Mollie: an API key implies its profile; an access token must name one."""
    pid = data.get("profileId")
    if caller.oauth:
        if not pid:
            raise MollieApiError(
                422, "The profile id is required with an access token", "profileId"
            )
        if pid not in caller.profiles:
            raise MollieApiError(422, "The profile id is invalid", "profileId")
        return str(pid)
    return caller.profiles[0]


def create_payment(
    ms: MollieState, caller: Caller, data: JSON, *, customer: str | None = None
) -> JSON:
    profile = profile_for(caller, data)
    amount = amount_param(data)
    if not data.get("description"):
        raise MollieApiError(422, "The description is required", "description")
    seq = data.get("sequenceType") or "oneoff"
    if seq not in ("oneoff", "first", "recurring"):
        raise MollieApiError(422, "The sequence type is invalid", "sequenceType")
    cst = customer or data.get("customerId")
    if cst:
        ms.get(caller, str(cst), "customer")
    if seq != "oneoff" and not cst:
        raise MollieApiError(
            422, "A customer is required for first and recurring payments", "customerId"
        )
    if seq != "recurring" and not data.get("redirectUrl"):
        raise MollieApiError(422, "The redirect URL is required", "redirectUrl")
    method = data.get("method")
    if isinstance(method, list):
        method = method[0] if len(method) == 1 else None
    if method is not None and method not in METHODS:
        raise MollieApiError(422, f"The payment method '{method}' is invalid", "method")
    fee = data.get("applicationFee")
    if fee is not None:
        if not isinstance(fee, dict):
            raise MollieApiError(422, "The application fee is invalid", "applicationFee")
        fee_amount = amount_param(fee)
        if fee_amount.currency != amount.currency or fee_amount > amount:
            raise MollieApiError(
                422, "The application fee cannot exceed the amount", "applicationFee.amount"
            )
    mandate = data.get("mandateId")
    if seq == "recurring":
        mandate = mandate or _valid_mandate(ms, str(cst))
        if not mandate:
            raise MollieApiError(422, "The customer has no valid mandates", "customerId")
    now = time.time()
    payment: JSON = {
        "resource": "payment",
        "id": new_id("tr_", 10),
        "mode": caller.mode(data.get("testmode")),
        "createdAt": iso(now),
        "amount": mollie_amount(amount.minor, amount.currency),
        "description": str(data["description"]),
        "method": method if seq != "recurring" else "directdebit",
        "metadata": data.get("metadata"),
        "status": "open",
        "isCancelable": True,
        "expiresAt": iso(now + _EXPIRY_S),
        "profileId": profile,
        "sequenceType": seq,
        "redirectUrl": data.get("redirectUrl"),
        "cancelUrl": data.get("cancelUrl"),
        "webhookUrl": data.get("webhookUrl"),
        "locale": data.get("locale"),
        "amountRefunded": mollie_amount(0, amount.currency),
        "amountRemaining": mollie_amount(amount.minor, amount.currency),
        "amountChargedBack": mollie_amount(0, amount.currency),
        "details": None,
    }
    for key in ("customerId", "mandateId", "subscriptionId", "applicationFee"):
        value = {"customerId": cst, "mandateId": mandate}.get(key, data.get(key))
        if value:
            payment[key] = value
    if seq == "recurring":  # no checkout: the debit starts at once and is pending
        payment.update(status="pending", isCancelable=False)
        payment.pop("expiresAt")
    return ms.add(profile, payment)


def _valid_mandate(ms: MollieState, cst: str) -> str | None:
    for oid in reversed(ms.order):
        obj = ms.objects[oid]
        if obj["resource"] == "mandate" and obj["customerId"] == cst and obj["status"] == "valid":
            return str(oid)
    return None


def _details(method: str) -> JSON:
    if method in ("creditcard", "bancontact"):
        return {
            "cardNumber": "4242",
            "cardHolder": "Sandbox Donor",
            "cardAudience": "consumer",
            "cardLabel": "Visa",
            "cardCountryCode": "FR",
            "cardSecurity": "normal",
            "feeRegion": "intra-eu",
        }
    return {
        "consumerName": "Sandbox Donor",
        "consumerAccount": "NL55INGB0000000000",
        "consumerBic": "INGBNL2A",
    }


def settle(
    ms: MollieState,
    tr_id: str,
    outcome: str,
    method: str | None,
    expiry: tuple[int, int] | None = None,
) -> JSON:
    payment = ms.get(None, tr_id, "payment")
    status = payment["status"]
    if status in FINAL:
        raise SettleRefused(f"{tr_id} is already {status}")
    if status == "pending" and outcome in ("canceled", "expired"):
        raise SettleRefused(f"{tr_id} is pending: only paid or failed apply")
    if method:
        payment["method"] = CONTROL_METHODS.get(method, method)
    elif not payment["method"]:
        payment["method"] = "directdebit" if outcome == "pending" else "creditcard"
    now = iso()
    payment["isCancelable"] = False
    payment.pop("expiresAt", None)
    if outcome == "pending":
        payment["status"] = "pending"  # Mollie does not call the webhook for pending
        return payment
    payment["status"] = outcome
    payment[
        {"paid": "paidAt", "failed": "failedAt", "canceled": "canceledAt", "expired": "expiredAt"}[
            outcome
        ]
    ] = now
    if outcome == "paid":
        payment["details"] = _details(payment["method"])
        if payment["sequenceType"] == "first":
            from donate.sandbox.mollie_recurring import mandate_from_payment

            payment["mandateId"] = mandate_from_payment(ms, payment, expiry)["id"]
    else:
        payment["amountRemaining"] = mollie_amount(0, payment["amount"]["currency"])
        if outcome == "failed" and payment["method"] == "directdebit":
            payment["details"] = _details("directdebit") | {
                "bankReasonCode": "AM04",
                "bankReason": "Insufficient funds",
            }
    ms.notify(payment)
    return payment


def cancel_payment(ms: MollieState, caller: Caller, tr_id: str) -> JSON:
    payment = ms.get(caller, tr_id, "payment")
    if payment["status"] != "open":
        raise MollieApiError(422, f"The payment with status {payment['status']} cannot be canceled")
    return settle(ms, tr_id, "canceled", None)


def _adjust(payment: JSON, key: str, delta: int) -> None:
    cur = payment["amount"]["currency"]
    payment[key] = mollie_amount(money(payment, key).minor + delta, cur)


def create_refund(ms: MollieState, payment: JSON, data: JSON, *, external: bool = False) -> JSON:
    if payment["status"] != "paid":
        raise MollieApiError(422, "The payment cannot be refunded: it is not paid")
    remaining = money(payment, "amountRemaining")
    amount = amount_param(data) if data.get("amount") is not None else remaining
    if amount.currency != remaining.currency:
        raise MollieApiError(422, "The currency does not match the payment", "amount.currency")
    if amount.minor <= 0 or amount > remaining:
        raise MollieApiError(
            422, f"The amount is higher than the amount remaining ({remaining})", "amount"
        )
    refund: JSON = {
        "resource": "refund",
        "id": new_id("re_", 10),
        "amount": mollie_amount(amount.minor, amount.currency),
        "status": "pending",  # becomes "refunded" when it leaves in a settlement
        "createdAt": iso(),
        "description": str(data.get("description") or ""),
        "metadata": data.get("metadata"),
        "paymentId": payment["id"],
    }
    ms.add(ms.owner[payment["id"]], refund)
    _adjust(payment, "amountRefunded", amount.minor)
    _adjust(payment, "amountRemaining", -amount.minor)
    if external:  # a refund made in the dashboard: the platform only learns it by webhook
        ms.notify(payment)
    return refund


def cancel_refund(ms: MollieState, payment: JSON, refund: JSON) -> None:
    if refund["status"] not in ("queued", "pending"):
        raise MollieApiError(422, f"The refund with status {refund['status']} cannot be canceled")
    refund["status"] = "canceled"
    amount = money(refund, "amount").minor
    _adjust(payment, "amountRefunded", -amount)
    _adjust(payment, "amountRemaining", amount)


def create_chargeback(ms: MollieState, payment: JSON, amount_minor: int | None) -> JSON:
    if payment["status"] != "paid":
        raise SettleRefused(f"{payment['id']} is not paid")
    remaining = money(payment, "amountRemaining").minor
    amount = remaining if amount_minor is None else amount_minor
    if not 0 < amount <= remaining:
        raise SettleRefused(f"chargeback of {amount} exceeds what is left ({remaining})")
    cur = payment["amount"]["currency"]
    chb: JSON = {
        "resource": "chargeback",
        "id": new_id("chb_", 6),
        "amount": mollie_amount(amount, cur),
        "settlementAmount": mollie_amount(-amount, cur),
        "createdAt": iso(),
        "reason": {"code": "AC04", "description": "Account closed"},
        "reversedAt": None,
        "paymentId": payment["id"],
    }
    ms.add(ms.owner[payment["id"]], chb)
    _adjust(payment, "amountChargedBack", amount)
    _adjust(payment, "amountRemaining", -amount)
    ms.notify(payment)
    return chb


def reverse_chargeback(ms: MollieState, chb: JSON, won: bool) -> JSON:
    """A won dispute: Mollie reverses the chargeback and the money comes back."""
    if chb["reversedAt"] is not None:
        raise SettleRefused(f"{chb['id']} is already reversed")
    if won:
        payment = ms.objects[chb["paymentId"]]
        chb["reversedAt"] = iso()
        amount = money(chb, "amount").minor
        _adjust(payment, "amountChargedBack", -amount)
        _adjust(payment, "amountRemaining", amount)
        ms.notify(payment)
    return chb


def sweep_expired(ms: MollieState) -> None:
    now = iso()
    for oid in list(ms.order):
        obj = ms.objects[oid]
        if obj["resource"] == "payment" and obj["status"] == "open" and obj["expiresAt"] <= now:
            settle(ms, oid, "expired", None)
