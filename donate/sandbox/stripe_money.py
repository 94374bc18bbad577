"""Money movements on a Stripe account: charge balance, refunds, disputes, payouts.

Direct charges with ``Stripe-Account``: the association's account holds the charge and
bears Stripe's fee, refunds and disputes; the platform receives ``application_fee_amount``.
"""

from __future__ import annotations

from donate.sandbox import stripe_records as so
from donate.sandbox.stripe_objects import charge, empty_list
from donate.sandbox.stripe_state import PLATFORM, StripeApiError, StripeState
from donate.sandbox.util import JSON, fee_minor, new_id, now_ts

# Stripe's European rates for the other methods: (basis points, fixed minor units).
_METHOD_FEES = {"sepa_debit": (0, 35), "ideal": (0, 29), "bancontact": (140, 25)}


def stripe_fee(st: StripeState, amount: int, method: str) -> int:
    bps, fixed = _METHOD_FEES.get(
        method, (st.config.stripe_fee_bps, st.config.stripe_fee_fixed_minor)
    )
    return fee_minor(amount, bps, fixed)


def record_charge_balance(st: StripeState, account: str, ch: JSON) -> None:
    """The charge's balance transaction (fee = Stripe's fee + the platform's application fee)."""
    cur, method = ch["currency"], ch["payment_method_details"]["type"]
    fees = [
        so.fee_detail(
            stripe_fee(st, ch["amount"], method), cur, "stripe_fee", "Stripe processing fees"
        )
    ]
    app_fee = ch["application_fee_amount"]
    if app_fee:
        fees.append(so.fee_detail(app_fee, cur, "application_fee", "Application fee"))
        fee_obj = st.add(
            PLATFORM,
            {
                "id": new_id("fee_1", 23),
                "object": "application_fee",
                "account": account,
                "amount": app_fee,
                "amount_refunded": 0,
                "application": "ca_sandboxPlatform",
                "balance_transaction": None,
                "charge": ch["id"],
                "created": now_ts(),
                "currency": cur,
                "livemode": False,
                "originating_transaction": None,
                "refunded": False,
                "refunds": empty_list("/v1/application_fees/fee/refunds"),
            },
        )
        ch["application_fee"] = fee_obj["id"]
        txn = _txn(st, PLATFORM, app_fee, cur, "application_fee", "platform_earning", fee_obj["id"])
        fee_obj["balance_transaction"] = txn["id"]
    kind = "charge" if method == "card" else "payment"
    txn = st.add(
        account,
        so.balance_transaction(
            amount=ch["amount"],
            currency=cur,
            kind=kind,
            category="charge",
            source=ch["id"],
            description=ch["description"],
            fee_details=fees,
        ),
    )
    ch["balance_transaction"] = txn["id"]


def _txn(
    st: StripeState,
    account: str,
    amount: int,
    cur: str,
    kind: str,
    category: str,
    source: str,
    fees: list[JSON] | None = None,
    description: str | None = None,
) -> JSON:
    return st.add(
        account,
        so.balance_transaction(
            amount=amount,
            currency=cur,
            kind=kind,
            category=category,
            source=source,
            description=description,
            fee_details=fees,
        ),
    )


def charge_of(st: StripeState, account: str, ref: str) -> JSON:
    """The charge behind a ch_/pi_/cs_ reference."""
    if ref.startswith("cs_"):
        cs = st.get(account, ref, "checkout.session")
        if not cs["payment_intent"]:
            raise StripeApiError(400, f"Checkout Session {ref} has no payment yet", param="id")
        ref = cs["payment_intent"]
    if ref.startswith("pi_"):
        pi = st.get(account, ref, "payment_intent")
        if not pi["latest_charge"]:
            raise StripeApiError(
                400,
                f"PaymentIntent {ref} does not have a successful charge to refund.",
                code="charge_not_refundable",
                param="payment_intent",
            )
        ref = pi["latest_charge"]
    return st.get(account, ref, "charge")


def create_refund(
    st: StripeState,
    account: str,
    ch: JSON,
    amount: int | None,
    *,
    reason: str | None = None,
    metadata: JSON | None = None,
    refund_application_fee: bool = False,
) -> JSON:
    if ch["status"] != "succeeded":
        raise StripeApiError(
            400,
            f"Charge {ch['id']} has not succeeded and cannot be refunded.",
            code="charge_not_refundable",
        )
    if ch["disputed"]:
        raise StripeApiError(
            400,
            f"Charge {ch['id']} has been charged back; cannot issue a refund.",
            code="charge_disputed",
        )
    refundable = ch["amount"] - ch["amount_refunded"]
    amount = refundable if amount is None else amount
    if amount <= 0 or amount > refundable:
        if refundable == 0:
            raise StripeApiError(
                400, f"Charge {ch['id']} has already been refunded.", code="charge_already_refunded"
            )
        raise StripeApiError(
            400,
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({refundable})",
            code="amount_too_large" if amount > 0 else "parameter_invalid_integer",
            param="amount",
        )
    cur = ch["currency"]
    re = st.add(account, so.refund(ch, amount, reason, metadata or {}))
    txn = _txn(
        st, account, -amount, cur, "refund", "refund", re["id"], description="REFUND FOR CHARGE"
    )
    re["balance_transaction"] = txn["id"]
    ch["amount_refunded"] += amount
    ch["refunded"] = ch["amount_refunded"] == ch["amount"]
    if refund_application_fee and ch["application_fee"]:
        fee_obj = st.objects[ch["application_fee"]]
        back = fee_obj["amount"] * amount // ch["amount"]
        if back:
            fee_obj["amount_refunded"] += back
            fee_obj["refunded"] = fee_obj["amount_refunded"] == fee_obj["amount"]
            _txn(st, account, back, cur, "application_fee_refund", "fee", fee_obj["id"])
            _txn(
                st,
                PLATFORM,
                -back,
                cur,
                "application_fee_refund",
                "platform_earning_refund",
                fee_obj["id"],
            )
    st.emit(account, "charge.refunded", ch)
    st.emit(account, "refund.created", re)
    return re


def open_dispute(st: StripeState, account: str, ch: JSON, amount: int | None) -> JSON:
    if ch["status"] != "succeeded":
        raise StripeApiError(400, f"Charge {ch['id']} has not succeeded")
    if ch["disputed"]:
        raise StripeApiError(400, f"Charge {ch['id']} already has a dispute")
    amount = ch["amount"] - ch["amount_refunded"] if amount is None else amount
    if not 0 < amount <= ch["amount"] - ch["amount_refunded"]:
        raise StripeApiError(
            400, "Dispute amount exceeds what is left on the charge", param="amount"
        )
    # SEPA chargebacks cannot be contested: Stripe opens them as lost.
    final = ch["payment_method_details"]["type"] == "sepa_debit"
    dp = st.add(account, so.dispute(ch, amount, "lost" if final else "needs_response"))
    fee = [
        so.fee_detail(
            st.config.stripe_dispute_fee_minor, ch["currency"], "stripe_fee", "Dispute fee"
        )
    ]
    txn = _txn(
        st,
        account,
        -amount,
        ch["currency"],
        "adjustment",
        "dispute",
        dp["id"],
        fee,
        f"Chargeback withdrawal for {ch['id']}",
    )
    dp["balance_transactions"].append(dict(txn))
    ch["disputed"] = True
    st.emit(account, "charge.dispute.created", dp)
    st.emit(account, "charge.dispute.funds_withdrawn", dp)
    if final:
        st.emit(account, "charge.dispute.closed", dp)
    return dp


def close_dispute(st: StripeState, account: str, dp: JSON, won: bool) -> JSON:
    if dp["status"] in ("won", "lost"):
        raise StripeApiError(400, f"Dispute {dp['id']} is already closed")
    dp["status"] = "won" if won else "lost"
    if won:
        txn = _txn(
            st,
            account,
            dp["amount"],
            dp["currency"],
            "adjustment",
            "dispute_reversal",
            dp["id"],
            description=f"Chargeback reversal for {dp['charge']}",
        )
        dp["balance_transactions"].append(dict(txn))
        st.emit(account, "charge.dispute.funds_reinstated", dp)
    st.emit(account, "charge.dispute.closed", dp)
    return dp


def unpaid_txns(st: StripeState, account: str) -> list[JSON]:
    return [
        t
        for t in reversed(st.all(account, "balance_transaction"))
        if t["id"] not in st.paid_out and t["type"] != "payout"
    ]


def balance(st: StripeState, account: str) -> JSON:
    totals: dict[str, int] = {}
    for t in unpaid_txns(st, account):
        totals[t["currency"]] = totals.get(t["currency"], 0) + t["net"]
    return {
        "object": "balance",
        "available": [
            {"amount": v, "currency": c, "source_types": {"card": v}} for c, v in totals.items()
        ],
        "livemode": False,
        "pending": [],
    }


def pay_out(st: StripeState, account: str) -> list[JSON]:
    """One automatic payout per currency whose available balance is positive."""
    by_currency: dict[str, list[JSON]] = {}
    for t in unpaid_txns(st, account):
        by_currency.setdefault(t["currency"], []).append(t)
    payouts: list[JSON] = []
    for cur, txns in by_currency.items():
        total = sum(int(t["net"]) for t in txns)
        if total <= 0:
            continue  # Stripe keeps a negative balance until later charges cover it
        po = st.add(account, so.payout(total, cur))
        ptx = _txn(
            st, account, -total, cur, "payout", "payout", po["id"], description="STRIPE PAYOUT"
        )
        po["balance_transaction"] = ptx["id"]
        ids = [t["id"] for t in txns] + [ptx["id"]]
        for tid in ids:
            st.paid_out[tid] = po["id"]
        st.payout_txns[po["id"]] = ids
        po["status"] = "in_transit"
        st.emit(account, "payout.created", po)
        po["status"] = "paid"
        st.emit(account, "payout.paid", po)
        st.emit(account, "payout.reconciliation_completed", po)
        payouts.append(po)
    return payouts


def bulk_charges(st: StripeState, account: str, count: int, amount: int, currency: str) -> int:
    """``count`` card charges made outside the platform (a terminal, the dashboard) straight
    into the balance, without events: a cheap way to a payout of thousands of lines."""
    for n in range(count):
        pi: JSON = {
            "id": None, "amount": amount, "currency": currency, "application_fee_amount": None,
            "customer": None, "description": f"Vente {n + 1}", "metadata": {},
            "payment_method": None, "receipt_email": None,
        }  # fmt: skip
        ch = st.add(account, charge(pi, "card", None))
        ch.update(status="succeeded", paid=True, captured=True, amount_captured=amount)
        record_charge_balance(st, account, ch)
    return count
