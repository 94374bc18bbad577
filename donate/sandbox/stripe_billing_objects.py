"""Builders of Stripe Billing objects (API version 2026-10-28): products, prices, customers,
payment methods, mandates, subscriptions, invoices, invoice payments, portal sessions.

Since 2025-03-31 an invoice names its payment only through ``payments`` (InvoicePayment
objects, an includable list) and its subscription under ``parent.subscription_details``;
billing periods live on the subscription items. The builders follow those shapes.
"""

from __future__ import annotations

from donate.sandbox.stripe_objects import empty_list, method_details
from donate.sandbox.util import JSON, new_id, now_ts

CARD_EXPIRY = (12, 2034)  # what a sandbox card expires on unless the payer says otherwise


def product(name: str) -> JSON:
    return {
        "id": new_id("prod_", 14),
        "object": "product",
        "active": False,  # inline price_data products are hidden, as on Stripe
        "created": now_ts(),
        "description": None,
        "livemode": False,
        "metadata": {},
        "name": name,
        "type": "service",
    }


def price(product_id: str, currency: str, unit_amount: int, recurring: JSON | None) -> JSON:
    out: JSON = {
        "id": new_id("price_", 24),
        "object": "price",
        "active": False,
        "billing_scheme": "per_unit",
        "created": now_ts(),
        "currency": currency,
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": None,
        "product": product_id,
        "recurring": None,
        "tax_behavior": "unspecified",
        "type": "recurring" if recurring else "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }
    if recurring:
        out["recurring"] = {
            "interval": recurring.get("interval", "month"),
            "interval_count": int(recurring.get("interval_count", 1)),
            "meter": None,
            "trial_period_days": None,
            "usage_type": "licensed",
        }
    return out


def customer(email: str | None, name: str | None) -> JSON:
    return {
        "id": new_id("cus_", 14),
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": now_ts(),
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "email": email,
        "invoice_prefix": new_id("", 8).upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": {},
        "name": name,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
    }


def payment_method(method: str, customer_id: str, expiry: tuple[int, int] | None) -> JSON:
    details = method_details(method)[method]
    if method == "card":
        details["exp_month"], details["exp_year"] = expiry or CARD_EXPIRY
    details.pop("mandate", None)  # a charge names its mandate; the payment method does not
    return {
        "id": new_id("pm_1", 23),
        "object": "payment_method",
        "allow_redisplay": "always",
        "billing_details": {"address": None, "email": None, "name": "Sandbox Donor", "phone": None},
        "created": now_ts(),
        "customer": customer_id,
        "livemode": False,
        "metadata": {},
        "type": method,
        method: details,
    }


def mandate(pm: JSON) -> JSON:
    """The SEPA mandate a debit payment method is used under (reference shown to the debtor)."""
    return {
        "id": new_id("mandate_1", 23),
        "object": "mandate",
        "customer_acceptance": {
            "accepted_at": now_ts(),
            "online": {"ip_address": "127.0.0.1", "user_agent": "sandbox"},
            "type": "online",
        },
        "livemode": False,
        "multi_use": {},
        "payment_method": pm["id"],
        "payment_method_details": {
            "sepa_debit": {
                "reference": new_id("", 16).upper(),
                "url": f"https://payments.stripe.com/sepa_debit/mandate/{pm['id']}",
            },
            "type": "sepa_debit",
        },
        "status": "active",
        "type": "multi_use",
    }


def subscription_item(sub_id: str, price_obj: JSON, quantity: int, start: int, end: int) -> JSON:
    return {
        "id": new_id("si_", 14),
        "object": "subscription_item",
        "billing_thresholds": None,
        "created": now_ts(),
        "current_period_end": end,
        "current_period_start": start,
        "discounts": [],
        "metadata": {},
        "price": price_obj,
        "quantity": quantity,
        "subscription": sub_id,
        "tax_rates": [],
    }


def subscription(
    *, customer_id: str, currency: str, data: JSON, pm_id: str, description: str | None
) -> JSON:
    sid = new_id("sub_1", 23)
    fee = data.get("application_fee_percent")
    return {
        "id": sid,
        "object": "subscription",
        "application": "ca_sandboxPlatform",
        "application_fee_percent": float(fee) if fee not in (None, "") else None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": now_ts(),
        "billing_cycle_anchor_config": None,
        "billing_mode": {"type": "flexible"},
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": now_ts(),
        "currency": currency,
        "customer": customer_id,
        "days_until_due": None,
        "default_payment_method": pm_id,
        "default_source": None,
        "description": description,
        "discounts": [],
        "ended_at": None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": empty_list(f"/v1/subscription_items?subscription={sid}"),
        "latest_invoice": None,
        "livemode": False,
        "metadata": dict(data.get("metadata") or {}),
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_update": None,
        "schedule": None,
        "start_date": now_ts(),
        "status": "incomplete",
        "test_clock": None,
        "transfer_data": None,
        "trial_end": None,
        "trial_start": None,
    }


def invoice(sub: JSON, item: JSON, number: str, reason: str) -> JSON:
    iid = new_id("in_1", 23)
    amount = int(item["price"]["unit_amount"]) * int(item["quantity"])
    start, end = item["current_period_start"], item["current_period_end"]
    line = {
        "id": new_id("il_tmp_", 24),
        "object": "line_item",
        "amount": amount,
        "currency": sub["currency"],
        "description": f"{item['quantity']} × {item['price']['product']}",
        "invoice": iid,
        "livemode": False,
        "metadata": dict(sub["metadata"]),
        "parent": {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": sub["id"],
                "subscription_item": item["id"],
            },
            "type": "subscription_item_details",
        },
        "period": {"end": end, "start": start},
        "pricing": {
            "price_details": {"price": item["price"]["id"], "product": item["price"]["product"]},
            "type": "price_details",
            "unit_amount_decimal": str(item["price"]["unit_amount"]),
        },
        "quantity": item["quantity"],
        "subscription": sub["id"],
    }
    return {
        "id": iid,
        "object": "invoice",
        "account_country": "FR",
        "amount_due": amount,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_remaining": amount,
        "amount_shipping": 0,
        "application": "ca_sandboxPlatform",
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": True,
        "billing_reason": reason,
        "collection_method": "charge_automatically",
        "created": now_ts(),
        "currency": sub["currency"],
        "customer": sub["customer"],
        "customer_email": None,
        "default_payment_method": None,
        "description": None,
        "hosted_invoice_url": None,
        "lines": {
            "object": "list",
            "data": [line],
            "has_more": False,
            "url": f"/v1/invoices/{iid}/lines",
        },
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": None,
        "number": number,
        "parent": {
            "quote_details": None,
            "subscription_details": {"metadata": dict(sub["metadata"]), "subscription": sub["id"]},
            "type": "subscription_details",
        },
        "period_end": end,
        "period_start": start,
        "status": "draft",
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subtotal": amount,
        "total": amount,
        "webhooks_delivered_at": None,
    }


def invoice_payment(inv: JSON, pi_id: str) -> JSON:
    return {
        "id": new_id("inpay_1", 23),
        "object": "invoice_payment",
        "amount_paid": None,
        "amount_requested": inv["amount_due"],
        "created": now_ts(),
        "currency": inv["currency"],
        "invoice": inv["id"],
        "is_default": True,
        "livemode": False,
        "payment": {"payment_intent": pi_id, "type": "payment_intent"},
        "status": "open",
        "status_transitions": {"canceled_at": None, "paid_at": None},
    }


def portal_session(base_url: str, customer_id: str, return_url: str | None, flow: JSON) -> JSON:
    bid = new_id("bps_1", 23)
    return {
        "id": bid,
        "object": "billing_portal.session",
        "configuration": "bpc_sandboxDefault",
        "created": now_ts(),
        "customer": customer_id,
        "flow": flow or None,
        "livemode": False,
        "locale": None,
        "on_behalf_of": None,
        "return_url": return_url,
        "url": f"{base_url}/portal/{bid}",
    }
