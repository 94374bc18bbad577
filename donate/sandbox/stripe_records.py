"""Builders of Stripe's money records: balance transactions, refunds, disputes, payouts,
accounts and events (API version 2026-10-28), shaped like Stripe's OpenAPI fixtures."""

from __future__ import annotations

from donate.sandbox.stripe_objects import API_VERSION, empty_list
from donate.sandbox.util import JSON, new_id, now_ts


def balance_transaction(
    *,
    amount: int,
    currency: str,
    kind: str,
    category: str,
    source: str,
    description: str | None,
    fee_details: list[JSON] | None = None,
) -> JSON:
    fees = fee_details or []
    fee = sum(int(f["amount"]) for f in fees)
    ts = now_ts()
    return {
        "id": new_id("txn_1", 23),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": ts,  # available at once in the sandbox so payouts can be tested
        "balance_type": "payments",
        "created": ts,
        "currency": currency,
        "description": description,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": fees,
        "net": amount - fee,
        "reporting_category": category,
        "source": source,
        "status": "available",
        "type": kind,
    }


def fee_detail(amount: int, currency: str, kind: str, description: str) -> JSON:
    return {
        "amount": amount,
        "application": "ca_sandboxPlatform" if kind == "application_fee" else None,
        "currency": currency,
        "description": description,
        "type": kind,
    }


def refund(ch: JSON, amount: int, reason: str | None, metadata: JSON) -> JSON:
    method = ch["payment_method_details"]["type"]
    return {
        "id": new_id("re_3", 23),
        "object": "refund",
        "amount": amount,
        "balance_transaction": None,
        "charge": ch["id"],
        "created": now_ts(),
        "currency": ch["currency"],
        "destination_details": {"type": method, method: {}},
        "metadata": metadata,
        "payment_intent": ch["payment_intent"],
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }


def dispute(ch: JSON, amount: int, status: str) -> JSON:
    method = ch["payment_method_details"]["type"]
    return {
        "id": new_id("dp_1", 23),
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [],
        "charge": ch["id"],
        "created": now_ts(),
        "currency": ch["currency"],
        "enhanced_eligibility_types": [],
        "evidence": {},
        "evidence_details": {
            "due_by": now_ts() + 7 * 86400,
            "enhanced_eligibility": {},
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": ch["payment_intent"],
        "payment_method_details": {"type": method, method: {"case_type": "chargeback"}},
        "reason": "fraudulent" if method == "card" else "general",
        "status": status,
    }


def payout(amount: int, currency: str) -> JSON:
    ts = now_ts()
    return {
        "id": new_id("po_1", 23),
        "object": "payout",
        "amount": amount,
        "application_fee": None,
        "application_fee_amount": None,
        "arrival_date": ts,
        "automatic": True,
        "balance_transaction": None,
        "created": ts,
        "currency": currency,
        "description": "STRIPE PAYOUT",
        "destination": "ba_1SandboxBankAccount00",
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": {},
        "method": "standard",
        "original_payout": None,
        "payout_method": None,
        "reconciliation_status": "completed",
        "reversed_by": None,
        "source_type": "card",
        "statement_descriptor": None,
        "status": "pending",
        "trace_id": {"status": "supported", "value": new_id("TRACE", 10)},
        "type": "bank_account",
    }


def account(acct_id: str, name: str, email: str, country: str, currency: str) -> JSON:
    return {
        "id": acct_id,
        "object": "account",
        "business_profile": {"name": name or None, "mcc": "8398", "url": None},
        "business_type": "non_profit",
        "capabilities": {
            "bancontact_payments": "active",
            "card_payments": "active",
            "ideal_payments": "active",
            "sepa_debit_payments": "active",
            "transfers": "active",
        },
        "charges_enabled": True,
        "controller": {"type": "application", "is_controller": True},
        "country": country,
        "created": now_ts(),
        "default_currency": currency.lower(),
        "details_submitted": True,
        "email": email or None,
        "external_accounts": empty_list(f"/v1/accounts/{acct_id}/external_accounts"),
        "future_requirements": {"currently_due": [], "eventually_due": [], "past_due": []},
        "metadata": {},
        "payouts_enabled": True,
        "requirements": {
            "currently_due": [],
            "disabled_reason": None,
            "eventually_due": [],
            "past_due": [],
        },
        "settings": {"payouts": {"schedule": {"delay_days": 0, "interval": "manual"}}},
        "tos_acceptance": {"date": now_ts()},
        "type": "standard",
    }


def event(etype: str, obj: JSON, account: str | None, request: JSON, pending: int) -> JSON:
    evt: JSON = {
        "id": new_id("evt_1", 23),
        "object": "event",
        "api_version": API_VERSION,
        "created": now_ts(),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": pending,
        "request": request,
        "type": etype,
    }
    if account is not None:
        evt["account"] = account
    return evt
