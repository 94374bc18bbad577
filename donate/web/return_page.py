"""Where the hosted checkout sends the donor back: re-fetch, converge, say how it went."""

from __future__ import annotations

import html
import logging
from uuid import UUID

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from donate.db import donations as donations_db
from donate.i18n import negotiate_locale
from donate.providers.base import ProviderError
from donate.services.payments import refresh_donation
from donate.web.problems import Problem
from donate.web.state import app_state

log = logging.getLogger(__name__)

_MESSAGES = {
    "fr": {
        "paid": "Merci ! Votre don a bien été reçu.",
        "pending": "Merci ! Votre paiement est en cours de traitement.",
        "canceled": "Le paiement a été annulé. Aucun montant n'a été prélevé.",
        "failed": "Le paiement a échoué. Aucun montant n'a été prélevé.",
        "other": "Votre don est enregistré.",
    },
    "en": {
        "paid": "Thank you! Your gift was received.",
        "pending": "Thank you! Your payment is being processed.",
        "canceled": "The payment was canceled. Nothing was charged.",
        "failed": "The payment failed. Nothing was charged.",
        "other": "Your gift is recorded.",
    },
}


async def donation_return(request: Request) -> HTMLResponse:
    try:
        donation_id = UUID(request.path_params["donation_id"])
    except ValueError:
        raise Problem(404, "not-found", "Not found", "No such donation.") from None
    rt = app_state(request).runtime
    try:
        await refresh_donation(rt, donation_id, source="return")
    except (ProviderError, LookupError) as exc:
        # The webhook or the cron will converge it; the donor still gets an answer.
        log.warning("return page: refresh of %s failed: %s", donation_id, exc)
    async with rt.pool.acquire() as conn:
        donation = await donations_db.get_donation(conn, donation_id)
        # The association's own words (campaign editor), once the gift is received.
        thanks = (
            await conn.fetchval(
                "SELECT thank_you_message FROM campaigns WHERE organization_id = $1 AND id = $2",
                donation.organization_id,
                donation.campaign_id,
            )
            if donation is not None and donation.status == "paid"
            else None
        )
    if donation is None:
        raise Problem(404, "not-found", "Not found", "No such donation.")
    paragraphs = "".join(
        f'<p class="thanks">{html.escape(part.strip())}</p>'
        for part in (thanks or "").split("\n\n")
        if part.strip()
    )
    lang = negotiate_locale(request.headers.get("accept-language"), supported=("fr", "en"))
    messages = _MESSAGES[lang]
    text = messages.get(donation.status, messages["other"])
    # While the result is unknown (SEPA, a slow webhook) the page polls, without JavaScript:
    # each reload re-fetches the payment and converges the donation.
    refresh = '<meta http-equiv="refresh" content="3">' if donation.status == "pending" else ""
    return HTMLResponse(
        f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">{refresh}
<title>{html.escape(text)}</title>
</head><body><main><h1>{html.escape(text)}</h1>{paragraphs}
<p data-status="{html.escape(donation.status)}"></p></main></body></html>""",
        headers={"Cache-Control": "no-store"},
    )


routes = [Route("/donations/{donation_id}/return", donation_return, methods=["GET"])]
