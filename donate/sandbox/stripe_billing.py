"""Stripe subscriptions: started by a Checkout Session in ``mode=subscription``, renewed by
``/control/renew``, retried and given up on like Stripe's default smart retries.

One invoice per cycle, one PaymentIntent per invoice; each attempt (first try or retry) is a
new Charge on that PaymentIntent, as on Stripe. Billing periods advance in simulated time
(one interval per renewal), whatever the wall clock says, so a test can run years of cycles.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime

from donate.sandbox import stripe_billing_objects as bo
from donate.sandbox import stripe_objects as so
from donate.sandbox.stripe_checkout import SettleRefused
from donate.sandbox.stripe_money import record_charge_balance
from donate.sandbox.stripe_state import StripeApiError, StripeState
from donate.sandbox.util import JSON, now_ts, snapshot

MAX_ATTEMPTS = 4  # Stripe's default smart-retry policy: 4 attempts in 2 weeks
RETRY_DAYS = (3, 5, 6)  # days until the next attempt after attempt 1, 2, 3
ENDED = frozenset({"canceled", "incomplete_expired"})
_DAY = 86_400


def add_interval(ts: int, interval: str, count: int = 1) -> int:
    """``ts`` plus ``count`` intervals; month ends clamp (Jan 31 → Feb 28) as on Stripe."""
    if interval in ("day", "week"):
        return ts + count * _DAY * (7 if interval == "week" else 1)
    months = count * (12 if interval == "year" else 1)
    moment = datetime.fromtimestamp(ts, UTC)
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return int(moment.replace(year=year, month=month, day=day).timestamp())


def item_of(sub: JSON) -> JSON:
    return dict(sub["items"]["data"][0])


def set_status(st: StripeState, account: str, sub: JSON, status: str) -> None:
    if sub["status"] == status:
        return
    prev = {"status": sub["status"]}
    sub["status"] = status
    st.emit(account, "customer.subscription.updated", sub, previous=prev)


# --- start: the Checkout Session is paid -------------------------------------------------------


def start_subscription(
    st: StripeState,
    account: str,
    cs: JSON,
    outcome: str,
    method: str,
    expiry: tuple[int, int] | None = None,
) -> JSON:
    """The payer confirmed a subscription Checkout: customer, payment method, subscription
    and its first invoice. A declined card leaves the session open and creates nothing."""
    if outcome == "failed" and method not in so.ASYNC_METHODS:
        return cs
    data = st.session_sub_data.get(cs["id"], {})
    cus = bo.customer(cs["customer_email"] or "donor@example.org", "Sandbox Donor")
    st.add(account, cus)
    st.emit(account, "customer.created", cus)
    pm = st.add(account, bo.payment_method(method, cus["id"], expiry))
    st.emit(account, "payment_method.attached", pm)
    if method == "sepa_debit":
        st.mandates[pm["id"]] = st.add(account, bo.mandate(pm))["id"]
    description = data.get("description")
    sub = bo.subscription(
        customer_id=cus["id"],
        currency=cs["currency"],
        data=data,
        pm_id=pm["id"],
        description=str(description) if description else None,
    )
    start = now_ts()
    for line in st.session_items.get(cs["id"], []):
        price = line["price"]
        end = add_interval(start, price["recurring"]["interval"])
        sub["items"]["data"].append(
            bo.subscription_item(sub["id"], price, line["quantity"], start, end)
        )
    sub["billing_cycle_anchor"] = start
    st.add(account, sub)
    st.emit(account, "customer.subscription.created", sub)
    cs.update(customer=cus["id"], subscription=sub["id"], status="complete")
    cs["customer_details"] = {
        "address": None,
        "email": cus["email"],
        "name": cus["name"],
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": [],
    }
    inv = new_invoice(st, account, sub, "subscription_create")
    cs["invoice"] = inv["id"]
    if method not in so.ASYNC_METHODS:
        attempt(st, account, sub, inv, "paid")
        cs["payment_status"] = "paid"
        st.emit(account, "checkout.session.completed", cs)
        return cs
    # A debit: the session completes while it processes, which already activates the
    # subscription; its result comes later (at once here when the outcome is final).
    attempt(st, account, sub, inv, "pending")
    set_status(st, account, sub, "active")
    st.emit(account, "checkout.session.completed", cs)
    if outcome in ("paid", "failed"):
        settle_session(st, account, cs, outcome)
    return cs


def settle_session(st: StripeState, account: str, cs: JSON, outcome: str) -> JSON:
    """A completed subscription session whose first debit is still processing."""
    inv = st.objects[cs["invoice"]]
    sub = st.objects[cs["subscription"]]
    pi = st.objects.get(st.invoice_pi.get(inv["id"], ""))
    if pi is None or pi["status"] != "processing":
        raise SettleRefused(f"{cs['id']} has nothing processing")
    if outcome == "paid":
        pay_processing(st, account, sub, inv)
        cs["payment_status"] = "paid"
        st.emit(account, "checkout.session.async_payment_succeeded", cs)
    elif outcome == "failed":
        fail_attempt(st, account, sub, inv)
        st.emit(account, "checkout.session.async_payment_failed", cs)
    elif outcome != "pending":
        raise SettleRefused(f"{cs['id']} is processing: only paid, failed or pending apply")
    return cs


# --- invoices and attempts ---------------------------------------------------------------------


def new_invoice(st: StripeState, account: str, sub: JSON, reason: str) -> JSON:
    st.invoice_count += 1
    cus = st.objects[sub["customer"]]
    inv = bo.invoice(sub, item_of(sub), f"{cus['invoice_prefix']}-{st.invoice_count:04d}", reason)
    inv["customer_email"] = cus["email"]
    st.add(account, inv)
    sub["latest_invoice"] = inv["id"]
    st.emit(account, "invoice.created", inv)
    inv["status"] = "open"
    inv["status_transitions"]["finalized_at"] = now_ts()
    st.emit(account, "invoice.finalized", inv)
    return inv


def _intent(st: StripeState, account: str, sub: JSON, inv: JSON, method: str) -> JSON:
    pi = st.objects.get(st.invoice_pi.get(inv["id"], ""))
    if pi is not None:
        return pi
    fee_pct = sub["application_fee_percent"]
    fee = round(inv["amount_due"] * fee_pct / 100) if fee_pct else None
    reason = {"subscription_create": "Subscription creation", "subscription_cycle": None}
    pi_data: JSON = {
        "application_fee_amount": fee,
        "description": reason.get(inv["billing_reason"], "Subscription update"),
        "metadata": {},
    }
    pi = so.payment_intent(inv["amount_due"], inv["currency"], method, pi_data, sub["customer"])
    pi["setup_future_usage"] = "off_session"
    st.add(account, pi)
    st.invoice_pi[inv["id"]] = pi["id"]
    st.add(account, bo.invoice_payment(inv, pi["id"]))
    st.emit(account, "payment_intent.created", pi)
    return pi


def attempt(st: StripeState, account: str, sub: JSON, inv: JSON, outcome: str) -> None:
    """One charge attempt of ``inv`` with the subscription's current payment method.

    ``outcome``: paid, failed, or pending (a debit stays processing; a card cannot be pending,
    so it is paid)."""
    pm = st.objects[sub["default_payment_method"]]
    method = pm["type"]
    pi = _intent(st, account, sub, inv, method)
    pi["payment_method"], pi["payment_method_types"] = pm["id"], [method]
    pi["last_payment_error"] = None
    ch = so.charge(pi, method, inv["customer_email"])
    ch["payment_method_details"][method] = dict(pm[method])
    if method == "sepa_debit":
        ch["payment_method_details"]["sepa_debit"]["mandate"] = st.mandates.get(pm["id"])
    st.add(account, ch)
    pi["latest_charge"] = ch["id"]
    inv["attempt_count"] += 1
    inv["attempted"] = True
    if outcome == "failed":
        fail_attempt(st, account, sub, inv)
        return
    if method in so.ASYNC_METHODS:
        pi.update(status="processing", processing={"type": method})
        st.emit(account, "charge.pending", ch)
        st.emit(account, "payment_intent.processing", pi)
        if outcome == "pending":
            return
    pay_processing(st, account, sub, inv)


def pay_processing(st: StripeState, account: str, sub: JSON, inv: JSON) -> None:
    """The current attempt of ``inv`` succeeds."""
    pi = st.objects[st.invoice_pi[inv["id"]]]
    ch = st.objects[pi["latest_charge"]]
    ch.update(status="succeeded", paid=True, captured=True, amount_captured=ch["amount"])
    ch["outcome"] = so.outcome(True)
    record_charge_balance(st, account, ch)
    pi.update(status="succeeded", amount_received=pi["amount"], processing=None)
    now = now_ts()
    inv.update(status="paid", amount_paid=inv["amount_due"], amount_remaining=0)
    inv["next_payment_attempt"] = None
    inv["status_transitions"]["paid_at"] = now
    inpay = next(p for p in st.all(account, "invoice_payment") if p["invoice"] == inv["id"])
    inpay.update(status="paid", amount_paid=inv["amount_due"])
    inpay["status_transitions"]["paid_at"] = now
    st.emit(account, "charge.succeeded", ch)
    st.emit(account, "payment_intent.succeeded", pi)
    st.emit(account, "invoice_payment.paid", inpay)
    st.emit(account, "invoice.paid", inv)
    st.emit(account, "invoice.payment_succeeded", inv)
    if sub["status"] in ("incomplete", "past_due", "unpaid"):
        set_status(st, account, sub, "active")


def fail_attempt(st: StripeState, account: str, sub: JSON, inv: JSON) -> None:
    """The current attempt of ``inv`` fails: retry later, or give up after the last one."""
    pi = st.objects[st.invoice_pi[inv["id"]]]
    ch = st.objects[pi["latest_charge"]]
    method = ch["payment_method_details"]["type"]
    code = "insufficient_funds" if method == "sepa_debit" else "card_declined"
    message = "The bank declined the payment." if method != "card" else "Your card was declined."
    ch.update(status="failed", failure_code=code, failure_message=message)
    ch["outcome"] = so.outcome(False)
    error: JSON = {
        "type": "card_error" if method == "card" else "invalid_request_error",
        "code": code,
        "decline_code": "insufficient_funds" if method == "card" else None,
        "message": message,
        "charge": ch["id"],
        "payment_method_type": method,
    }
    pi.update(status="requires_payment_method", last_payment_error=error, processing=None)
    last = inv["attempt_count"] >= st.config.stripe_retry_attempts
    retry_in = RETRY_DAYS[min(inv["attempt_count"], len(RETRY_DAYS)) - 1] * _DAY
    inv["next_payment_attempt"] = None if last else now_ts() + retry_in
    st.emit(account, "charge.failed", ch)
    st.emit(account, "payment_intent.payment_failed", pi)
    st.emit(account, "invoice.payment_failed", inv)
    if not last:
        if sub["status"] == "active":
            set_status(st, account, sub, "past_due")
        return
    final = st.config.stripe_dunning_final
    if final == "canceled":
        cancel(st, account, sub, reason="payment_failed")
    else:
        set_status(st, account, sub, final)


# --- renewal -----------------------------------------------------------------------------------


def _summary(st: StripeState, sub: JSON, inv: JSON | None) -> JSON:
    pi = st.objects.get(st.invoice_pi.get(inv["id"], "")) if inv else None
    return {
        "subscription": sub["id"],
        "subscription_status": sub["status"],
        "invoice": inv["id"] if inv else None,
        "status": inv["status"] if inv else None,
        "attempt_count": inv["attempt_count"] if inv else 0,
        "next_payment_attempt": inv["next_payment_attempt"] if inv else None,
        "payment_intent": pi["id"] if pi else None,
        "charge": pi["latest_charge"] if pi else None,
        "amount_minor": inv["amount_due"] if inv else None,
    }


def renew(st: StripeState, sub_id: str, outcome: str) -> JSON:
    """The next event of the subscription's billing: the retry of an open invoice (or the
    result of a processing debit) when there is one, otherwise the next cycle."""
    found = st.find(sub_id)
    if found is None or found[1]["object"] != "subscription":
        raise KeyError(sub_id)
    account, sub = found
    if sub["status"] in ENDED or sub["status"] == "unpaid":
        raise SettleRefused(f"{sub_id} is {sub['status']}")
    latest = st.objects.get(sub["latest_invoice"] or "")
    if latest is not None and latest["status"] == "open":
        pi = st.objects.get(st.invoice_pi.get(latest["id"], ""))
        if pi is not None and pi["status"] == "processing":
            if outcome == "paid":
                pay_processing(st, account, sub, latest)
            elif outcome == "failed":
                fail_attempt(st, account, sub, latest)
            return _summary(st, sub, latest)
        if latest["next_payment_attempt"] is None:
            raise SettleRefused(f"{latest['id']} is not retried any more")
        attempt(st, account, sub, latest, outcome)
        return _summary(st, sub, latest)
    item = item_of(sub)
    if sub["cancel_at_period_end"]:
        cancel(st, account, sub, reason="cancellation_requested", at=item["current_period_end"])
        return _summary(st, sub, None)
    advance_period(st, account, sub, item["current_period_end"])
    inv = new_invoice(st, account, sub, "subscription_cycle")
    if sub["pause_collection"]:
        inv.update(status="void", next_payment_attempt=None, amount_remaining=0)
        inv["status_transitions"]["voided_at"] = now_ts()
        st.emit(account, "invoice.voided", inv)
        return _summary(st, sub, inv)
    attempt(st, account, sub, inv, outcome)
    return _summary(st, sub, inv)


def advance_period(st: StripeState, account: str, sub: JSON, start: int) -> None:
    item = sub["items"]["data"][0]
    prev = {"items": snapshot(sub["items"])}
    item["current_period_start"] = start
    item["current_period_end"] = add_interval(start, item["price"]["recurring"]["interval"])
    st.emit(account, "customer.subscription.updated", sub, previous=prev)


def cancel(st: StripeState, account: str, sub: JSON, *, reason: str, at: int | None = None) -> JSON:
    if sub["status"] in ENDED:
        raise StripeApiError(
            400,
            f"A canceled subscription can only update its cancellation_details and metadata "
            f"({sub['id']}).",
        )
    now = now_ts()
    sub.update(status="canceled", canceled_at=now, ended_at=at or now)
    sub["cancellation_details"]["reason"] = reason
    latest = st.objects.get(sub["latest_invoice"] or "")
    if latest is not None and latest["status"] == "open":
        latest["next_payment_attempt"] = None  # no more retries once it is canceled
    st.emit(account, "customer.subscription.deleted", sub)
    return sub
