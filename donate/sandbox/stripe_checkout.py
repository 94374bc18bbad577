"""Checkout Sessions and what the payer's choice does to them (PaymentIntent, Charge, events)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from donate.domain.money import check_currency
from donate.sandbox import stripe_billing_objects as bo
from donate.sandbox import stripe_objects as so
from donate.sandbox.stripe_money import record_charge_balance
from donate.sandbox.stripe_state import PLATFORM, StripeApiError, StripeState
from donate.sandbox.util import JSON, now_ts

_MIN_EXPIRY_S, _MAX_EXPIRY_S = 30 * 60, 24 * 3600


class SettleRefused(Exception):
    """A control/settle that no payer could do (already paid, expired…): HTTP 409."""


def _int(params: JSON, key: str, *, minimum: int = 0) -> int:
    raw = params.get(key)
    try:
        value = int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise StripeApiError(400, f"Invalid integer: {raw}", param=key) from None
    if value < minimum:
        raise StripeApiError(
            400, f"This value must be greater than or equal to {minimum}.", param=key
        )
    return value


def _line_items(params: JSON, mode: str) -> tuple[list[JSON], str]:
    raw = params.get("line_items")
    if not isinstance(raw, list) or not raw:
        raise StripeApiError(400, "Missing required param: line_items.", param="line_items")
    items: list[JSON] = []
    currency: str | None = None
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise StripeApiError(400, "Invalid line item", param=f"line_items[{i}]")
        qty = _int(item, "quantity", minimum=1) if "quantity" in item else 1
        pd = item.get("price_data")
        if isinstance(pd, dict):
            cur, amount = pd.get("currency"), _int(pd, "unit_amount", minimum=1)
        elif "amount" in item:  # the legacy ad-hoc line item form
            cur, amount, pd = item.get("currency"), _int(item, "amount", minimum=1), {}
            pd["product_data"] = {"name": item.get("name", "")}
        else:
            raise StripeApiError(
                400, "Only price_data line items are supported", param=f"line_items[{i}][price]"
            )
        if not isinstance(cur, str) or not cur:
            raise StripeApiError(
                400, "Missing currency", param=f"line_items[{i}][price_data][currency]"
            )
        try:
            check_currency(cur.upper())
        except ValueError:
            raise StripeApiError(400, f"Invalid currency: {cur}", param="currency") from None
        if currency and cur.lower() != currency:
            raise StripeApiError(400, "All line items must share one currency", param="line_items")
        currency = cur.lower()
        if (mode == "subscription") != isinstance(pd.get("recurring"), dict):
            raise StripeApiError(
                400,
                "mode=subscription needs recurring prices, mode=payment one-time prices",
                param=f"line_items[{i}][price_data][recurring]",
            )
        items.append(so.line_item(pd, qty, amount, currency))
    assert currency is not None
    return items, currency


def create_session(st: StripeState, account: str, params: JSON) -> JSON:
    mode = params.get("mode")
    if mode not in ("payment", "subscription"):
        raise StripeApiError(400, "mode must be payment or subscription here", param="mode")
    if not params.get("success_url") and params.get("ui_mode", "hosted") == "hosted":
        raise StripeApiError(400, "Missing required param: success_url.", param="success_url")
    items, currency = _line_items(params, mode)
    total = sum(int(i["amount_total"]) for i in items)
    pi_data = params.get("payment_intent_data") or {}
    if not isinstance(pi_data, dict):
        raise StripeApiError(400, "Invalid payment_intent_data", param="payment_intent_data")
    if mode == "subscription" and pi_data:
        raise StripeApiError(
            400,
            "You can not pass `payment_intent_data` in `subscription` mode.",
            param="payment_intent_data",
        )
    sub_data = _subscription_data(params, account, mode)
    fee = pi_data.get("application_fee_amount")
    if fee not in (None, ""):
        if account == PLATFORM or mode != "payment":
            raise StripeApiError(
                400,
                "application_fee_amount needs a connected account and mode=payment",
                param="payment_intent_data[application_fee_amount]",
            )
        if _int(pi_data, "application_fee_amount") > total:
            raise StripeApiError(
                400,
                "application_fee_amount cannot exceed the amount",
                param="payment_intent_data[application_fee_amount]",
            )
    methods = params.get("payment_method_types") or ["card"]
    if not isinstance(methods, list) or not set(methods) <= set(so.PAYMENT_METHODS):
        raise StripeApiError(
            400,
            f"payment_method_types must be among {list(so.PAYMENT_METHODS)}",
            param="payment_method_types",
        )
    now = now_ts()
    expires_at = _int(params, "expires_at") if "expires_at" in params else now + _MAX_EXPIRY_S
    if not _MIN_EXPIRY_S - 60 <= expires_at - now <= _MAX_EXPIRY_S + 60:
        raise StripeApiError(
            400,
            "The `expires_at` timestamp must be between 30 minutes and 24 hours from now.",
            param="expires_at",
        )
    cs = so.checkout_session(
        base_url=st.config.base,
        mode=mode,
        amount_total=total,
        currency=currency,
        params=params,
        expires_at=expires_at,
    )
    st.add(account, cs)
    for item in items:  # inline price_data: Stripe creates the (hidden) Price and Product
        price = item["price"]
        product = st.add(account, bo.product(str(item["description"])))
        price["product"] = product["id"]
        st.add(account, price)
    st.session_pi_data[cs["id"]] = pi_data
    st.session_sub_data[cs["id"]] = sub_data
    st.session_items[cs["id"]] = items
    return cs


def _subscription_data(params: JSON, account: str, mode: str) -> JSON:
    data = params.get("subscription_data") or {}
    if not isinstance(data, dict):
        raise StripeApiError(400, "Invalid subscription_data", param="subscription_data")
    if data and mode != "subscription":
        raise StripeApiError(
            400,
            "You can only pass `subscription_data` in `subscription` mode.",
            param="subscription_data",
        )
    pct = data.get("application_fee_percent")
    if pct not in (None, ""):
        param = "subscription_data[application_fee_percent]"
        if account == PLATFORM:
            raise StripeApiError(
                400, "application_fee_percent needs a connected account", param=param
            )
        try:
            value = Decimal(str(pct))
        except InvalidOperation:
            raise StripeApiError(400, f"Invalid decimal: {pct}", param=param) from None
        if not 0 <= value <= 100 or value != value.quantize(Decimal("0.01")):
            raise StripeApiError(
                400, "application_fee_percent must be 0 to 100 with 2 decimals", param=param
            )
    return data


def expire_session(st: StripeState, account: str, cs: JSON) -> JSON:
    if cs["status"] != "open":
        raise StripeApiError(
            400,
            f"Only Checkout Sessions with a status of `open` can be expired. "
            f"This Checkout Session has a status of `{cs['status']}`.",
        )
    cs["status"] = "expired"
    pi_id = cs["payment_intent"]
    if pi_id:
        pi = st.objects[pi_id]
        pi.update(status="canceled", canceled_at=now_ts(), cancellation_reason="abandoned")
        st.emit(account, "payment_intent.canceled", pi)
    st.emit(account, "checkout.session.expired", cs)
    return cs


def settle(
    st: StripeState,
    cs_id: str,
    outcome: str,
    method: str | None,
    expiry: tuple[int, int] | None = None,
) -> JSON:
    """What the payer does on the hosted page; emits the events Stripe would."""
    found = st.find(cs_id)
    if found is None or found[1]["object"] != "checkout.session":
        raise KeyError(cs_id)
    account, cs = found
    if cs["status"] == "expired":
        raise SettleRefused(f"{cs_id} has expired")
    if cs["payment_status"] in ("paid", "no_payment_required"):
        raise SettleRefused(f"{cs_id} is already paid")
    pi = st.objects[cs["payment_intent"]] if cs["payment_intent"] else None
    if cs["status"] == "complete" and cs["mode"] == "subscription":
        from donate.sandbox.stripe_billing import settle_session

        return settle_session(st, account, cs, outcome)
    if cs["status"] == "complete":  # asynchronous payment (SEPA) waiting for its result
        assert pi is not None
        if outcome == "paid":
            _succeed(st, account, cs, pi)
            st.emit(account, "checkout.session.async_payment_succeeded", cs)
        elif outcome == "failed":
            _fail(st, account, pi)
            st.emit(account, "checkout.session.async_payment_failed", cs)
        elif outcome != "pending":
            raise SettleRefused(f"{cs_id} is processing: only paid, failed or pending apply")
        return cs
    if outcome == "expired":
        return expire_session(st, account, cs)
    if outcome == "canceled":
        return cs  # the payer went back to cancel_url: Stripe changes nothing and sends nothing
    chosen = method or ("sepa_debit" if outcome == "pending" else "card")
    if outcome == "pending" and chosen not in so.ASYNC_METHODS:
        chosen = "sepa_debit"  # only debits can be pending; cards are known at once
    if cs["mode"] == "subscription":
        from donate.sandbox.stripe_billing import start_subscription

        return start_subscription(st, account, cs, outcome, chosen, expiry)
    pi = _attempt(st, account, cs, pi, chosen)
    if outcome == "failed":
        _fail(st, account, pi)  # the session stays open: the payer may try again
        return cs
    _complete(st, account, cs)
    if chosen in so.ASYNC_METHODS:
        pi["status"] = "processing"
        pi["processing"] = {"type": chosen}
        st.emit(account, "payment_intent.processing", pi)
        st.emit(account, "checkout.session.completed", cs)
        if outcome == "paid":
            _succeed(st, account, cs, pi)
            st.emit(account, "checkout.session.async_payment_succeeded", cs)
        return cs
    _succeed(st, account, cs, pi)
    st.emit(account, "checkout.session.completed", cs)
    return cs


def _attempt(st: StripeState, account: str, cs: JSON, pi: JSON | None, method: str) -> JSON:
    """A confirmation: the PaymentIntent (created at the first one) gets a new Charge."""
    if pi is None:
        pi_data = st.session_pi_data.get(cs["id"], {})
        pi = so.payment_intent(cs["amount_total"], cs["currency"], method, pi_data, cs["customer"])
        if pi["receipt_email"] is None:
            pi["receipt_email"] = cs["customer_email"]
        st.add(account, pi)
        cs["payment_intent"] = pi["id"]
        st.emit(account, "payment_intent.created", pi)
    pi["payment_method_types"] = [method]
    pi["last_payment_error"] = None
    ch = st.add(account, so.charge(pi, method, cs["customer_email"]))
    pi["latest_charge"] = ch["id"]
    if method in so.ASYNC_METHODS:
        st.emit(account, "charge.pending", ch)
    return pi


def _complete(st: StripeState, account: str, cs: JSON) -> None:
    del st, account
    cs["status"] = "complete"
    cs["customer_details"] = {
        "address": dict.fromkeys(("city", "country", "line1", "line2", "postal_code", "state")),
        "email": cs["customer_email"] or "donor@example.org",
        "name": "Sandbox Donor",
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": [],
    }


def _succeed(st: StripeState, account: str, cs: JSON, pi: JSON) -> None:
    ch = st.objects[pi["latest_charge"]]
    ch.update(status="succeeded", paid=True, captured=True, amount_captured=ch["amount"])
    ch["outcome"] = so.outcome(True)
    ch["receipt_url"] = f"{st.config.base}/pay/{cs['id']}?receipt={ch['id']}"
    record_charge_balance(st, account, ch)
    pi.update(status="succeeded", amount_received=pi["amount"], processing=None)
    cs["payment_status"] = "paid"
    st.emit(account, "charge.succeeded", ch)
    st.emit(account, "payment_intent.succeeded", pi)


def _fail(st: StripeState, account: str, pi: JSON) -> None:
    ch = st.objects[pi["latest_charge"]]
    method = ch["payment_method_details"]["type"]
    code = "insufficient_funds" if method == "sepa_debit" else "card_declined"
    message = "The bank declined the payment." if method != "card" else "Your card was declined."
    ch.update(status="failed", failure_code=code, failure_message=message)
    ch["outcome"] = so.outcome(False)
    error: dict[str, Any] = {
        "type": "card_error" if method == "card" else "invalid_request_error",
        "code": code,
        "decline_code": "generic_decline" if method == "card" else None,
        "message": message,
        "charge": ch["id"],
        "payment_method_type": method,
    }
    pi.update(status="requires_payment_method", last_payment_error=error, processing=None)
    st.emit(account, "charge.failed", ch)
    st.emit(account, "payment_intent.payment_failed", pi)


def sweep_expired(st: StripeState) -> None:
    """Expire open sessions past ``expires_at``, as Stripe does on its own."""
    now = now_ts()
    for oid, obj in list(st.objects.items()):
        open_ = obj["object"] == "checkout.session" and obj["status"] == "open"
        if open_ and obj["expires_at"] <= now:
            expire_session(st, st.owner[oid], obj)
