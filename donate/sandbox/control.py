"""``/control/…``: act as the payer, the bank or the provider's dashboard; inspect the ledger."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from donate.sandbox import mollie_payments as mp
from donate.sandbox import (
    mollie_recurring,
    mollie_settlements,
    stripe_billing,
    stripe_checkout,
    stripe_money,
)
from donate.sandbox.faults import Faults, FaultsInvalid
from donate.sandbox.ledger import Ledger
from donate.sandbox.mollie_state import MollieApiError
from donate.sandbox.report import ledger_report
from donate.sandbox.stripe_state import PLATFORM, StripeApiError, StripeState
from donate.sandbox.util import JSON

OUTCOMES = ("paid", "failed", "canceled", "expired", "pending")
METHODS = ("card", "sepa_debit", "ideal", "bancontact")


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _ok(body: Any) -> JSONResponse:
    return JSONResponse(body)


async def _body(request: Request) -> JSON:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ControlError(400, "body must be JSON") from None
    if not isinstance(data, dict):
        raise ControlError(400, "body must be a JSON object")
    return data


def _amount(data: JSON) -> int | None:
    raw = data.get("amount_minor")
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        raise ControlError(400, "amount_minor must be a positive integer")
    return raw


def _expiry(raw: object) -> tuple[int, int] | None:
    """``"MM/YYYY"``: the card's expiry, for a card saved by a recurring checkout."""
    if raw is None:
        return None
    month, _, year = str(raw).partition("/")
    if not (month.isdigit() and year.isdigit() and 1 <= int(month) <= 12 and len(year) == 4):
        raise ControlError(400, "card_expiry must be MM/YYYY")
    return int(month), int(year)


def settle(
    ledger: Ledger, oid: str, outcome: str, method: str | None, card_expiry: object = None
) -> JSON:
    """The payer's choice on the hosted page (shared by /pay and /control/settle)."""
    expiry = _expiry(card_expiry)
    if outcome not in OUTCOMES:
        raise ControlError(400, f"outcome must be one of {', '.join(OUTCOMES)}")
    if method is not None and method not in METHODS:
        raise ControlError(400, f"method must be one of {', '.join(METHODS)}")
    try:
        if oid.startswith("cs_"):
            cs = stripe_checkout.settle(ledger.stripe, oid, outcome, method, expiry)
            return {
                "id": oid,
                "status": cs["status"],
                "payment_status": cs["payment_status"],
                "payment_intent": cs["payment_intent"],
                "subscription": cs["subscription"],
                "invoice": cs.get("invoice"),
            }
        if oid.startswith("tr_"):
            payment = mp.settle(ledger.mollie, oid, outcome, method, expiry)
            return {"id": oid, "status": payment["status"], "method": payment["method"]}
    except KeyError:
        raise ControlError(404, f"unknown checkout {oid}") from None
    except (stripe_checkout.SettleRefused, mp.SettleRefused) as exc:
        raise ControlError(409, str(exc)) from None
    except MollieApiError as exc:
        raise ControlError(404 if exc.status == 404 else 409, exc.detail) from None
    finally:
        ledger.flush()
    raise ControlError(404, f"unknown checkout {oid}: ids start with cs_ or tr_")


def _stripe_charge(ledger: Ledger, ref: str) -> tuple[str, JSON]:
    found = ledger.stripe.find(ref)
    if found is None:
        raise ControlError(404, f"unknown payment {ref}")
    account = found[0]
    return account, stripe_money.charge_of(ledger.stripe, account, ref)


async def settle_route(request: Request) -> Response:
    data = await _body(request)
    return _ok(
        settle(
            request.app.state.ledger,
            str(data.get("id", "")),
            str(data.get("outcome", "")),
            data.get("method"),
            data.get("card_expiry"),
        )
    )


async def refund_external(request: Request) -> Response:
    ledger: Ledger = request.app.state.ledger
    data = await _body(request)
    ref, amount = str(data.get("payment_id", "")), _amount(data)
    try:
        if ref.startswith("tr_"):
            payment = ledger.mollie.get(None, ref, "payment")
            cur = payment["amount"]["currency"]
            body: JSON = {}
            if amount is not None:
                from donate.sandbox.util import mollie_amount

                body["amount"] = mollie_amount(amount, cur)
            refund = mp.create_refund(ledger.mollie, payment, body, external=True)
            return _ok(ledger.mollie.render(refund))
        account, ch = _stripe_charge(ledger, ref)
        st = ledger.stripe
        return _ok(
            stripe_money.create_refund(st, account, ch, amount, reason="requested_by_customer")
        )
    except (StripeApiError, MollieApiError) as exc:
        raise ControlError(exc.status if exc.status != 422 else 409, str(exc)) from None
    finally:
        ledger.flush()


async def chargeback(request: Request) -> Response:
    ledger: Ledger = request.app.state.ledger
    data = await _body(request)
    ref, amount = str(data.get("payment_id", "")), _amount(data)
    try:
        if ref.startswith("tr_"):
            payment = ledger.mollie.get(None, ref, "payment")
            return _ok(ledger.mollie.render(mp.create_chargeback(ledger.mollie, payment, amount)))
        account, ch = _stripe_charge(ledger, ref)
        return _ok(stripe_money.open_dispute(ledger.stripe, account, ch, amount))
    except (StripeApiError, MollieApiError) as exc:
        raise ControlError(409 if exc.status != 404 else 404, str(exc)) from None
    except mp.SettleRefused as exc:
        raise ControlError(409, str(exc)) from None
    finally:
        ledger.flush()


async def dispute_close(request: Request) -> Response:
    ledger: Ledger = request.app.state.ledger
    data = await _body(request)
    did, won = str(data.get("dispute_id", "")), bool(data.get("won", False))
    try:
        if did.startswith("chb_"):
            chb = ledger.mollie.get(None, did, "chargeback")
            return _ok(ledger.mollie.render(mp.reverse_chargeback(ledger.mollie, chb, won)))
        found = ledger.stripe.find(did)
        if found is None or found[1]["object"] != "dispute":
            raise ControlError(404, f"unknown dispute {did}")
        return _ok(stripe_money.close_dispute(ledger.stripe, found[0], found[1], won))
    except (StripeApiError, MollieApiError) as exc:
        raise ControlError(409 if exc.status != 404 else 404, str(exc)) from None
    except mp.SettleRefused as exc:
        raise ControlError(409, str(exc)) from None
    finally:
        ledger.flush()


async def payout(request: Request) -> Response:
    ledger: Ledger = request.app.state.ledger
    data = await _body(request)
    provider, account = data.get("provider"), data.get("account")
    if provider not in ("stripe", "mollie"):
        raise ControlError(400, "provider must be stripe or mollie")
    try:
        if provider == "mollie":
            stls = mollie_settlements.settle(ledger.mollie, account)
            return _ok({"settlements": [ledger.mollie.render(s) for s in stls]})
        st = ledger.stripe
        if account is not None and not st.is_account(str(account)):
            raise ControlError(404, f"unknown account {account}")
        accounts = [str(account)] if account else [PLATFORM, *st.connected_accounts()]
        return _ok({"payouts": [po for a in accounts for po in stripe_money.pay_out(st, a)]})
    finally:
        ledger.flush()


async def bulk_charges(request: Request) -> Response:
    """``{account, count, amount_minor, currency?}``: Stripe charges made outside the platform,
    straight into the balance (no webhooks), for payouts of thousands of lines."""
    st: StripeState = request.app.state.ledger.stripe
    data = await _body(request)
    account, count = str(data.get("account", "")), data.get("count")
    if not st.is_account(account):
        raise ControlError(404, f"unknown account {account}")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 200_000:
        raise ControlError(400, "count must be an integer from 1 to 200000")
    amount = _amount(data) or 1000
    currency = str(data.get("currency", "eur")).lower()
    return _ok({"charges": stripe_money.bulk_charges(st, account, count, amount, currency)})


async def renew(request: Request) -> Response:
    ledger: Ledger = request.app.state.ledger
    data = await _body(request)
    sid, outcome = str(data.get("subscription_id", "")), str(data.get("outcome", "paid"))
    if outcome not in ("paid", "failed", "pending"):
        raise ControlError(400, "outcome must be paid, failed or pending")
    try:
        if sid.startswith("sub_") and sid in ledger.mollie.objects:
            payment = mollie_recurring.renew(ledger.mollie, sid, outcome)
            return _ok(ledger.mollie.render(payment))
        if sid.startswith("sub_") and sid in ledger.stripe.objects:
            return _ok(stripe_billing.renew(ledger.stripe, sid, outcome))
        raise ControlError(404, f"unknown subscription {sid}")
    except (mp.SettleRefused, stripe_checkout.SettleRefused) as exc:
        raise ControlError(409, str(exc)) from None
    except (StripeApiError, MollieApiError) as exc:
        raise ControlError(409, str(exc)) from None
    finally:
        ledger.flush()


async def faults(request: Request) -> Response:
    ledger: Ledger = request.app.state.ledger
    try:
        new = Faults.from_json(await _body(request))
    except FaultsInvalid as exc:
        raise ControlError(400, str(exc)) from None
    ledger.faults.set(new)
    return _ok(new.to_json())


async def ledger_route(request: Request) -> Response:
    return _ok(ledger_report(request.app.state.ledger))


async def webhooks(request: Request) -> Response:
    ledger: Ledger = request.app.state.ledger
    items = [d.to_json() for d in ledger.dispatcher.deliveries]
    provider = request.query_params.get("provider")
    if provider:
        items = [d for d in items if d["provider"] == provider]
    return _ok({"pending": ledger.dispatcher.pending(), "deliveries": items})


async def drain(request: Request) -> Response:
    """Wait until every queued webhook was delivered or gave up (tests, checkers)."""
    data = await _body(request)
    timeout = data.get("timeout_s", 30)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise ControlError(400, "timeout_s must be a number")
    done = await request.app.state.ledger.dispatcher.drain(float(timeout))
    return _ok({"drained": done, "pending": request.app.state.ledger.dispatcher.pending()})


def error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ControlError)
    return JSONResponse({"error": str(exc)}, status_code=exc.status)


routes = [
    Route("/settle", settle_route, methods=["POST"]),
    Route("/refund-external", refund_external, methods=["POST"]),
    Route("/chargeback", chargeback, methods=["POST"]),
    Route("/dispute-close", dispute_close, methods=["POST"]),
    Route("/payout", payout, methods=["POST"]),
    Route("/bulk-charges", bulk_charges, methods=["POST"]),
    Route("/renew", renew, methods=["POST"]),
    Route("/faults", faults, methods=["POST"]),
    Route("/ledger", ledger_route, methods=["GET"]),
    Route("/webhooks", webhooks, methods=["GET"]),
    Route("/drain", drain, methods=["POST"]),
]
