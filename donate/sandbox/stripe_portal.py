"""``/portal/{bps_id}``: the sandbox's Stripe customer portal, where a donor replaces the
payment method of their subscriptions or cancels one (at the end of the period)."""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from donate.domain.money import Money
from donate.sandbox import stripe_billing_api
from donate.sandbox.ledger import Ledger
from donate.sandbox.stripe_state import StripeApiError, StripeState
from donate.sandbox.util import JSON

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sandbox customer portal · Stripe</title>
<style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem}}
.card{{border:1px solid #ddd;border-radius:.5rem;padding:1rem;margin:.5rem 0}}
.note{{color:#666;font-size:.9rem}} .msg{{background:#fee;padding:.5rem}}</style></head><body>
<p class="note">TEST MODE · Stripe customer portal sandbox · {bid}</p>
{message}<h1>{email}</h1>{subs}
<form method="post" class="card"><h2>Payment method</h2>
<p>Current: {current}</p>
<label>Method <select name="method"><option value="card">card</option>
<option value="sepa_debit">sepa_debit</option></select></label>
<label>Expiry (MM/YYYY) <input name="card_expiry" value="12/2034"></label>
<button name="action" value="update_payment_method">Update payment method</button></form>
{back}</body></html>"""


def _method(st: StripeState, pm_id: str | None) -> str:
    pm = st.objects.get(pm_id or "")
    if pm is None:
        return "none"
    details = pm[pm["type"]]
    if pm["type"] == "card":
        return f"card •••• {details['last4']} exp. {details['exp_month']:02d}/{details['exp_year']}"
    return f"{pm['type']} •••• {details['last4']}"


def _subs(st: StripeState, account: str, customer: str) -> str:
    rows = []
    for sub in st.all(account, "subscription"):
        if sub["customer"] != customer:
            continue
        item = sub["items"]["data"][0]
        price = item["price"]
        amount = Money(price["unit_amount"] * item["quantity"], price["currency"].upper())
        cancel = ""
        if (
            sub["status"] not in ("canceled", "incomplete_expired")
            and not sub["cancel_at_period_end"]
        ):
            cancel = (
                f'<form method="post"><input type="hidden" name="subscription" '
                f'value="{escape(sub["id"])}"><button name="action" value="cancel">'
                "Cancel at period end</button></form>"
            )
        rows.append(
            f'<div class="card"><b>{escape(str(amount))} / {escape(price["recurring"]["interval"])}'
            f"</b> · {escape(sub['status'])}"
            f"{' · ends at period end' if sub['cancel_at_period_end'] else ''}{cancel}</div>"
        )
    return "".join(rows) or "<p>No subscriptions.</p>"


def _session(ledger: Ledger, bid: str) -> tuple[str, JSON] | None:
    found = ledger.stripe.find(bid)
    if found is None or found[1]["object"] != "billing_portal.session":
        return None
    return found


def _render(ledger: Ledger, bid: str, message: str = "") -> Response:
    found = _session(ledger, bid)
    if found is None:
        return HTMLResponse("<h1>Unknown portal session</h1>", status_code=404)
    account, session = found
    st = ledger.stripe
    cus = st.objects[session["customer"]]
    current = cus["invoice_settings"]["default_payment_method"]
    if current is None:
        live = [s for s in st.all(account, "subscription") if s["customer"] == cus["id"]]
        current = live[0]["default_payment_method"] if live else None
    back = session["return_url"]
    return HTMLResponse(
        _PAGE.format(
            bid=escape(bid),
            message=f'<p class="msg">{escape(message)}</p>' if message else "",
            email=escape(str(cus["email"])),
            subs=_subs(st, account, cus["id"]),
            current=escape(_method(st, current)),
            back=f'<p><a href="{escape(back)}">Return</a></p>' if back else "",
        )
    )


async def portal_page(request: Request) -> Response:
    return _render(request.app.state.ledger, request.path_params["bid"])


async def portal_submit(request: Request) -> Response:
    ledger: Ledger = request.app.state.ledger
    bid = request.path_params["bid"]
    found = _session(ledger, bid)
    if found is None:
        return HTMLResponse("<h1>Unknown portal session</h1>", status_code=404)
    account, session = found
    st = ledger.stripe
    form = await request.form()
    action = str(form.get("action", ""))
    try:
        if action == "update_payment_method":
            method = str(form.get("method") or "card")
            if method not in ("card", "sepa_debit"):
                return _render(ledger, bid, "Unknown payment method")
            month, _, year = str(form.get("card_expiry") or "12/2034").partition("/")
            if not (month.isdigit() and year.isdigit() and 1 <= int(month) <= 12):
                return _render(ledger, bid, "Expiry must be MM/YYYY")
            stripe_billing_api.update_payment_method(
                st, account, session["customer"], method, (int(month), int(year))
            )
        elif action == "cancel":
            sub = st.get(account, str(form.get("subscription", "")), "subscription")
            if sub["customer"] != session["customer"]:
                return _render(ledger, bid, "Unknown subscription")
            stripe_billing_api.update_subscription(
                st, account, sub, {"cancel_at_period_end": "true"}
            )
        else:
            return _render(ledger, bid, "Unknown action")
    except StripeApiError as exc:
        return _render(ledger, bid, exc.message)
    finally:
        st.flush()
    if session["return_url"]:
        return RedirectResponse(session["return_url"], status_code=303)
    return _render(ledger, bid, "Saved.")
