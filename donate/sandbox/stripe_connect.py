"""Stripe Connect onboarding in the sandbox: ``POST /v1/account_links`` and the hosted
onboarding page it points to (``/connect/onboard/{link}``), where a person finishes (or
leaves) the account's onboarding and is sent back to the platform."""

from __future__ import annotations

import time
from html import escape
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from donate.sandbox.ledger import Ledger
from donate.sandbox.stripe_state import PLATFORM, StripeApiError, StripeState, not_found
from donate.sandbox.util import JSON, new_id, now_ts

LINK_TTL_S = 300  # Stripe's account links expire after a few minutes

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sandbox · Stripe onboarding</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}
button{{padding:.6rem 1rem;margin-right:.5rem}}</style></head><body>
<p>TEST MODE · Stripe sandbox · {account}</p><h1>Activate your Stripe account</h1>
<p>{name}</p>
<form method="post"><button name="outcome" value="complete">Complete onboarding</button>
<button name="outcome" value="leave">Leave for now</button></form></body></html>"""


def start_unfinished(account: JSON) -> JSON:
    """A newly created connected account takes no payment until onboarded."""
    account.update(charges_enabled=False, details_submitted=False, payouts_enabled=False)
    account["requirements"] = {
        "currently_due": ["business_profile.url", "external_account", "tos_acceptance.date"],
        "disabled_reason": "requirements.past_due",
        "eventually_due": [],
        "past_due": [],
    }
    account["tos_acceptance"] = {"date": None}
    return account


def create_account_link(st: StripeState, caller: str, params: JSON) -> JSON:
    if caller != PLATFORM:
        raise StripeApiError(400, "Account links are created by the platform")
    acct = str(params.get("account") or "")
    if not st.is_account(acct) or acct == PLATFORM:
        raise not_found("account", acct, "account")
    for name in ("return_url", "refresh_url"):
        url = str(params.get(name) or "")
        if urlsplit(url).scheme not in ("http", "https"):
            raise StripeApiError(400, f"Invalid URL: {name}", param=name)
    if params.get("type") not in ("account_onboarding", "account_update"):
        raise StripeApiError(400, "Invalid type: must be account_onboarding", param="type")
    link_id = new_id("acctlink_", 20)
    link: JSON = {
        "id": link_id,  # internal: real account links have no id
        "object": "account_link",
        "created": now_ts(),
        "expires_at": now_ts() + LINK_TTL_S,
        "url": f"{st.config.base}/connect/onboard/{link_id}",
        "account": acct,
        "return_url": params["return_url"],
        "refresh_url": params["refresh_url"],
    }
    st.add(PLATFORM, link)
    return {k: link[k] for k in ("object", "created", "expires_at", "url")}


def _link(request: Request) -> tuple[StripeState, JSON | None]:
    ledger: Ledger = request.app.state.ledger
    st = ledger.stripe
    obj = st.objects.get(request.path_params["link"])
    if obj is None or obj["object"] != "account_link":
        return st, None
    return st, obj


async def onboard_page(request: Request) -> Response:
    st, link = _link(request)
    if link is None:
        return HTMLResponse("Unknown onboarding link", status_code=404)
    if link["expires_at"] < time.time():
        return RedirectResponse(link["refresh_url"], status_code=303)
    account = st.objects[link["account"]]
    name = (account.get("business_profile") or {}).get("name") or ""
    return HTMLResponse(_PAGE.format(account=escape(account["id"]), name=escape(name)))


async def onboard_submit(request: Request) -> Response:
    st, link = _link(request)
    if link is None:
        return HTMLResponse("Unknown onboarding link", status_code=404)
    form = await request.form()
    if form.get("outcome") == "complete":
        account = st.objects[link["account"]]
        account.update(charges_enabled=True, details_submitted=True, payouts_enabled=True)
        account["requirements"] = {
            "currently_due": [], "disabled_reason": None, "eventually_due": [], "past_due": [],
        }  # fmt: skip
        account["tos_acceptance"] = {"date": now_ts()}
    link["expires_at"] = 0  # single use, like Stripe's
    return RedirectResponse(link["return_url"], status_code=303)
