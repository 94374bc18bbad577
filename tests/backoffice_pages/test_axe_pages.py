"""axe finds no accessibility violation on the campaign, dashboard, donation and donor pages
(Debian's Chromium driven by Playwright), in French and English, forms with errors included."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from arq.connections import ArqRedis
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser

from tests.backoffice_pages.helpers import paid_gift, value
from tests.support.backoffice import demo_admin, signed_in_page
from tests.support.platform import Platform
from tests.web_pages.browser import chromium


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


async def test_no_violations_for_axe(pf: Platform, redis: ArqRedis, browser: Browser) -> None:
    donation_id = await paid_gift(pf, redis, "axe@example.org", 3300)
    await pf.process(redis)
    donor_id = await value(pf, "SELECT donor_id FROM donations WHERE id = $1::uuid", donation_id)
    admin = await demo_admin(pf)
    async with signed_in_page(browser, admin) as page:
        axe = Axe()
        base = f"{pf.app_url}/admin/{pf.org}"
        for path in (
            "", "/campaigns", "/campaigns/new", f"/campaigns/{pf.campaign_id}",
            f"/campaigns/{pf.seeded['campaigns'][1]['id']}?lang=en",
            f"/campaigns/{pf.campaign_id}/widget", "/donations", f"/donations/{donation_id}",
            f"/donations/{donation_id}?lang=en", "/donors", f"/donors/{donor_id}", "/payouts",
        ):  # fmt: skip
            response = await page.goto(base + path)
            assert response is not None and response.status == 200, path
            results = await axe.run(page)
            assert results.violations_count == 0, (path, results.generate_report())
        # A form sent back with errors.
        await page.goto(f"{base}/campaigns/new?lang=fr")
        await page.get_by_label("Titre").fill("Axe")
        await page.get_by_label("Don minimum").fill("abc")
        await page.get_by_role("button", name="Créer le brouillon").click()
        await page.wait_for_selector("#error-summary")
        results = await axe.run(page)
        assert results.violations_count == 0, results.generate_report()
