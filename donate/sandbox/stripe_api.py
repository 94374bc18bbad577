"""``/stripe/v1/…``: the Stripe HTTP API subset, as stripe-python speaks it.

Form-encoded params (``a[b][0]=``), Bearer platform key, ``Stripe-Account`` scoping,
``Idempotency-Key`` replay, ``expand[]``, Stripe error bodies.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from donate.sandbox import stripe_billing_api, stripe_checkout, stripe_connect, stripe_money
from donate.sandbox.formcodec import FormError, parse_form
from donate.sandbox.idempotency import KeyReused, Stored, fingerprint
from donate.sandbox.ledger import Ledger
from donate.sandbox.stripe_expand import expand, filtered, list_response
from donate.sandbox.stripe_objects import API_VERSION
from donate.sandbox.stripe_records import account as account_obj
from donate.sandbox.stripe_state import (
    PLATFORM,
    RequestInfo,
    StripeApiError,
    StripeState,
    not_found,
)
from donate.sandbox.util import JSON, new_id

RESOURCES = {
    "checkout/sessions": "checkout.session",
    "payment_intents": "payment_intent",
    "charges": "charge",
    "refunds": "refund",
    "disputes": "dispute",
    "events": "event",
    "balance_transactions": "balance_transaction",
    "payouts": "payout",
    "application_fees": "application_fee",
    "customers": "customer",
    "subscriptions": "subscription",
    "invoices": "invoice",
    "invoice_payments": "invoice_payment",
    "prices": "price",
    "products": "product",
    "payment_methods": "payment_method",
    "mandates": "mandate",
    "billing_portal/sessions": "billing_portal.session",
}


def _json(status: int, body: bytes, extra: dict[str, str]) -> Response:
    headers = {"Request-Id": extra.pop("Request-Id", new_id("req_")), "Stripe-Version": API_VERSION}
    headers.update(extra)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _error(exc: StripeApiError, request_id: str) -> Response:
    body = exc.body()
    body["error"]["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
    return _json(exc.status, json.dumps(body).encode(), {"Request-Id": request_id})


def _account(request: Request, st: StripeState) -> str:
    auth = request.headers.get("authorization", "")
    if not auth:
        raise StripeApiError(
            401,
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth "
            "(e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        )
    scheme, _, key = auth.partition(" ")
    if scheme.lower() != "bearer" or key.strip() != st.config.stripe_platform_key:
        shown = key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else "***"
        raise StripeApiError(401, f"Invalid API Key provided: {shown}")
    acct = request.headers.get("stripe-account")
    if not acct:
        return PLATFORM
    if not st.is_account(acct) or acct == PLATFORM:
        raise StripeApiError(
            403,
            f"The provided key '{key[:8]}…' does not have access to account '{acct}' (or that "
            "account does not exist). Application access may have been revoked.",
            code="account_invalid",
        )
    return acct


async def stripe_endpoint(request: Request) -> Response:
    ledger: Ledger = request.app.state.ledger
    st = ledger.stripe
    request_id = new_id("req_")
    fault = await ledger.api_fault()
    if fault:
        exc = StripeApiError(
            500, "An unknown error occurred (sandbox fault injection).", type="api_error"
        )
        return _error(exc, request_id)
    method, path = request.method, request.path_params["path"].strip("/")
    key = request.headers.get("idempotency-key") if method == "POST" else None
    try:
        account = _account(request, st)
        raw = (await request.body()).decode() if method == "POST" else request.url.query
        try:
            params = parse_form(raw)
        except FormError as e:
            raise StripeApiError(400, str(e), param=e.key) from None
        scope, fp = f"stripe:{account}", fingerprint(method, path, params)
        if key:
            if len(key) > 255:
                raise StripeApiError(400, "Idempotency-Key is longer than 255 characters")
            try:
                stored = ledger.idem.lookup(scope, key, fp)
            except KeyReused:
                raise StripeApiError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters they "
                    f"were first used with. Try using a key other than '{key}' if you meant to "
                    "execute a different request.",
                    type="idempotency_error",
                ) from None
            if stored is not None:
                headers = {"Idempotent-Replayed": "true", "Idempotency-Key": key}
                return _json(stored.status, stored.body, headers)
        st.request = RequestInfo(request_id, key)
        result = _dispatch(st, account, method, path, params)
        paths = params.get("expand") or []
        if not isinstance(paths, list):
            paths = [paths]
        result = expand(st, account, result, [str(p) for p in paths])
        body = json.dumps(result).encode()
        if key:
            ledger.idem.save(scope, key, Stored(fp, 200, body, "application/json"))
        extra = {"Request-Id": request_id}
        if key:
            extra["Idempotency-Key"] = key
        return _json(200, body, extra)
    except StripeApiError as exc:
        return _error(exc, request_id)
    finally:
        st.request = RequestInfo()
        st.flush()


def _dispatch(st: StripeState, account: str, method: str, path: str, params: JSON) -> JSON:
    parts = path.split("/")
    if parts[0] != "v1":
        raise StripeApiError(404, f"Unrecognized request URL ({method}: /{path}).")
    parts = parts[1:]
    resource, rest = (
        ("/".join(parts[:2]), parts[2:])
        if parts[:1] in (["checkout"], ["billing_portal"])
        else ("/".join(parts[:1]), parts[1:])
    )
    route = (method, resource, len(rest))
    if route == ("POST", "checkout/sessions", 0):
        return stripe_checkout.create_session(st, account, params)
    if route == ("POST", "checkout/sessions", 2) and rest[1] == "expire":
        cs = st.get(account, rest[0], "checkout.session")
        return stripe_checkout.expire_session(st, account, cs)
    if route == ("GET", "checkout/sessions", 2) and rest[1] == "line_items":
        st.get(account, rest[0], "checkout.session")
        items = st.session_items.get(rest[0], [])
        url = f"/v1/checkout/sessions/{rest[0]}/line_items"
        return list_response(items, params, url)
    if route == ("POST", "subscriptions", 1):
        sub = st.get(account, rest[0], "subscription")
        return stripe_billing_api.update_subscription(st, account, sub, params)
    if route == ("DELETE", "subscriptions", 1):
        sub = st.get(account, rest[0], "subscription")
        return stripe_billing_api.cancel_subscription(st, account, sub, params)
    if route == ("POST", "prices", 0):
        return stripe_billing_api.create_price(st, account, params)
    if route == ("POST", "billing_portal/sessions", 0):
        return stripe_billing_api.create_portal_session(st, account, params)
    if route == ("POST", "refunds", 0):
        return _create_refund(st, account, params)
    if route == ("POST", "accounts", 0):
        return _create_account(st, account, params)
    if route == ("POST", "account_links", 0):
        return stripe_connect.create_account_link(st, account, params)
    if route == ("GET", "account", 0):
        return st.objects[account]
    if route == ("GET", "accounts", 1):
        if account not in (PLATFORM, rest[0]) or not st.is_account(rest[0]):
            raise not_found("account", rest[0], "account")
        return st.objects[rest[0]]
    if route == ("GET", "accounts", 0) and account == PLATFORM:
        accounts = [st.objects[a] for a in reversed(st.connected_accounts())]
        return list_response(accounts, params, "/v1/accounts")
    if route == ("GET", "balance", 0):
        return stripe_money.balance(st, account)
    kind = RESOURCES.get(resource)
    if kind is not None and method == "GET" and len(rest) == 1:
        return st.get(account, rest[0], kind)
    if kind is not None and method == "GET" and not rest:
        return list_response(filtered(st, account, kind, params), params, f"/v1/{resource}")
    raise StripeApiError(404, f"Unrecognized request URL ({method}: /{path}).")


def _create_refund(st: StripeState, account: str, params: JSON) -> JSON:
    ref = params.get("charge") or params.get("payment_intent")
    if not isinstance(ref, str) or not ref:
        raise StripeApiError(
            400,
            "One of the following params should be provided for this "
            "request: payment_intent or charge.",
        )
    ch = stripe_money.charge_of(st, account, ref)
    amount: Any = params.get("amount")
    if amount is not None:
        try:
            amount = int(amount)
        except ValueError:
            raise StripeApiError(400, f"Invalid integer: {amount}", param="amount") from None
    metadata = params.get("metadata") or {}
    return stripe_money.create_refund(
        st,
        account,
        ch,
        amount,
        reason=params.get("reason") or None,
        metadata=metadata if isinstance(metadata, dict) else {},
        refund_application_fee=params.get("refund_application_fee") == "true",
    )


def _create_account(st: StripeState, account: str, params: JSON) -> JSON:
    if account != PLATFORM:
        raise StripeApiError(400, "Connected accounts cannot create accounts")
    profile = params.get("business_profile") or {}
    obj = account_obj(
        new_id("acct_1", 15),
        profile.get("name", "") if isinstance(profile, dict) else "",
        str(params.get("email") or ""),
        str(params.get("country") or "FR"),
        str(params.get("default_currency") or "eur"),
    )
    obj["type"] = params.get("type") or "standard"
    obj["metadata"] = params.get("metadata") or {}
    return st.add(PLATFORM, stripe_connect.start_unfinished(obj))
