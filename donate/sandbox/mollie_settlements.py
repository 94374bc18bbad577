"""Mollie settlements: what ``POST /control/payout`` pays out to an organization.

Costs are per method (Mollie's public rates, VAT left out); the application fees the
platform took are deducted as a cost line, as Mollie Connect does.
"""

from __future__ import annotations

import datetime as dt

from donate.domain.money import Money
from donate.sandbox.mollie_state import MollieState, money
from donate.sandbox.util import JSON, fee_minor, iso, mollie_amount, new_id, parse_mollie_amount

# (basis points, fixed minor units) per payment method.
RATES = {
    "creditcard": (180, 25),
    "ideal": (0, 29),
    "bancontact": (0, 39),
    "directdebit": (0, 25),
    "banktransfer": (0, 25),
    "paypal": (349, 35),
}
LABELS = {
    "creditcard": "Credit card",
    "ideal": "iDEAL",
    "bancontact": "Bancontact",
    "directdebit": "SEPA Direct Debit",
    "banktransfer": "Bank transfer",
    "paypal": "PayPal",
}


def payment_cost(payment: JSON) -> int:
    bps, fixed = RATES.get(payment.get("method") or "creditcard", (180, 25))
    return fee_minor(money(payment, "amount").minor, bps, fixed)


def application_fee(payment: JSON) -> int:
    fee = payment.get("applicationFee")
    if not isinstance(fee, dict) or "amount" not in fee:
        return 0
    return parse_mollie_amount(fee["amount"]).minor


def _line(description: str, method: str | None, count: int, net: int, cur: str) -> JSON:
    return {
        "description": description,
        "method": method,
        "count": count,
        "amountNet": mollie_amount(net, cur),
        "amountVat": None,
        "amountGross": mollie_amount(net, cur),
    }


def settle_organization(ms: MollieState, profiles: list[str]) -> JSON | None:
    """Pay out everything unsettled on these profiles; None when there is nothing."""
    ids = [i for i in ms.order if ms.owner[i] in profiles and i not in ms.settled]
    payments = [
        ms.objects[i] for i in ids if i.startswith("tr_") and ms.objects[i]["status"] == "paid"
    ]
    refunds = [
        ms.objects[i]
        for i in ids
        if i.startswith("re_") and ms.objects[i]["status"] in ("pending", "refunded")
    ]
    chargebacks = [ms.objects[i] for i in ids if i.startswith("chb_")]
    if not payments and not refunds and not chargebacks:
        return None
    cur = next(o["amount"]["currency"] for o in [*payments, *refunds, *chargebacks])
    revenue: list[JSON] = []
    costs: list[JSON] = []
    total = 0
    for method in sorted({p["method"] or "creditcard" for p in payments}):
        group = [p for p in payments if (p["method"] or "creditcard") == method]
        gross = sum(money(p, "amount").minor for p in group)
        revenue.append(_line(LABELS.get(method, method), method, len(group), gross, cur))
        cost = sum(payment_cost(p) for p in group)
        costs.append(_line(LABELS.get(method, method), method, len(group), cost, cur))
        total += gross - cost
    if refunds:
        out = sum(money(r, "amount").minor for r in refunds)
        revenue.append(_line("Refunds", "refund", len(refunds), -out, cur))
        total -= out
    if chargebacks:
        # A reversed chargeback nets to zero: the money left and came back.
        out = sum(money(c, "amount").minor for c in chargebacks if c["reversedAt"] is None)
        revenue.append(_line("Chargebacks", "chargeback", len(chargebacks), -out, cur))
        total -= out
    fees = sum(application_fee(p) for p in payments)
    if fees:
        costs.append(
            _line(
                "Application fees", None, sum(1 for p in payments if application_fee(p)), fees, cur
            )
        )
        total -= fees
    today = dt.datetime.now(dt.UTC)
    seq = sum(1 for o in ms.objects.values() if o["resource"] == "settlement") + 1
    stl: JSON = {
        "resource": "settlement",
        "id": new_id("stl_", 10),
        "reference": f"1234567.{today:%y%m}.{seq:02d}",
        "createdAt": iso(),
        "settledAt": iso(),
        "amount": mollie_amount(total, cur),
        "status": "paidout",
        "periods": {
            str(today.year): {
                str(today.month): {"revenue": revenue, "costs": costs, "invoiceId": None}
            }
        },
        "invoiceId": None,
    }
    ms.add(profiles[0], stl)
    items: dict[str, list[str]] = {"payments": [], "refunds": [], "chargebacks": []}
    for kind, objs in (("payments", payments), ("refunds", refunds), ("chargebacks", chargebacks)):
        for obj in objs:
            ms.settled[obj["id"]] = stl["id"]
            obj["settlementId"] = stl["id"]
            items[kind].append(obj["id"])
            if kind == "refunds":
                obj["status"] = "refunded"
    ms.settlement_items[stl["id"]] = items
    return stl


def settle(ms: MollieState, account: str | None) -> list[JSON]:
    """One settlement per organization (Mollie settles organizations, not profiles)."""
    orgs: dict[str, list[str]] = {}
    for pid, acct in ms.profiles.items():
        if account in (None, pid, acct.organization_id):
            orgs.setdefault(acct.organization_id or pid, []).append(pid)
    done = [settle_organization(ms, profiles) for profiles in orgs.values()]
    return [s for s in done if s is not None]


def net_of(payment: JSON) -> Money:
    cur = payment["amount"]["currency"]
    return Money(money(payment, "amount").minor - payment_cost(payment), cur)
