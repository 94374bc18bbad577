"""``/mollie/v2/…``: the Mollie HTTP API subset, as mollie-api-python speaks it (JSON, HAL)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from donate.sandbox import mollie_payments as mp
from donate.sandbox import mollie_recurring as mr
from donate.sandbox.idempotency import KeyReused, Stored, fingerprint
from donate.sandbox.ledger import Ledger
from donate.sandbox.mollie_state import HAL, Caller, MollieApiError, MollieState
from donate.sandbox.util import JSON

_NO_CONTENT = object()


def _response(status: int, body: bytes, extra: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type=HAL, headers=extra)


async def mollie_endpoint(request: Request) -> Response:
    ledger: Ledger = request.app.state.ledger
    ms = ledger.mollie
    if await ledger.api_fault():
        exc = MollieApiError(500, "An unknown error occurred (sandbox fault injection).")
        return _response(500, json.dumps(exc.body()).encode())
    method, path = request.method, request.path_params["path"].strip("/")
    key = request.headers.get("idempotency-key") if method in ("POST", "PATCH", "DELETE") else None
    try:
        caller = ms.caller(request.headers.get("authorization", ""))
        params: JSON = dict(request.query_params)
        data: JSON = {}
        raw = await request.body()
        if raw:
            try:
                loaded = json.loads(raw)
            except ValueError:
                raise MollieApiError(400, "The request body is not valid JSON") from None
            if not isinstance(loaded, dict):
                raise MollieApiError(400, "The request body must be a JSON object")
            data = loaded
        scope, fp = f"mollie:{caller.token}", fingerprint(method, path, data)
        if key:
            try:
                stored = ledger.idem.lookup(scope, key, fp)
            except KeyReused:
                raise MollieApiError(
                    422, "The Idempotency-Key was already used for a request with another body"
                ) from None
            if stored is not None:
                return _response(stored.status, stored.body, {"Idempotent-Replayed": "true"})
        profile = params.get("profileId") or data.get("profileId")
        if caller.oauth and profile and not data:  # GET lists filtered to one profile
            if profile not in caller.profiles:
                raise MollieApiError(404, f"No profile exists with token {profile}.")
            caller = Caller(caller.token, [str(profile)], True)
        result = _dispatch(ms, caller, method, path, params, data)
        if result is _NO_CONTENT:
            return Response(status_code=204)
        status = 201 if method == "POST" else 200
        body = json.dumps(result).encode()
        if key:
            ledger.idem.save(scope, key, Stored(fp, status, body, HAL))
        return _response(status, body)
    except MollieApiError as exc:
        return _response(exc.status, json.dumps(exc.body()).encode())
    finally:
        ms.flush()


def _dispatch(
    ms: MollieState, caller: Caller, method: str, path: str, params: JSON, data: JSON
) -> Any:
    p = path.split("/")
    if p[0] != "v2":
        raise MollieApiError(404, "Unknown API version")
    p, n = p[1:], len(p) - 1
    r = ms.render
    head = p[0] if p else ""
    if head == "payments":
        if n == 1 and method == "POST":
            return r(mp.create_payment(ms, caller, data))
        if n == 1 and method == "GET":
            return ms.page(ms.all(caller, "payment"), params, "payments", "payments")
        payment = ms.get(caller, p[1], "payment")
        if n == 2 and method == "GET":
            return _with_embeds(ms, payment, params)
        if n == 2 and method == "DELETE":
            return r(mp.cancel_payment(ms, caller, p[1]))
        if n == 2 and method == "PATCH":
            for k in ("description", "redirectUrl", "cancelUrl", "webhookUrl", "metadata"):
                if k in data:
                    payment[k] = data[k]
            return r(payment)
        sub = p[2] if n >= 3 else ""
        if sub in ("refunds", "chargebacks"):
            kind = sub[:-1]
            if n == 3 and method == "POST" and sub == "refunds":
                return r(mp.create_refund(ms, payment, data))
            if n == 3 and method == "GET":
                return ms.page(
                    ms.of_payment(payment["id"], kind),
                    params,
                    f"payments/{payment['id']}/{sub}",
                    sub,
                )
            if n == 4:
                obj = ms.get(caller, p[3], kind)
                if obj["paymentId"] != payment["id"]:
                    raise MollieApiError(404, f"No {kind} exists with token {p[3]}.")
                if method == "GET":
                    return r(obj)
                if method == "DELETE" and kind == "refund":
                    mp.cancel_refund(ms, payment, obj)
                    return _NO_CONTENT
    if head in ("refunds", "chargebacks", "subscriptions") and n == 1 and method == "GET":
        return ms.page(ms.all(caller, head[:-1]), params, head, head)
    if head == "customers":
        return _customers(ms, caller, method, p, params, data)
    if head == "profiles" and n == 2 and p[1] == "me" and method == "GET":
        return _profile_me(ms, caller)
    if head == "settlements" and method == "GET":
        return _settlements(ms, caller, p, params)
    raise MollieApiError(404, f"The resource {method} /{path} does not exist")


def _profile_me(ms: MollieState, caller: Caller) -> JSON:
    """The profile an API key belongs to (Mollie refuses ``me`` with an OAuth token)."""
    if caller.oauth:
        raise MollieApiError(404, "The profile 'me' is only available with an API key")
    acct = ms.profiles[caller.profiles[0]]
    return {
        "resource": "profile",
        "id": acct.account_id,
        "mode": caller.mode(None),
        "name": acct.name,
        "email": acct.email or None,
        "status": "verified",
        "_links": {"self": {"href": f"{ms.api}/profiles/{acct.account_id}", "type": HAL}},
    }


def _with_embeds(ms: MollieState, payment: JSON, params: JSON) -> JSON:
    out = ms.render(payment)
    embeds = [e.strip() for e in str(params.get("embed") or "").split(",") if e.strip()]
    if embeds:
        out["_embedded"] = {
            e: [ms.render(o) for o in ms.of_payment(payment["id"], e[:-1])]
            for e in embeds
            if e in ("refunds", "chargebacks")
        }
    return out


def _customers(
    ms: MollieState, caller: Caller, method: str, p: list[str], params: JSON, data: JSON
) -> Any:
    r, n = ms.render, len(p)
    if n == 1:
        if method == "POST":
            return r(mr.create_customer(ms, caller, data))
        return ms.page(ms.all(caller, "customer"), params, "customers", "customers")
    customer = ms.get(caller, p[1], "customer")
    if n == 2:
        if method == "GET":
            return r(customer)
        if method == "PATCH":
            return r(mr.update_customer(customer, data))
        if method == "DELETE":
            customer["deleted"] = True
            return _NO_CONTENT
    kind = p[2]
    base = f"customers/{customer['id']}/{kind}"
    if kind == "payments" and n == 3:
        if method == "POST":
            return r(mp.create_payment(ms, caller, data, customer=customer["id"]))
        items = [o for o in ms.all(caller, "payment") if o.get("customerId") == customer["id"]]
        return ms.page(items, params, base, "payments")
    if kind not in ("mandates", "subscriptions"):
        raise MollieApiError(404, f"The resource /{'/'.join(p)} does not exist")
    resource = kind[:-1]
    if n == 3:
        if method == "POST":
            create = mr.create_mandate if kind == "mandates" else mr.create_subscription
            return r(create(ms, customer, data))
        items = [o for o in ms.all(caller, resource) if o["customerId"] == customer["id"]]
        return ms.page(items, params, base, kind)
    obj = ms.get(caller, p[3], resource)
    if obj["customerId"] != customer["id"]:
        raise MollieApiError(404, f"No {resource} exists with token {p[3]}.")
    if n == 5 and kind == "subscriptions" and p[4] == "payments" and method == "GET":
        items = [o for o in ms.all(caller, "payment") if o.get("subscriptionId") == obj["id"]]
        return ms.page(items, params, f"{base}/{obj['id']}/payments", "payments")
    if n == 4 and method == "GET":
        return r(obj)
    if n == 4 and method == "PATCH" and kind == "subscriptions":
        return r(mr.update_subscription(ms, obj, data))
    if n == 4 and method == "DELETE":
        if kind == "mandates":
            mr.revoke_mandate(obj)
            return _NO_CONTENT
        return r(mr.cancel_subscription(obj))
    raise MollieApiError(404, f"The resource /{'/'.join(p)} does not exist")


def _settlements(ms: MollieState, caller: Caller, p: list[str], params: JSON) -> Any:
    if len(p) == 1:
        return ms.page(ms.all(caller, "settlement"), params, "settlements", "settlements")
    if p[1] in ("next", "open"):
        raise MollieApiError(404, "No open settlement in the sandbox: payouts are immediate")
    stl = ms.get(caller, p[1], "settlement")
    if len(p) == 2:
        return ms.render(stl)
    kind = p[2]
    if len(p) == 3 and kind in ("payments", "refunds", "chargebacks", "captures"):
        ids = ms.settlement_items.get(stl["id"], {}).get(kind, [])
        items = [ms.objects[i] for i in reversed(ids)]
        return ms.page(items, params, f"settlements/{stl['id']}/{kind}", kind)
    raise MollieApiError(404, f"The resource /{'/'.join(p)} does not exist")
