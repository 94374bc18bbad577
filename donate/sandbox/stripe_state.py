"""In-memory Stripe world: objects per account, events, and the webhooks they produce."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from donate.sandbox import stripe_records as so
from donate.sandbox.config import SandboxConfig
from donate.sandbox.util import JSON, snapshot
from donate.sandbox.webhooks import Outgoing

PLATFORM = "acct_sandboxPlatform"  # the platform's own account (no Stripe-Account header)


class StripeApiError(Exception):
    """Rendered as Stripe's ``{"error": {...}}`` body with ``status``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = (
            status,
            message,
            type,
            code,
            param,
        )

    def body(self) -> JSON:
        err: JSON = {"type": self.type, "message": self.message}
        if self.code:
            err["code"] = self.code
            err["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            err["param"] = self.param
        return {"error": err}


def not_found(kind: str, oid: str, param: str = "id") -> StripeApiError:
    return StripeApiError(404, f"No such {kind}: '{oid}'", code="resource_missing", param=param)


@dataclass(slots=True)
class RequestInfo:
    request_id: str | None = None
    idempotency_key: str | None = None

    def to_json(self) -> JSON:
        return {"id": self.request_id, "idempotency_key": self.idempotency_key}


@dataclass(slots=True)
class StripeState:
    config: SandboxConfig
    objects: dict[str, JSON] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)
    index: defaultdict[tuple[str, str], list[str]] = field(
        default_factory=lambda: defaultdict(list)
    )
    session_pi_data: dict[str, JSON] = field(default_factory=dict)  # cs → payment_intent_data
    session_items: dict[str, list[JSON]] = field(default_factory=dict)
    session_sub_data: dict[str, JSON] = field(default_factory=dict)  # cs → subscription_data
    invoice_pi: dict[str, str] = field(default_factory=dict)  # in → its payment intent
    mandates: dict[str, str] = field(default_factory=dict)  # pm (sepa_debit) → mandate
    invoice_count: int = 0
    paid_out: dict[str, str] = field(default_factory=dict)  # txn → po that paid it out
    payout_txns: dict[str, list[str]] = field(default_factory=dict)
    request: RequestInfo = field(default_factory=RequestInfo)
    outbox: list[Outgoing] = field(default_factory=list)
    sink: Callable[[list[Outgoing]], None] | None = None

    def __post_init__(self) -> None:
        self.add(PLATFORM, so.account(PLATFORM, "Donate platform", "", "FR", "EUR"))
        for acct in self.config.accounts:
            if acct.provider == "stripe":
                obj = so.account(
                    acct.account_id, acct.name, acct.email, acct.country, acct.currency
                )
                self.add(PLATFORM, obj)

    # --- storage -------------------------------------------------------------------------------

    def add(self, account: str, obj: JSON) -> JSON:
        oid = obj["id"]
        self.objects[oid] = obj
        self.owner[oid] = account
        self.index[(account, obj["object"])].append(oid)
        return obj

    def get(self, account: str, oid: str, kind: str) -> JSON:
        obj = self.objects.get(oid)
        if obj is None or obj["object"] != kind or self.owner.get(oid) != account:
            raise not_found(kind, oid)
        return obj

    def find(self, oid: str) -> tuple[str, JSON] | None:
        """Any object by id, whatever its account (control endpoints)."""
        obj = self.objects.get(oid)
        return None if obj is None else (self.owner[oid], obj)

    def all(self, account: str, kind: str) -> list[JSON]:
        """Newest first, as Stripe lists."""
        return [self.objects[i] for i in reversed(self.index[(account, kind)])]

    def is_account(self, account: str) -> bool:
        obj = self.objects.get(account)
        return obj is not None and obj["object"] == "account"

    def connected_accounts(self) -> list[str]:
        return [a["id"] for a in self.all(PLATFORM, "account") if a["id"] != PLATFORM]

    # --- events --------------------------------------------------------------------------------

    def emit(self, account: str, etype: str, obj: JSON, previous: JSON | None = None) -> JSON:
        """Record an event (a snapshot of ``obj`` now); ``previous``: the changed attributes'
        old values, Stripe's ``data.previous_attributes`` of ``*.updated`` events."""
        url = self.config.stripe_webhook_url
        evt = so.event(
            etype,
            snapshot(obj),
            None if account == PLATFORM else account,
            self.request.to_json(),
            pending=1 if url else 0,
        )
        if previous is not None:
            evt["data"]["previous_attributes"] = snapshot(previous)
        self.add(account, evt)
        if url:
            body = json.dumps(evt, indent=2).encode()
            self.outbox.append(Outgoing("stripe", url, body, evt["id"], etype, evt.get("account")))
        return evt

    def flush(self) -> None:
        if self.outbox and self.sink is not None:
            self.sink(self.outbox)
        self.outbox = []

    def mark_delivered(self, event_id: str) -> None:
        evt = self.objects.get(event_id)
        if evt is not None:
            evt["pending_webhooks"] = 0
