"""The donor space: magic-link sign-in (expired, tampered → refused), another donor's plan
(404), pausing, the payment-method page of each provider, and receipts across associations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from arq.connections import ArqRedis

from donate.services import recurring_donor, recurring_mail
from tests.support.platform import Platform, SmtpOutbox

from .helpers import csrf_of, plan, renew_and_process, sign_in, start_plan


async def _auth(pf: Platform, url: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=pf.app_url) as client:
        return await client.get(url.replace(pf.app_url, ""))


async def test_magic_link_expired_or_tampered_is_refused(
    pf: Platform, redis: ArqRedis, smtp_outbox: SmtpOutbox
) -> None:
    email = "link@recurring.example"
    await start_plan(pf, redis, "stripe", 1000, email=email)
    settings = pf.runtime.settings
    now = datetime.now(UTC)
    good = recurring_mail.login_url(settings, email, now + timedelta(minutes=5))
    assert (await _auth(pf, good)).status_code == 303
    assert (await _auth(pf, good)).status_code == 303  # usable until it expires
    expired = recurring_mail.login_url(settings, email, now - timedelta(seconds=1))
    r = await _auth(pf, expired)
    assert r.status_code == 403 and 'data-message="bad-link"' in r.text
    head, _, token = good.rpartition("token=")
    tampered = head + "token=" + token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert (await _auth(pf, tampered)).status_code == 403
    other_person = good.replace("link%40recurring.example", "mallory%40recurring.example")
    assert (await _auth(pf, other_person)).status_code == 403
    # A forged or expired session cookie is no session either.
    async with httpx.AsyncClient(base_url=pf.app_url) as client:
        old = recurring_donor.open_session(settings, email, now - timedelta(hours=3))
        client.cookies.set("donor_session", old.cookie, path="/donor")
        r = await client.get("/donor/space")
        assert r.status_code == 303 and r.headers["location"].startswith("/donor?")
    # Asking for a link: the same answer for a known and an unknown address; no mail to nobody.
    async with httpx.AsyncClient(base_url=pf.app_url) as client:
        known = await client.post("/donor", data={"email": email})
        unknown = await client.post("/donor", data={"email": "nobody@recurring.example"})
    assert known.status_code == unknown.status_code == 200
    assert 'data-message="sent"' in known.text and 'data-message="sent"' in unknown.text
    await pf.process(redis)
    assert smtp_outbox.messages(to="nobody@recurring.example") == []
    [mail] = smtp_outbox.messages(to=email)[-1:]
    assert "espace donateur" in mail["Subject"]


async def test_another_donors_plan_is_not_found(
    pf: Platform, redis: ArqRedis, smtp_outbox: SmtpOutbox
) -> None:
    _, theirs = await start_plan(pf, redis, "stripe", 1000, email="victim@recurring.example")
    await start_plan(pf, redis, "stripe", 1000, email="mallory@recurring.example")
    browser = await sign_in(pf, redis, smtp_outbox, "mallory@recurring.example")
    own_csrf = await csrf_of(browser, "/donor/space")
    path = f"/donor/plans/{theirs['id']}"
    assert (await browser.get(path)).status_code == 404
    for action, data in (("change", {"amount": "1", "frequency": "monthly"}), ("cancel", {}),
                         ("pause", {}), ("payment-method", {})):  # fmt: skip
        r = await browser.post(f"{path}/{action}", data={"csrf": own_csrf, **data})
        assert r.status_code == 404, (action, r.text)
    assert (await plan(pf, theirs["id"]))["status"] == "active"
    assert (await browser.get("/donor/plans/not-a-uuid")).status_code == 404
    space = (await browser.get("/donor/space")).text
    assert theirs["id"] not in space
    # A form without the session's token is refused.
    r = await browser.post(f"/donor/plans/{theirs['id']}/cancel", data={"csrf": "forged"})
    assert r.status_code == 403
    await browser.aclose()


async def test_pause_resume_and_stripe_payment_method_page(
    pf: Platform, redis: ArqRedis, smtp_outbox: SmtpOutbox
) -> None:
    email = "pause@recurring.example"
    _, p = await start_plan(pf, redis, "stripe", 1000, email=email)
    browser = await sign_in(pf, redis, smtp_outbox, email)
    path = f"/donor/plans/{p['id']}"
    r = await browser.post(f"{path}/pause", data={"csrf": await csrf_of(browser, path)})
    assert r.status_code == 200 and 'data-status="paused"' in r.text
    voided = await renew_and_process(pf, redis, p["provider_subscription_id"], "paid")
    assert voided["status"] == "void"
    assert len((await plan(pf, p["id"]))["donations"]) == 1  # nothing collected while paused
    r = await browser.post(f"{path}/resume", data={"csrf": await csrf_of(browser, path)})
    assert r.status_code == 200 and 'data-status="active"' in r.text
    r = await browser.post(f"{path}/payment-method", data={"csrf": await csrf_of(browser, path)})
    assert r.status_code == 303 and r.headers["location"].startswith(f"{pf.sandbox_url}/portal/")
    async with httpx.AsyncClient(follow_redirects=False) as http:
        done = await http.post(
            r.headers["location"],
            data={"action": "update_payment_method", "method": "card", "card_expiry": "09/2031"},
        )
    assert done.status_code == 303 and "updated=1" in done.headers["location"]
    back = await browser.get(done.headers["location"].replace(pf.app_url, ""))
    assert back.status_code == 200 and "09/2031" in back.text
    assert (await plan(pf, p["id"]))["payment_method"]["exp_year"] == 2031
    await browser.aclose()


async def test_mollie_cannot_pause_and_updates_its_mandate(
    pf: Platform, redis: ArqRedis, smtp_outbox: SmtpOutbox
) -> None:
    email = "mollie-space@recurring.example"
    _, p = await start_plan(pf, redis, "mollie", 1000, email=email)
    browser = await sign_in(pf, redis, smtp_outbox, email)
    path = f"/donor/plans/{p['id']}"
    r = await browser.post(f"{path}/pause", data={"csrf": await csrf_of(browser, path)})
    assert r.status_code == 409
    r = await browser.post(f"{path}/payment-method", data={"csrf": await csrf_of(browser, path)})
    assert r.status_code == 303
    tr_id = r.headers["location"].rsplit("/", 1)[1]
    assert tr_id.startswith("tr_")
    await pf.settle(tr_id, "paid", method="sepa_debit")
    await pf.deliver_and_process(redis)
    after = await plan(pf, p["id"])
    assert after["payment_method"]["kind"] == "sepa_debit"
    assert after["payment_method"]["mandate_reference"]
    assert [d["status"] for d in after["donations"]] == ["paid"]  # the 0.01 € is no gift
    await browser.aclose()


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_donor_space_lists_gifts_across_associations(
    pf: Platform, redis: ArqRedis, smtp_outbox: SmtpOutbox, lang: str
) -> None:
    email = f"both-{lang}@recurring.example"
    co, _ = await start_plan(pf, redis, "stripe", 1000, email=email)
    other = pf.seeded["other_org"]["campaigns"][0]["id"]
    once = await pf.checkout("stripe", 3000, campaign_id=other, donor={
        "email": email, "first_name": "Ada", "last_name": "L", "address_line1": "1 rue",
        "postal_code": "75001", "city": "Paris", "country": "FR"})  # fmt: skip
    await pf.settle(once.checkout_id, "paid")
    await pf.deliver_and_process(redis)
    browser = await sign_in(pf, redis, smtp_outbox, email)
    page = await browser.get(f"/donor/space?lang={lang}")
    assert page.status_code == 200
    assert co.donation_id in page.text and once.donation_id in page.text
    assert "Association Voisine" in page.text and "Les Amis du Jardin" in page.text
    assert ("Reçu n°" if lang == "fr" else "Receipt no.") in page.text  # the one-off gift's
    assert ("Dons réguliers" if lang == "fr" else "Recurring gifts") in page.text
    await browser.aclose()
