"""Stripe list pagination, list filters and ``expand[]``."""

from __future__ import annotations

from typing import Any

from donate.sandbox.stripe_objects import empty_list
from donate.sandbox.stripe_state import PLATFORM, StripeApiError, StripeState
from donate.sandbox.util import JSON, snapshot

_MAX_EXPAND_DEPTH = 4

# List filters that match one field of the object exactly.
_FIELD_FILTERS: dict[str, tuple[str, ...]] = {
    "checkout.session": ("payment_intent", "status", "customer", "subscription"),
    "payment_intent": ("customer",),
    "charge": ("payment_intent", "customer"),
    "refund": ("payment_intent", "charge"),
    "dispute": ("payment_intent", "charge"),
    "balance_transaction": ("type", "source", "currency"),
    "payout": ("status",),
    "customer": ("email",),
    "subscription": ("customer",),
    "invoice": ("customer", "status"),
    "invoice_payment": ("invoice", "status"),
    "payment_method": ("customer", "type"),
    "application_fee": ("charge",),
    "event": (),
}


def _int_param(params: JSON, key: str, default: int) -> int:
    raw = params.get(key, default)
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise StripeApiError(400, f"Invalid integer: {raw}", param=key) from None


def _created_ok(obj: JSON, flt: Any) -> bool:
    created = int(obj.get("created", 0))
    if isinstance(flt, str):
        return created == int(flt)
    if not isinstance(flt, dict):
        return True
    checks = {
        "gt": created.__gt__,
        "gte": created.__ge__,
        "lt": created.__lt__,
        "lte": created.__le__,
    }
    return all(checks[k](int(v)) for k, v in flt.items() if k in checks)


def filtered(st: StripeState, account: str, kind: str, params: JSON) -> list[JSON]:
    if kind == "balance_transaction" and params.get("payout"):
        po = str(params["payout"])
        st.get(account, po, "payout")
        items = [st.objects[i] for i in reversed(st.payout_txns.get(po, []))]
    else:
        items = st.all(account, kind)
    for name in _FIELD_FILTERS.get(kind, ()):
        if params.get(name):
            items = [o for o in items if o.get(name) == params[name]]
    if kind in _SPECIAL:
        items = _SPECIAL[kind](items, params)
    if "created" in params:
        items = [o for o in items if _created_ok(o, params["created"])]
    if kind == "event":
        items = _event_filters(items, params)
    return items


def _subscription_filters(items: list[JSON], params: JSON) -> list[JSON]:
    """Without ``status`` Stripe lists every subscription but the canceled ones."""
    status = params.get("status")
    if status == "all":
        return items
    if status:
        return [o for o in items if o["status"] == status]
    return [o for o in items if o["status"] not in ("canceled", "incomplete_expired")]


def _invoice_filters(items: list[JSON], params: JSON) -> list[JSON]:
    sub = params.get("subscription")
    if not sub:
        return items
    return [
        o
        for o in items
        if (o["parent"] or {}).get("subscription_details", {}).get("subscription") == sub
    ]


def _invoice_payment_filters(items: list[JSON], params: JSON) -> list[JSON]:
    payment = params.get("payment")
    if not isinstance(payment, dict):
        return items
    kind = payment.get("type", "payment_intent")
    ref = payment.get(kind)
    return [o for o in items if o["payment"]["type"] == kind and o["payment"].get(kind) == ref]


_SPECIAL = {
    "subscription": _subscription_filters,
    "invoice": _invoice_filters,
    "invoice_payment": _invoice_payment_filters,
}


def _event_filters(items: list[JSON], params: JSON) -> list[JSON]:
    types: list[str] = []
    if params.get("type"):
        types.append(str(params["type"]))
    raw = params.get("types")
    if isinstance(raw, list):
        types += [str(t) for t in raw]
    if types:

        def matches(etype: str) -> bool:
            return any(etype == t or (t.endswith(".*") and etype.startswith(t[:-1])) for t in types)

        items = [e for e in items if matches(e["type"])]
    ds = params.get("delivery_success")
    if ds in ("true", "false"):
        want_pending = ds == "false"
        items = [e for e in items if (e["pending_webhooks"] > 0) == want_pending]
    return items


def list_response(items: list[JSON], params: JSON, url: str) -> JSON:
    limit = _int_param(params, "limit", 10)
    if not 1 <= limit <= 100:
        raise StripeApiError(400, "Limit must be between 1 and 100", param="limit")
    ids = [o["id"] for o in items]
    after, before = params.get("starting_after"), params.get("ending_before")
    if after:
        if after not in ids:
            raise StripeApiError(404, f"No such object: '{after}'", param="starting_after")
        items = items[ids.index(after) + 1 :]
        page = items[:limit]
        more = len(items) > limit
    elif before:
        if before not in ids:
            raise StripeApiError(404, f"No such object: '{before}'", param="ending_before")
        items = items[: ids.index(before)]
        page = items[-limit:]
        more = len(items) > limit
    else:
        page, more = items[:limit], len(items) > limit
    return {"object": "list", "data": list(page), "has_more": more, "url": url}


def expand(st: StripeState, account: str, obj: JSON, paths: list[str]) -> JSON:
    if not paths:
        return obj
    out = snapshot(obj)
    for path in paths:
        parts = path.split(".")
        if len(parts) > _MAX_EXPAND_DEPTH + (1 if out.get("object") == "list" else 0):
            raise StripeApiError(
                400,
                f"You cannot expand more than {_MAX_EXPAND_DEPTH} levels "
                f"of a property. Property: {path}",
                param="expand",
            )
        _expand(st, account, out, parts, path)
    return out


def _expand(st: StripeState, account: str, node: JSON, parts: list[str], full: str) -> None:
    if not parts:
        return
    if node.get("object") == "list" and parts[0] == "data":
        for item in node["data"]:
            _expand(st, account, item, parts[1:], full)
        return
    key = parts[0]
    if key not in node:
        virtual = _virtual(st, account, node, key)
        if virtual is None:
            raise StripeApiError(400, f"This property cannot be expanded ({full}).", param="expand")
        node[key] = virtual
    value = node[key]
    if isinstance(value, str):
        target = st.objects.get(value)
        if target is None or st.owner.get(value) not in (account, PLATFORM):
            raise StripeApiError(400, f"This property cannot be expanded ({full}).", param="expand")
        node[key] = value = snapshot(target)
    if value is None:
        return
    if not isinstance(value, dict):
        raise StripeApiError(400, f"This property cannot be expanded ({full}).", param="expand")
    _expand(st, account, value, parts[1:], full)


def _virtual(st: StripeState, account: str, node: JSON, key: str) -> JSON | None:
    """Includable lists that Stripe leaves out of the default body."""
    kind, oid = node.get("object"), node.get("id", "")
    if kind == "charge" and key == "refunds":
        refunds = [r for r in st.all(account, "refund") if r["charge"] == oid]
        return empty_list(f"/v1/charges/{oid}/refunds", refunds)
    if kind == "invoice" and key == "payments":
        found = [p for p in st.all(account, "invoice_payment") if p["invoice"] == oid]
        return empty_list(f"/v1/invoices/{oid}/payments", found)
    if kind == "checkout.session" and key == "line_items":
        items = st.session_items.get(oid, [])
        return empty_list(f"/v1/checkout/sessions/{oid}/line_items", items)
    return None
