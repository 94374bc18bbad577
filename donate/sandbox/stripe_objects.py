"""Builders of Stripe-shaped objects (API version 2026-10-28), the fields a client reads.

Shapes follow Stripe's OpenAPI fixtures (tests/fixtures/stripe); values are test-mode.
"""

from __future__ import annotations

from typing import Any

from donate.sandbox.util import JSON, new_id, now_ts

API_VERSION = "2026-10-28.endive"
PAYMENT_METHODS = ("card", "sepa_debit", "ideal", "bancontact")
ASYNC_METHODS = frozenset({"sepa_debit"})


def _address() -> JSON:
    keys = ("city", "country", "line1", "line2", "postal_code", "state")
    return dict.fromkeys(keys)


def empty_list(url: str, data: list[JSON] | None = None) -> JSON:
    return {"object": "list", "data": data or [], "has_more": False, "url": url}


def checkout_session(
    *,
    base_url: str,
    mode: str,
    amount_total: int,
    currency: str,
    params: JSON,
    expires_at: int,
) -> JSON:
    sid = new_id("cs_test_", 58)
    return {
        "id": sid,
        "object": "checkout.session",
        "adaptive_pricing": {"enabled": False},
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": amount_total,
        "amount_total": amount_total,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": params.get("billing_address_collection"),
        "cancel_url": params.get("cancel_url"),
        "client_reference_id": params.get("client_reference_id"),
        "client_secret": None,
        "collected_information": None,
        "consent": None,
        "consent_collection": None,
        "created": now_ts(),
        "currency": currency,
        "custom_fields": [],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer": params.get("customer"),
        "customer_creation": params.get("customer_creation", "if_required"),
        "customer_details": None,
        "customer_email": params.get("customer_email"),
        "discounts": [],
        "expires_at": expires_at,
        "invoice": None,
        "invoice_creation": None,
        "livemode": False,
        "locale": params.get("locale"),
        "metadata": params.get("metadata") or {},
        "mode": mode,
        "payment_intent": None,  # created when the payer confirms, as since API 2022-08-01
        "payment_link": None,
        "payment_method_collection": "if_required",
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": params.get("payment_method_types") or ["card"],
        "payment_status": "unpaid",
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": params.get("submit_type"),
        "subscription": None,
        "success_url": params.get("success_url"),
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": f"{base_url}/pay/{sid}",
        "wallet_options": None,
    }


def line_item(price_data: JSON, quantity: int, unit_amount: int, currency: str) -> JSON:
    product = price_data.get("product_data") or {}
    recurring = price_data.get("recurring")
    price = {
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
        "product": new_id("prod_", 14),
        "recurring": None,
        "tax_behavior": "unspecified",
        "type": "recurring" if recurring else "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }
    if isinstance(recurring, dict):
        price["recurring"] = {
            "interval": recurring.get("interval", "month"),
            "interval_count": int(recurring.get("interval_count", 1)),
            "meter": None,
            "trial_period_days": None,
            "usage_type": "licensed",
        }
    return {
        "id": new_id("li_", 24),
        "object": "item",
        "amount_discount": 0,
        "amount_subtotal": unit_amount * quantity,
        "amount_tax": 0,
        "amount_total": unit_amount * quantity,
        "currency": currency,
        "description": product.get("name", ""),
        "price": price,
        "quantity": quantity,
    }


def payment_intent(
    amount: int, currency: str, method: str, pi_data: JSON, customer: str | None
) -> JSON:
    pid = new_id("pi_3", 23)
    return {
        "id": pid,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": _int_or_none(pi_data.get("application_fee_amount")),
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic_async",
        "client_secret": f"{pid}_secret_{new_id('', 24)}",
        "confirmation_method": "automatic",
        "created": now_ts(),
        "currency": currency,
        "customer": customer,
        "description": pi_data.get("description"),
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": pi_data.get("metadata") or {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": new_id("pm_1", 23),
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": [method],
        "processing": None,
        "receipt_email": pi_data.get("receipt_email"),
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }


def _int_or_none(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def method_details(method: str) -> JSON:
    details: dict[str, JSON] = {
        "card": {
            "brand": "visa",
            "checks": {"address_line1_check": None, "address_postal_code_check": None},
            "country": "FR",
            "exp_month": 12,
            "exp_year": 2034,
            "fingerprint": "sandboxFp4242",
            "funding": "credit",
            "last4": "4242",
            "network": "visa",
            "three_d_secure": None,
            "wallet": None,
        },
        "sepa_debit": {
            "bank_code": "37040044",
            "branch_code": "",
            "country": "DE",
            "fingerprint": "sandboxFp3000",
            "last4": "3000",
            "mandate": new_id("mandate_1", 23),
        },
        "ideal": {"bank": "ing", "bic": "INGBNL2A", "iban_last4": "5264", "verified_name": "Jenny"},
        "bancontact": {
            "bank_code": "VAPE",
            "bank_name": "VAN DE PUT & CO",
            "bic": "VAPEBE22",
            "iban_last4": "7061",
            "preferred_language": "fr",
            "verified_name": "Jenny",
        },
    }
    return {"type": method, method: details[method]}


def charge(pi: JSON, method: str, email: str | None) -> JSON:
    cid = new_id("ch_3", 23)
    return {
        "id": cid,
        "object": "charge",
        "amount": pi["amount"],
        "amount_captured": 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": pi["application_fee_amount"],
        "balance_transaction": None,
        "billing_details": {
            "address": _address(),
            "email": email,
            "name": None,
            "phone": None,
            "tax_id": None,
        },
        "calculated_statement_descriptor": "DONATE SANDBOX",
        "captured": False,
        "created": now_ts(),
        "currency": pi["currency"],
        "customer": pi["customer"],
        "description": pi["description"],
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        "metadata": dict(pi["metadata"]),
        "on_behalf_of": None,
        "outcome": None,
        "paid": False,
        "payment_intent": pi["id"],
        "payment_method": pi["payment_method"],
        "payment_method_details": method_details(method),
        "receipt_email": pi["receipt_email"],
        "receipt_number": None,
        "receipt_url": None,
        "refunded": False,
        "review": None,
        "shipping": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "pending",
        "transfer_data": None,
        "transfer_group": None,
    }


def outcome(approved: bool) -> JSON:
    return {
        "advice_code": None,
        "network_advice_code": None,
        "network_decline_code": None,
        "network_status": "approved_by_network" if approved else "declined_by_network",
        "reason": None if approved else "generic_decline",
        "risk_level": "normal",
        "seller_message": "Payment complete."
        if approved
        else "The bank did not return any further details with this decline.",
        "type": "authorized" if approved else "issuer_declined",
    }
