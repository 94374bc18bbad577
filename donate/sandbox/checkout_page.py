"""``/pay/{id}``: the hosted test checkout where a person chooses how the payment ends."""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from donate.domain.money import Money
from donate.sandbox.control import ControlError, settle
from donate.sandbox.ledger import Ledger
from donate.sandbox.util import JSON, parse_mollie_amount

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sandbox checkout · {provider}</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#222}}
.card{{border:1px solid #ddd;border-radius:.5rem;padding:1.5rem}}
.amount{{font-size:2rem;font-weight:600}} .note{{color:#666;font-size:.9rem}}
.msg{{background:#fee;border:1px solid #f99;padding:.5rem;border-radius:.3rem}}
button{{margin:.25rem .25rem 0 0;padding:.6rem 1rem;border-radius:.3rem;border:1px solid #999;
cursor:pointer}} button.paid{{background:#2a7;color:#fff;border-color:#2a7}}
</style></head><body><div class="card">
<p class="note">TEST MODE · {provider} sandbox · {oid}</p>
<p class="amount">{amount}</p><p>{description}</p><p class="note">Status: {status}</p>
{message}{form}
</div></body></html>"""

_FORM = """<form method="post">
<label>Method <select name="method">{options}</select></label><br>
<button class="paid" name="outcome" value="paid">Pay</button>
<button name="outcome" value="pending">Pending (SEPA)</button>
<button name="outcome" value="failed">Fail</button>
<button name="outcome" value="canceled">Cancel</button>
<button name="outcome" value="expired">Expire</button>
</form>"""

_METHODS = ("card", "sepa_debit", "ideal", "bancontact")


def _view(ledger: Ledger, oid: str) -> tuple[str, str, str, bool, JSON] | None:
    """(provider, amount, description, actionable, object) of a checkout."""
    if oid.startswith("cs_"):
        found = ledger.stripe.find(oid)
        if found is None:
            return None
        cs = found[1]
        amount = Money(cs["amount_total"], cs["currency"].upper())
        items = ledger.stripe.session_items.get(oid, [])
        desc = ", ".join(str(i["description"]) for i in items) or "Payment"
        actionable = cs["status"] == "open" or (
            cs["status"] == "complete" and cs["payment_status"] == "unpaid"
        )
        return "Stripe", str(amount), desc, actionable, cs
    obj = ledger.mollie.objects.get(oid)
    if obj is None or obj["resource"] != "payment":
        return None
    amount = parse_mollie_amount(obj["amount"])
    return "Mollie", str(amount), obj["description"], obj["status"] in ("open", "pending"), obj


def _render(ledger: Ledger, oid: str, message: str = "") -> Response:
    view = _view(ledger, oid)
    if view is None:
        return HTMLResponse("<h1>Unknown checkout</h1>", status_code=404)
    provider, amount, desc, actionable, obj = view
    status = obj.get("payment_status", obj["status"]) if provider == "Stripe" else obj["status"]
    options = "".join(f'<option value="{m}">{m}</option>' for m in _METHODS)
    return HTMLResponse(
        _PAGE.format(
            provider=provider,
            oid=escape(oid),
            amount=escape(amount),
            description=escape(desc),
            status=escape(f"{obj['status']} / {status}"),
            message=f'<p class="msg">{escape(message)}</p>' if message else "",
            form=_FORM.format(options=options) if actionable else "",
        )
    )


async def pay_page(request: Request) -> Response:
    return _render(request.app.state.ledger, request.path_params["oid"])


async def pay_submit(request: Request) -> Response:
    ledger: Ledger = request.app.state.ledger
    oid = request.path_params["oid"]
    form = await request.form()
    outcome, method = str(form.get("outcome", "")), str(form.get("method", "") or "") or None
    try:
        settle(ledger, oid, outcome, method)
    except ControlError as exc:
        return _render(ledger, oid, str(exc))
    target = _return_url(ledger, oid, outcome)
    if target is None:
        message = "The payment was declined." if outcome == "failed" else "Nothing to return to."
        return _render(ledger, oid, message)
    return RedirectResponse(target, status_code=303)


def _return_url(ledger: Ledger, oid: str, outcome: str) -> str | None:
    if oid.startswith("cs_"):
        found = ledger.stripe.find(oid)
        assert found is not None
        cs = found[1]
        if outcome in ("paid", "pending"):
            url = cs["success_url"]
        elif outcome == "canceled":
            url = cs["cancel_url"]
        else:
            return None  # declined: Stripe keeps the payer on its page to try again
        return str(url).replace("{CHECKOUT_SESSION_ID}", oid) if url else None
    payment = ledger.mollie.objects[oid]
    if outcome == "canceled" and payment.get("cancelUrl"):
        return str(payment["cancelUrl"])
    return str(payment["redirectUrl"]) if payment.get("redirectUrl") else None
