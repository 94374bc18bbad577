"""In-memory Mollie world: objects per profile, credentials, HAL rendering, webhooks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from donate.domain.money import Money
from donate.sandbox.config import SandboxAccount, SandboxConfig
from donate.sandbox.util import JSON, parse_mollie_amount
from donate.sandbox.webhooks import Outgoing

_DOCS = "https://docs.mollie.com/reference"
HAL = "application/hal+json"


class MollieApiError(Exception):
    """Rendered as Mollie's ``{"status","title","detail","field"}`` body."""

    TITLES: ClassVar[dict[int, str]] = {
        400: "Bad Request",
        401: "Unauthorized Request",
        404: "Not Found",
        409: "Conflict",
        422: "Unprocessable Entity",
        500: "Internal Server Error",
    }

    def __init__(self, status: int, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.field = status, detail, field

    def body(self) -> JSON:
        out: JSON = {
            "status": self.status,
            "title": self.TITLES.get(self.status, "Error"),
            "detail": self.detail,
        }
        if self.field:
            out["field"] = self.field
        out["_links"] = {
            "documentation": {
                "href": "https://docs.mollie.com/overview/handling-errors",
                "type": "text/html",
            }
        }
        return out


def link(href: str, media: str = HAL) -> JSON:
    return {"href": href, "type": media}


def money(obj: JSON, key: str) -> Money:
    return parse_mollie_amount(obj[key])


@dataclass(slots=True)
class Caller:
    """Who is calling: the profiles the credential reaches, and how."""

    token: str
    profiles: list[str]
    oauth: bool

    def mode(self, testmode: Any) -> str:
        if self.oauth:
            return "test" if testmode in (True, "true", "1") else "live"
        return "live" if self.token.startswith("live_") else "test"


@dataclass(slots=True)
class MollieState:
    config: SandboxConfig
    objects: dict[str, JSON] = field(default_factory=dict)  # tr_/re_/chb_/cst_/mdt_/sub_/stl_
    owner: dict[str, str] = field(default_factory=dict)  # id → profile id
    order: list[str] = field(default_factory=list)  # creation order, every kind
    profiles: dict[str, SandboxAccount] = field(default_factory=dict)
    credentials: dict[str, list[str]] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)  # tr_ → its re_/chb_
    settled: dict[str, str] = field(default_factory=dict)  # tr_/re_/chb_ → stl_
    settlement_items: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    outbox: list[Outgoing] = field(default_factory=list)
    sink: Callable[[list[Outgoing]], None] | None = None

    def __post_init__(self) -> None:
        for acct in self.config.accounts:
            if acct.provider == "mollie":
                self.profiles[acct.account_id] = acct
                for cred in acct.credentials:
                    self.credentials.setdefault(cred, []).append(acct.account_id)

    @property
    def api(self) -> str:
        return f"{self.config.base}/mollie/v2"

    def caller(self, authorization: str) -> Caller:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        profiles = self.credentials.get(token) if scheme.lower() == "bearer" else None
        if not profiles:
            raise MollieApiError(401, "Missing authentication, or failed to authenticate")
        return Caller(token, profiles, token.startswith("access_"))

    def add(self, profile: str, obj: JSON) -> JSON:
        self.objects[obj["id"]] = obj
        self.owner[obj["id"]] = profile
        self.order.append(obj["id"])
        if obj.get("paymentId") and obj["resource"] in ("refund", "chargeback"):
            self.children.setdefault(obj["paymentId"], []).append(obj["id"])
        return obj

    def of_payment(self, tr_id: str, resource: str) -> list[JSON]:
        """Refunds or chargebacks of one payment, newest first."""
        objs = [self.objects[i] for i in reversed(self.children.get(tr_id, []))]
        return [o for o in objs if o["resource"] == resource]

    def get(self, caller: Caller | None, oid: str, resource: str) -> JSON:
        obj = self.objects.get(oid)
        if (
            obj is None
            or obj["resource"] != resource
            or (caller is not None and self.owner[oid] not in caller.profiles)
        ):
            raise MollieApiError(404, f"No {resource} exists with token {oid}.")
        return obj

    def all(self, caller: Caller, resource: str) -> list[JSON]:
        """Newest first, as Mollie lists."""
        return [
            self.objects[i]
            for i in reversed(self.order)
            if self.objects[i]["resource"] == resource and self.owner[i] in caller.profiles
        ]

    def notify(self, payment: JSON) -> None:
        """Mollie's webhook: a bare ``id=tr_…``; the receiver must fetch the payment."""
        url = payment.get("webhookUrl")
        if url:
            body = f"id={payment['id']}".encode()
            self.outbox.append(
                Outgoing("mollie", url, body, payment["id"], "payment", self.owner[payment["id"]])
            )

    def flush(self) -> None:
        if self.outbox and self.sink is not None:
            self.sink(self.outbox)
        self.outbox = []

    # --- HAL rendering: links depend on the current state, as on Mollie ---------------------

    def render(self, obj: JSON) -> JSON:
        out = dict(obj)
        kind, oid = obj["resource"], obj["id"]
        links: JSON = {}
        if kind == "payment":
            links["self"] = link(f"{self.api}/payments/{oid}")
            if obj["status"] == "open":
                links["checkout"] = link(f"{self.config.base}/pay/{oid}", "text/html")
            if self.of_payment(oid, "refund"):
                links["refunds"] = link(f"{self.api}/payments/{oid}/refunds")
            if self.of_payment(oid, "chargeback"):
                links["chargebacks"] = link(f"{self.api}/payments/{oid}/chargebacks")
            if obj.get("customerId"):
                links["customer"] = link(f"{self.api}/customers/{obj['customerId']}")
                if obj.get("mandateId"):
                    links["mandate"] = link(
                        f"{self.api}/customers/{obj['customerId']}/mandates/{obj['mandateId']}"
                    )
                if obj.get("subscriptionId"):
                    links["subscription"] = link(
                        f"{self.api}/customers/{obj['customerId']}/subscriptions/"
                        f"{obj['subscriptionId']}"
                    )
            if obj.get("settlementId"):
                links["settlement"] = link(f"{self.api}/settlements/{obj['settlementId']}")
            links["dashboard"] = link(f"{self.config.base}/pay/{oid}", "text/html")
        elif kind in ("refund", "chargeback"):
            path = "refunds" if kind == "refund" else "chargebacks"
            links["self"] = link(f"{self.api}/payments/{obj['paymentId']}/{path}/{oid}")
            links["payment"] = link(f"{self.api}/payments/{obj['paymentId']}")
            if obj.get("settlementId"):
                links["settlement"] = link(f"{self.api}/settlements/{obj['settlementId']}")
        elif kind == "customer":
            links["self"] = link(f"{self.api}/customers/{oid}")
            for sub in ("mandates", "subscriptions", "payments"):
                links[sub] = link(f"{self.api}/customers/{oid}/{sub}")
        elif kind in ("mandate", "subscription"):
            cst = obj["customerId"]
            links["self"] = link(f"{self.api}/customers/{cst}/{kind}s/{oid}")
            links["customer"] = link(f"{self.api}/customers/{cst}")
            if kind == "subscription":
                links["payments"] = link(f"{self.api}/customers/{cst}/subscriptions/{oid}/payments")
        elif kind == "settlement":
            links["self"] = link(f"{self.api}/settlements/{oid}")
            for sub in ("payments", "refunds", "chargebacks", "captures"):
                links[sub] = link(f"{self.api}/settlements/{oid}/{sub}")
        links["documentation"] = link(f"{_DOCS}/{kind}s-api", "text/html")
        out["_links"] = links
        return out

    def page(self, items: list[JSON], params: JSON, path: str, resource: str) -> JSON:
        """Mollie cursor pagination: ``from`` (an id, inclusive) and ``limit`` (≤ 250)."""
        try:
            limit = int(params.get("limit", 50))
        except ValueError:
            raise MollieApiError(400, "Invalid limit", "limit") from None
        if not 1 <= limit <= 250:
            raise MollieApiError(400, "The limit must be between 1 and 250", "limit")
        ids = [o["id"] for o in items]
        start = 0
        if params.get("from"):
            if params["from"] not in ids:
                raise MollieApiError(400, f"Invalid from: {params['from']}", "from")
            start = ids.index(params["from"])
        chunk = items[start : start + limit]
        nxt = items[start + limit] if len(items) > start + limit else None
        prev = items[max(0, start - limit)] if start > 0 else None
        # Other filters (profileId, testmode…) must survive in the next/previous links.
        keep = "".join(f"&{k}={v}" for k, v in params.items() if k not in ("from", "limit"))
        base = f"{self.api}/{path}"
        return {
            "count": len(chunk),
            "_embedded": {resource: [self.render(o) for o in chunk]},
            "_links": {
                "self": link(f"{base}?limit={limit}{keep}"),
                "previous": link(f"{base}?from={prev['id']}&limit={limit}{keep}") if prev else None,
                "next": link(f"{base}?from={nxt['id']}&limit={limit}{keep}") if nxt else None,
                "documentation": link(f"{_DOCS}/{resource}-api", "text/html"),
            },
        }
