"""``GET /control/ledger``: every payment as the providers see it, for the consistency checker."""

from __future__ import annotations

from donate.sandbox.ledger import Ledger
from donate.sandbox.mollie_settlements import application_fee, payment_cost
from donate.sandbox.mollie_state import money
from donate.sandbox.stripe_state import PLATFORM, StripeState
from donate.sandbox.util import JSON


def _stripe_status(cs: JSON, pi: JSON | None) -> str:
    if cs["payment_status"] == "paid":
        return "paid"
    if cs["status"] == "expired":
        return "expired"
    if pi is None or cs["status"] == "open":
        return "open"  # a declined attempt leaves the session open for another try
    return "pending" if pi["status"] == "processing" else "failed"


def _stripe_payment(st: StripeState, account: str, cs: JSON) -> JSON:
    # A subscription session's payment is its first invoice's PaymentIntent.
    pi = st.objects.get(cs["payment_intent"] or st.invoice_pi.get(cs.get("invoice") or "", ""))
    ch = st.objects.get(pi["latest_charge"] or "") if pi else None
    disputes = [d for d in st.all(account, "dispute") if ch and d["charge"] == ch["id"]]
    fee = app_fee = 0
    if ch and ch["balance_transaction"]:
        txn = st.objects[ch["balance_transaction"]]
        fee = sum(f["amount"] for f in txn["fee_details"] if f["type"] == "stripe_fee")
        app_fee = sum(f["amount"] for f in txn["fee_details"] if f["type"] == "application_fee")
    return {
        "provider": "stripe",
        "account": account,
        "id": cs["id"],
        "payment_id": pi["id"] if pi else None,
        "charge_id": ch["id"] if ch else None,
        "amount_minor": cs["amount_total"],
        "currency": cs["currency"].upper(),
        "status": _stripe_status(cs, pi),
        "provider_status": {
            "session": cs["status"],
            "payment_status": cs["payment_status"],
            "payment_intent": pi["status"] if pi else None,
            "charge": ch["status"] if ch else None,
        },
        "attempt_failed": bool(pi and pi["last_payment_error"]),
        "method": ch["payment_method_details"]["type"] if ch else None,
        "refunded_minor": ch["amount_refunded"] if ch else 0,
        "charged_back_minor": sum(d["amount"] for d in disputes if d["status"] != "won"),
        "disputes": [
            {"id": d["id"], "status": d["status"], "amount_minor": d["amount"]} for d in disputes
        ],
        "fee_minor": fee,
        "application_fee_minor": app_fee,
        "metadata": {**cs["metadata"], **(pi["metadata"] if pi else {})},
        "mode": cs["mode"],
        "subscription_id": cs["subscription"],
        "invoice_id": cs.get("invoice"),
        "sequence_type": cs.get("sequence_type")
        or ("first" if cs["mode"] == "subscription" else "oneoff"),
        "payout_id": st.paid_out.get(st.objects[ch["id"]]["balance_transaction"] or "")
        if ch
        else None,
        "created": cs["created"],
    }


def _renewal_view(st: StripeState, inv: JSON) -> JSON:
    """A renewal invoice seen as the session-shaped record ``_stripe_payment`` reads."""
    details = inv["parent"]["subscription_details"]
    return {
        "id": inv["id"],
        "payment_intent": st.invoice_pi[inv["id"]],
        "amount_total": inv["amount_due"],
        "currency": inv["currency"],
        "status": "complete",
        "payment_status": "paid" if inv["status"] == "paid" else "unpaid",
        "metadata": dict(details["metadata"]),
        "mode": "subscription",
        "subscription": details["subscription"],
        "invoice": inv["id"],
        "sequence_type": "recurring",
        "created": inv["created"],
    }


def ledger_report(ledger: Ledger) -> JSON:
    st, ms = ledger.stripe, ledger.mollie
    payments: list[JSON] = []
    payouts: list[JSON] = []
    for account in [PLATFORM, *st.connected_accounts()]:
        for cs in reversed(st.all(account, "checkout.session")):
            payments.append(_stripe_payment(st, account, cs))
        for inv in reversed(st.all(account, "invoice")):
            if inv["billing_reason"] != "subscription_create" and inv["id"] in st.invoice_pi:
                payments.append(_stripe_payment(st, account, _renewal_view(st, inv)))
        for po in reversed(st.all(account, "payout")):
            payouts.append(
                {
                    "provider": "stripe",
                    "account": account,
                    "id": po["id"],
                    "amount_minor": po["amount"],
                    "currency": po["currency"].upper(),
                    "status": po["status"],
                    "lines": len(st.payout_txns.get(po["id"], [])),
                }
            )
    for oid in ms.order:
        obj = ms.objects[oid]
        if obj["resource"] == "payment":
            payments.append(_mollie_payment(ms.owner[oid], obj, ms.settled.get(oid)))
        elif obj["resource"] == "settlement":
            amount = money(obj, "amount")
            payouts.append(
                {
                    "provider": "mollie",
                    "account": ms.owner[oid],
                    "id": oid,
                    "amount_minor": amount.minor,
                    "currency": amount.currency,
                    "status": obj["status"],
                    "lines": sum(len(v) for v in ms.settlement_items[oid].values()),
                }
            )
    return {"payments": payments, "payouts": payouts}


def _mollie_payment(profile: str, p: JSON, settlement: str | None) -> JSON:
    amount = money(p, "amount")
    paid = p["status"] == "paid"
    return {
        "provider": "mollie",
        "account": profile,
        "id": p["id"],
        "payment_id": p["id"],
        "amount_minor": amount.minor,
        "currency": amount.currency,
        "status": p["status"],
        "provider_status": {"payment": p["status"]},
        "method": p["method"],
        "refunded_minor": money(p, "amountRefunded").minor,
        "charged_back_minor": money(p, "amountChargedBack").minor,
        "fee_minor": payment_cost(p) if paid else 0,
        "application_fee_minor": application_fee(p) if paid else 0,
        "metadata": p["metadata"] if isinstance(p["metadata"], dict) else {},
        "sequence_type": p["sequenceType"],
        "subscription_id": p.get("subscriptionId"),
        "payout_id": settlement,
        "created": p["createdAt"],
    }
