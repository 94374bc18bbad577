"""``/v1/subscriptions``, ``/v1/prices`` and ``/v1/billing_portal/sessions``: what a platform
calls to change, pause or cancel a subscription and to let the donor fix the payment method.

No prorations are emulated: a new price applies from the next cycle (``proration_behavior``
is accepted and ignored), except that a new *interval* resets the billing cycle and invoices
at once, as Stripe does.
"""

from __future__ import annotations

from donate.sandbox import stripe_billing as billing
from donate.sandbox import stripe_billing_objects as bo
from donate.sandbox.stripe_state import StripeApiError, StripeState, not_found
from donate.sandbox.util import JSON, now_ts, snapshot

_PAUSE_BEHAVIORS = ("void", "keep_as_draft", "mark_uncollectible")
_INTERVALS = ("day", "week", "month", "year")
_PRORATIONS = ("none", "create_prorations", "always_invoice")


def _positive_int(raw: object, param: str) -> int:
    try:
        value = int(str(raw))
    except ValueError:
        raise StripeApiError(400, f"Invalid integer: {raw}", param=param) from None
    if value < 1:
        raise StripeApiError(400, "This value must be greater than or equal to 1.", param=param)
    return value


def _recurring(raw: object, param: str) -> JSON:
    if not isinstance(raw, dict) or raw.get("interval") not in _INTERVALS:
        raise StripeApiError(400, "Missing required param: recurring[interval].", param=param)
    return raw


def create_price(st: StripeState, account: str, params: JSON) -> JSON:
    currency = str(params.get("currency") or "").lower()
    if not currency:
        raise StripeApiError(400, "Missing required param: currency.", param="currency")
    amount = _positive_int(params.get("unit_amount"), "unit_amount")
    product_id = params.get("product")
    if isinstance(product_id, str) and product_id:
        st.get(account, product_id, "product")
    else:
        data = params.get("product_data")
        if not isinstance(data, dict) or not data.get("name"):
            raise StripeApiError(400, "Missing required param: product.", param="product")
        product_id = st.add(account, bo.product(str(data["name"])))["id"]
    recurring = params.get("recurring")
    if recurring is not None:
        recurring = _recurring(recurring, "recurring[interval]")
    return st.add(account, bo.price(product_id, currency, amount, recurring))


def _item_price(st: StripeState, account: str, sub: JSON, raw: JSON, i: int) -> JSON | None:
    if isinstance(raw.get("price"), str):
        price = st.get(account, raw["price"], "price")
    elif isinstance(raw.get("price_data"), dict):
        pd = raw["price_data"]
        prefix = f"items[{i}][price_data]"
        product = pd.get("product")
        if not isinstance(product, str) or not product:
            raise StripeApiError(400, f"Missing required param: {prefix}[product].")
        st.get(account, product, "product")
        recurring = _recurring(pd.get("recurring"), f"{prefix}[recurring][interval]")
        amount = _positive_int(pd.get("unit_amount"), f"{prefix}[unit_amount]")
        price = st.add(account, bo.price(product, str(pd.get("currency")), amount, recurring))
    else:
        return None
    if price["recurring"] is None:
        raise StripeApiError(400, "The price must be recurring.", param=f"items[{i}][price]")
    if price["currency"] != sub["currency"]:
        raise StripeApiError(
            400, "The price's currency must match the subscription's.", param=f"items[{i}][price]"
        )
    return price


def update_subscription(st: StripeState, account: str, sub: JSON, params: JSON) -> JSON:
    if sub["status"] in billing.ENDED:
        raise StripeApiError(
            400,
            "A canceled subscription can only update its cancellation_details and metadata.",
        )
    if params.get("proration_behavior", "none") not in _PRORATIONS:
        raise StripeApiError(400, "Invalid proration_behavior", param="proration_behavior")
    prev: JSON = {}
    new_interval = False
    items = params.get("items")
    if items is not None:
        if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
            raise StripeApiError(400, "Only one subscription item is supported", param="items")
        raw = items[0]
        item = sub["items"]["data"][0]
        if raw.get("id") not in (None, item["id"]):
            raise not_found("subscription_item", str(raw.get("id")), "items[0][id]")
        prev["items"] = snapshot(sub["items"])
        price = _item_price(st, account, sub, raw, 0)
        if price is not None:
            new_interval = price["recurring"] != item["price"]["recurring"]
            item["price"] = price
        if "quantity" in raw:
            item["quantity"] = _positive_int(raw["quantity"], "items[0][quantity]")
    if "cancel_at_period_end" in params:
        prev["cancel_at_period_end"] = sub["cancel_at_period_end"]
        sub["cancel_at_period_end"] = params["cancel_at_period_end"] == "true"
    if "pause_collection" in params:
        pause = params["pause_collection"]
        prev["pause_collection"] = snapshot(sub["pause_collection"] or {}) or None
        if pause == "":
            sub["pause_collection"] = None
        elif isinstance(pause, dict) and pause.get("behavior") in _PAUSE_BEHAVIORS:
            resumes = pause.get("resumes_at")
            sub["pause_collection"] = {
                "behavior": pause["behavior"],
                "resumes_at": int(resumes) if resumes else None,
            }
        else:
            raise StripeApiError(
                400, "Missing required param: pause_collection[behavior].", param="pause_collection"
            )
    if "default_payment_method" in params:
        pm = st.get(account, str(params["default_payment_method"]), "payment_method")
        if pm["customer"] != sub["customer"]:
            raise StripeApiError(400, "The payment method is not attached to the customer.")
        prev["default_payment_method"] = sub["default_payment_method"]
        sub["default_payment_method"] = pm["id"]
    if isinstance(params.get("metadata"), dict):
        prev["metadata"] = dict(sub["metadata"])
        for key, value in params["metadata"].items():
            if value == "":
                sub["metadata"].pop(key, None)
            else:
                sub["metadata"][key] = value
    if "description" in params:
        prev["description"] = sub["description"]
        sub["description"] = params["description"] or None
    if prev:
        st.emit(account, "customer.subscription.updated", sub, previous=prev)
    if new_interval and sub["status"] in ("active", "past_due"):
        # Another interval resets the billing cycle and invoices the new price now.
        sub["billing_cycle_anchor"] = now_ts()
        billing.advance_period(st, account, sub, now_ts())
        inv = billing.new_invoice(st, account, sub, "subscription_update")
        billing.attempt(st, account, sub, inv, "paid")
    return sub


def cancel_subscription(st: StripeState, account: str, sub: JSON, params: JSON) -> JSON:
    details = params.get("cancellation_details")
    if isinstance(details, dict) and details.get("comment"):
        sub["cancellation_details"]["comment"] = details["comment"]
    return billing.cancel(st, account, sub, reason="cancellation_requested")


def create_portal_session(st: StripeState, account: str, params: JSON) -> JSON:
    customer = params.get("customer")
    if not isinstance(customer, str) or not customer:
        raise StripeApiError(400, "Missing required param: customer.", param="customer")
    st.get(account, customer, "customer")
    flow = params.get("flow_data") or {}
    if flow and (not isinstance(flow, dict) or flow.get("type") not in _FLOWS):
        raise StripeApiError(400, "Invalid flow_data[type]", param="flow_data[type]")
    sub_id = ((flow.get(str(flow.get("type"))) or {}) if flow else {}).get("subscription")
    if isinstance(sub_id, str):
        sub = st.get(account, sub_id, "subscription")
        if sub["customer"] != customer:
            raise not_found("subscription", sub_id, "flow_data")
    session = bo.portal_session(st.config.base, customer, params.get("return_url"), flow)
    return st.add(account, session)


_FLOWS = ("payment_method_update", "subscription_cancel", "subscription_update")


def update_payment_method(
    st: StripeState, account: str, customer_id: str, method: str, expiry: tuple[int, int] | None
) -> JSON:
    """What the donor does in the portal: a new default payment method for the customer
    and every live subscription of theirs (open invoices are retried with it later)."""
    cus = st.get(account, customer_id, "customer")
    pm = st.add(account, bo.payment_method(method, customer_id, expiry))
    st.emit(account, "payment_method.attached", pm)
    if method == "sepa_debit":
        st.mandates[pm["id"]] = st.add(account, bo.mandate(pm))["id"]
    prev_default = cus["invoice_settings"]["default_payment_method"]
    cus["invoice_settings"]["default_payment_method"] = pm["id"]
    st.emit(
        account,
        "customer.updated",
        cus,
        previous={"invoice_settings": {"default_payment_method": prev_default}},
    )
    for sub in st.all(account, "subscription"):
        if sub["customer"] == customer_id and sub["status"] not in billing.ENDED:
            prev = {"default_payment_method": sub["default_payment_method"]}
            sub["default_payment_method"] = pm["id"]
            st.emit(account, "customer.subscription.updated", sub, previous=prev)
    return pm
