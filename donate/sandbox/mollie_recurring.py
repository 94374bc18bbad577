"""Mollie customers, mandates and subscriptions, and the renewal of a subscription."""

from __future__ import annotations

import calendar
import datetime as dt
import re

from donate.sandbox.mollie_payments import amount_param, profile_for
from donate.sandbox.mollie_state import Caller, MollieApiError, MollieState
from donate.sandbox.util import JSON, iso, mollie_amount, new_id


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


_INTERVAL = re.compile(r"^(\d+) (day|days|week|weeks|month|months)$")


def create_customer(ms: MollieState, caller: Caller, data: JSON) -> JSON:
    customer: JSON = {
        "resource": "customer",
        "id": new_id("cst_", 10),
        "mode": caller.mode(data.get("testmode")),
        "name": data.get("name"),
        "email": data.get("email"),
        "locale": data.get("locale"),
        "metadata": data.get("metadata"),
        "createdAt": iso(),
    }
    # Customers belong to the organization: a profile is only named with an access token.
    use_named = caller.oauth and data.get("profileId")
    return ms.add(profile_for(caller, data) if use_named else caller.profiles[0], customer)


def update_customer(customer: JSON, data: JSON) -> JSON:
    for key in ("name", "email", "locale", "metadata"):
        if key in data:
            customer[key] = data[key]
    return customer


def create_mandate(ms: MollieState, customer: JSON, data: JSON) -> JSON:
    method = data.get("method")
    if method not in ("directdebit", "paypal"):
        raise MollieApiError(422, "The method is invalid", "method")
    if not data.get("consumerName"):
        raise MollieApiError(422, "The consumer name is required", "consumerName")
    return _mandate(
        ms,
        customer,
        method,
        str(data["consumerName"]),
        str(data.get("consumerAccount") or "NL55INGB0000000000"),
        data.get("mandateReference"),
    )


def _mandate(
    ms: MollieState, customer: JSON, method: str, name: str, account: str, reference: object
) -> JSON:
    mandate: JSON = {
        "resource": "mandate",
        "id": new_id("mdt_", 10),
        "mode": customer["mode"],
        "status": "valid",
        "method": method,
        "details": {"consumerName": name, "consumerAccount": account, "consumerBic": "INGBNL2A"},
        "mandateReference": reference,
        "signatureDate": _today().isoformat(),
        "createdAt": iso(),
        "customerId": customer["id"],
    }
    return ms.add(ms.owner[customer["id"]], mandate)


def mandate_from_payment(
    ms: MollieState, payment: JSON, expiry: tuple[int, int] | None = None
) -> JSON:
    """A paid first payment leaves a valid mandate: a card one for a card payment, a SEPA
    direct debit one for iDEAL, Bancontact or a debit (as on Mollie)."""
    customer = ms.objects[payment["customerId"]]
    if payment["method"] != "creditcard":
        return _mandate(ms, customer, "directdebit", "Sandbox Donor", "NL55INGB0000000000", None)
    month, year = expiry or (12, 2034)
    last_day = calendar.monthrange(year, month)[1]
    mandate: JSON = {
        "resource": "mandate",
        "id": new_id("mdt_", 10),
        "mode": customer["mode"],
        "status": "valid",
        "method": "creditcard",
        "details": {
            "cardHolder": "Sandbox Donor",
            "cardNumber": "4242",
            "cardLabel": "Visa",
            "cardFingerprint": "sandboxFp4242",
            "cardExpiryDate": dt.date(year, month, last_day).isoformat(),
        },
        "mandateReference": None,
        "signatureDate": _today().isoformat(),
        "createdAt": iso(),
        "customerId": customer["id"],
    }
    return ms.add(ms.owner[customer["id"]], mandate)


def revoke_mandate(mandate: JSON) -> None:
    mandate["status"] = "invalid"


def _next_date(start: dt.date, interval: str) -> dt.date:
    match = _INTERVAL.match(interval)
    assert match is not None
    n, unit = int(match.group(1)), match.group(2)
    if unit.startswith("day"):
        return start + dt.timedelta(days=n)
    if unit.startswith("week"):
        return start + dt.timedelta(weeks=n)
    month = start.month - 1 + n
    year, month = start.year + month // 12, month % 12 + 1
    day = min(start.day, 28)  # keeps the arithmetic simple; Mollie moves month ends too
    return dt.date(year, month, day)


def create_subscription(ms: MollieState, customer: JSON, data: JSON) -> JSON:
    amount = amount_param(data)
    interval = str(data.get("interval") or "")
    if not _INTERVAL.match(interval):
        raise MollieApiError(422, "The interval is invalid", "interval")
    if not data.get("description"):
        raise MollieApiError(422, "The description is required", "description")
    mandates = [
        o
        for o in ms.objects.values()
        if o["resource"] == "mandate"
        and o["customerId"] == customer["id"]
        and o["status"] == "valid"
    ]
    mandate = data.get("mandateId") or (mandates[-1]["id"] if mandates else None)
    if not mandate:
        raise MollieApiError(422, "The customer has no valid mandates", "customerId")
    start = dt.date.fromisoformat(str(data.get("startDate") or _today().isoformat()))
    times = data.get("times")
    subscription: JSON = {
        "resource": "subscription",
        "id": new_id("sub_", 10),
        "mode": customer["mode"],
        "createdAt": iso(),
        "status": "active",
        "amount": mollie_amount(amount.minor, amount.currency),
        "times": times,
        "timesRemaining": times,
        "interval": interval,
        "startDate": start.isoformat(),
        "nextPaymentDate": start.isoformat(),
        "description": data["description"],
        "method": data.get("method"),
        "mandateId": mandate,
        "webhookUrl": data.get("webhookUrl"),
        "metadata": data.get("metadata"),
        "customerId": customer["id"],
        "canceledAt": None,
    }
    if data.get("applicationFee"):
        subscription["applicationFee"] = data["applicationFee"]
    return ms.add(ms.owner[customer["id"]], subscription)


def update_subscription(ms: MollieState, sub: JSON, data: JSON) -> JSON:
    if sub["status"] != "active":
        raise MollieApiError(422, "The subscription is not active")
    if "amount" in data:
        amount = amount_param(data)
        sub["amount"] = mollie_amount(amount.minor, amount.currency)
    if "mandateId" in data:
        mandate = ms.objects.get(str(data["mandateId"])) or {}
        usable = mandate.get("resource") == "mandate" and mandate.get("status") == "valid"
        if not usable or mandate.get("customerId") != sub["customerId"]:
            raise MollieApiError(422, "The mandate is invalid", "mandateId")
    for key in ("description", "interval", "webhookUrl", "metadata", "times", "mandateId"):
        if key in data:
            sub[key] = data[key]
    return sub


def cancel_subscription(sub: JSON) -> JSON:
    if sub["status"] in ("canceled", "completed"):
        raise MollieApiError(422, f"The subscription is {sub['status']}")
    sub.update(status="canceled", canceledAt=iso(), nextPaymentDate=None)
    return sub


def renew(ms: MollieState, sub_id: str, outcome: str) -> JSON:
    """The next cycle: Mollie creates a recurring payment on the mandate and debits it."""
    from donate.sandbox.mollie_payments import SettleRefused, settle

    sub = ms.get(None, sub_id, "subscription")
    if sub["status"] != "active":
        raise SettleRefused(f"{sub_id} is {sub['status']}")
    profile = ms.owner[sub_id]
    caller = Caller("", [profile], oauth=False)
    data: JSON = {
        "amount": sub["amount"],
        "description": sub["description"],
        "sequenceType": "recurring",
        "customerId": sub["customerId"],
        "mandateId": sub["mandateId"],
        "webhookUrl": sub["webhookUrl"],
        "metadata": sub["metadata"],
        "subscriptionId": sub_id,
    }
    if sub.get("applicationFee"):
        data["applicationFee"] = sub["applicationFee"]
    from donate.sandbox.mollie_payments import create_payment

    payment = create_payment(ms, caller, data)
    payment["mode"] = sub["mode"]
    mandate = ms.objects.get(str(payment.get("mandateId")))
    if mandate is not None:  # the debit uses the mandate's method (card or SEPA)
        payment["method"] = mandate["method"]
    if outcome != "pending":
        settle(ms, payment["id"], outcome, None)
    if sub["timesRemaining"] is not None:
        sub["timesRemaining"] = int(sub["timesRemaining"]) - 1
        if sub["timesRemaining"] <= 0:
            sub.update(status="completed", nextPaymentDate=None)
    if sub["nextPaymentDate"]:
        nxt = _next_date(dt.date.fromisoformat(sub["nextPaymentDate"]), sub["interval"])
        sub["nextPaymentDate"] = nxt.isoformat()
    return payment
