"""The back-office's main path in a real browser (Debian's Chromium driven by Playwright),
against the whole platform seeded like the demo:

an admin logs in, registers an integrator endpoint, creates and publishes a campaign; a donor
gives through its public page and the sandbox's hosted checkout; finance logs in, refunds
part of the gift and sees the receipt canceled and re-issued, then downloads the report of
the payout that carried it; the integrator's receiver got a signed ``donation.paid`` that
verifies with the snippet of docs/webhooks.md. axe finds no violation on the pages visited.

``DONATE_SCREENSHOTS=1`` also refreshes docs/admin-*.png (shown in the README).
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from arq.connections import ArqRedis
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.integrator_webhooks.helpers import Receiver, python_verifier
from tests.support.platform import Platform
from tests.support.server import serve
from tests.web_pages.browser import chromium

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCREENSHOTS = os.environ.get("DONATE_SCREENSHOTS") == "1"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    async with serve(rec.app()) as base:
        rec.url = f"{base}/hook"
        yield rec


async def _no_axe_violations(page: Page, axe: Axe) -> None:
    results = await axe.run(page)
    assert results.violations_count == 0, (page.url, results.generate_report())


async def _screenshot(page: Page, name: str, *, top: str | None = None, height: int = 760) -> None:
    """docs/admin-{name}.png: the window, scrolled down to ``top`` (a selector) if given."""
    if SCREENSHOTS:
        await page.set_viewport_size({"width": 1100, "height": height})
        if top is not None:
            await page.locator(top).first.evaluate(
                "e => window.scrollTo(0, e.getBoundingClientRect().top + window.scrollY - 16)"
            )
        await page.screenshot(path=DOCS / f"admin-{name}.png")
        await page.evaluate("window.scrollTo(0, 0)")


async def _context(browser: Browser) -> BrowserContext:
    # French, the product's default; failing steps fail in seconds rather than 30.
    ctx = await browser.new_context(locale="fr-FR", accept_downloads=True)
    ctx.set_default_timeout(10_000)
    return ctx


async def _log_in(ctx: BrowserContext, pf: Platform, email: str, password: str) -> Page:
    page = await ctx.new_page()
    await page.goto(f"{pf.app_url}/admin/login")
    await page.locator("#email").fill(email)
    await page.locator("#password").fill(password)
    await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_url(re.compile(re.escape(f"{pf.app_url}/admin/{pf.org}") + r"/?$"))
    return page


async def test_admin_campaign_gift_refund_payout_report_and_signed_webhook(
    pf: Platform, redis: ArqRedis, browser: Browser, receiver: Receiver
) -> None:
    axe = Axe()
    base = f"{pf.app_url}/admin/{pf.org}"
    slug = f"ruches-{uuid.uuid4().hex[:6]}"
    email = f"donor-{slug}@example.org"

    # An admin of the demo association logs in.
    admin_ctx = await _context(browser)
    admin = await _log_in(admin_ctx, pf, pf.seeded["admin_email"], pf.seeded["admin_password"])
    await _no_axe_violations(admin, axe)

    # The integrator's endpoint, registered from the back-office: its secret is shown once.
    await admin.goto(f"{base}/webhooks")
    await admin.locator("#url").fill(receiver.url)
    await admin.get_by_label(re.compile(r"^donation\.paid")).check()
    await admin.locator("#enabled").check()
    await admin.get_by_role("button", name="Ajouter le point de réception").click()
    secret = await admin.locator("#secret").input_value()
    assert secret.startswith("whsec_")
    await _no_axe_violations(admin, axe)

    # A campaign: created as a draft through the editor, then published.
    await admin.goto(f"{base}/campaigns/new")
    await _no_axe_violations(admin, axe)
    await admin.locator("#title").fill("Des ruches pour l'école")
    await admin.locator("#slug").fill(slug)
    await admin.locator("#goal").fill("3000")
    await admin.locator("#min_amount").fill("5")
    await admin.locator("#max_amount").fill("2000")
    await admin.locator("#suggested_amounts").fill("20 50 100")
    await admin.locator("#frequency_once").check()
    await admin.locator("#receipt_eligible").check()
    await admin.locator("#story_md").fill("Nous **installons** trois ruches dans la cour.")
    await admin.locator("#thank_you_message").fill("Merci, les abeilles aussi !")
    await admin.get_by_role("button", name="Créer le brouillon").click()
    await expect(admin.get_by_role("status")).to_contain_text("brouillon")
    editor_url = admin.url.split("?")[0]
    await admin.get_by_role("button", name="Publier").click()
    await expect(admin.get_by_role("status")).to_contain_text("publiée")
    await _no_axe_violations(admin, axe)
    await _screenshot(admin, "campaign-editor")

    # A donor gives through the public page and the sandbox's hosted checkout.
    donor_ctx = await _context(browser)
    donor = await donor_ctx.new_page()
    await donor.goto(f"{pf.app_url}/c/{pf.org}/{slug}")
    await expect(donor.locator("h1")).to_contain_text("Des ruches pour l'école")
    await _no_axe_violations(donor, axe)
    await donor.locator("#f-amount_other").fill("60")
    await donor.get_by_label("E-mail").fill(email)
    await donor.get_by_label("Prénom").fill("Rosalind")
    await donor.get_by_label("Nom", exact=True).fill("Franklin")
    await donor.get_by_label("Je souhaite un reçu fiscal").check()
    await donor.get_by_label("Adresse", exact=True).fill("3 rue des Abeilles")
    await donor.get_by_label("Code postal").fill("69001")
    await donor.get_by_label("Ville").fill("Lyon")
    await donor.get_by_role("button", name="Donner").click()
    await donor.wait_for_url(re.compile(re.escape(pf.sandbox_url) + "/pay/"))
    await donor.get_by_role("button", name="Pay").click()
    await donor.wait_for_url(re.compile(re.escape(pf.app_url) + "/donations/.+/return"))
    await expect(donor.locator("h1")).to_contain_text("Merci")
    await donor_ctx.close()
    await pf.deliver_and_process(redis)  # webhooks, receipt, integrator delivery
    async with pf.runtime.pool.acquire() as conn:
        donation_id = str(
            await conn.fetchval(
                "SELECT d.id FROM donations d JOIN donors p ON p.id = d.donor_id "
                "WHERE p.email = $1 AND d.status = 'paid'",
                email,
            )
        )
    await admin.goto(base)
    await _no_axe_violations(admin, axe)
    await _screenshot(admin, "dashboard")
    await admin.goto(editor_url)
    await expect(admin.locator("main")).to_contain_text("60,00")  # raised

    # Finance logs in, finds the gift and refunds part of it.
    finance_ctx = await _context(browser)
    finance = await _log_in(
        finance_ctx, pf, pf.seeded["finance_email"], pf.seeded["finance_password"]
    )
    await finance.goto(f"{base}/donations?q={email}")
    await finance.locator(f'a[href$="/donations/{donation_id}"]').first.click()
    await expect(finance.locator("h1")).to_contain_text("60,00")
    await _no_axe_violations(finance, axe)
    await finance.locator("#amount").fill("15")
    await finance.get_by_role("button", name="Rembourser").click()
    await expect(finance.get_by_role("status")).to_be_visible()
    await pf.deliver_and_process(redis)  # refund webhook, receipt canceled and re-issued
    await finance.reload()
    receipts = finance.locator("table").first.locator("tbody tr")
    await expect(receipts).to_have_count(2)
    await expect(receipts.nth(0)).to_contain_text("Annulé")
    await expect(receipts.nth(0)).to_contain_text("60,00")
    await expect(receipts.nth(1)).to_contain_text("Émis")
    await expect(receipts.nth(1)).to_contain_text("45,00")
    await _no_axe_violations(finance, axe)
    await _screenshot(finance, "donation", top="main h1", height=1100)

    # The provider pays out; the payout is synced; finance downloads its report.
    r = await pf.sandbox.post("/control/payout", json={"provider": "stripe"})
    assert r.status_code == 200, r.text
    await pf.deliver_and_process(redis)
    await finance.goto(f"{base}/payouts")
    await _no_axe_violations(finance, axe)
    await _screenshot(finance, "payouts")
    async with finance.expect_download() as info:
        await finance.locator('a[href$="/report.csv"]').first.click()
    download = await info.value
    path = await download.path()
    assert path is not None
    text = await asyncio.to_thread(Path(path).read_text, encoding="utf-8-sig")
    lines = list(csv.reader(io.StringIO(text), delimiter=";" if ";" in text[:200] else ","))
    assert any(donation_id in cell for line in lines for cell in line), text[:1000]

    # The integrator got donation.paid, signed: it verifies with the documented snippet.
    verify = python_verifier()
    paid = [h for h in receiver.of_type("donation.paid") if h.event["data"]["id"] == donation_id]
    assert len(paid) == 1, [h.event for h in receiver.hits]
    assert verify(paid[0].body, paid[0].headers["donate-signature"], secret)
    assert not verify(paid[0].body + b" ", paid[0].headers["donate-signature"], secret)
    assert not verify(paid[0].body, paid[0].headers["donate-signature"], secret + "x")
    await admin_ctx.close()
    await finance_ctx.close()
