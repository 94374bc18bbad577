"""axe finds no accessibility violation on the recurring, receipts, webhooks and audit pages
(Debian's Chromium driven by Playwright), in French and English, forms with errors included."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from arq.connections import ArqRedis
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser

from tests.backoffice_more.helpers import add_endpoint, monthly_plan, receipt_of
from tests.integrator_webhooks.helpers import Receiver
from tests.support.backoffice import demo_admin, signed_in_page
from tests.support.platform import Platform
from tests.web_pages.browser import chromium


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


async def test_no_violations_for_axe(
    pf: Platform, redis: ArqRedis, browser: Browser, receiver: Receiver
) -> None:
    p = await monthly_plan(pf, redis)
    await receipt_of(pf, redis, "axe-more@example.org")
    admin = await demo_admin(pf)
    endpoint_id, _ = await add_endpoint(admin, pf.org, receiver.url)
    r = await admin.submit(f"/admin/{pf.org}/webhooks/{endpoint_id}",
                           f"/admin/{pf.org}/webhooks/{endpoint_id}/test")  # fmt: skip
    delivery = r.headers["location"].split("?")[0]
    async with signed_in_page(browser, admin) as page:
        axe = Axe()
        base = f"{pf.app_url}/admin/{pf.org}"
        for path in (
            "/recurring", f"/recurring/{p['id']}", f"/recurring/{p['id']}?lang=en",
            "/receipts", "/receipts?lang=en", "/webhooks", f"/webhooks/{endpoint_id}",
            f"/webhooks/{endpoint_id}?lang=en", delivery.removeprefix(f"/admin/{pf.org}"),
            "/audit",
        ):  # fmt: skip
            response = await page.goto(base + path)
            assert response is not None and response.status == 200, path
            results = await axe.run(page)
            assert results.violations_count == 0, (path, results.generate_report())
        # Forms sent back with errors.
        await page.goto(f"{base}/webhooks?lang=fr")
        await page.get_by_label("URL qui reçoit les événements").fill("ftp://example.org/hook")
        await page.get_by_role("button", name="Ajouter le point de réception").click()
        await page.wait_for_selector("#error-summary")
        results = await axe.run(page)
        assert results.violations_count == 0, results.generate_report()
        await page.goto(f"{base}/recurring/{p['id']}?lang=fr")
        await page.get_by_role("button", name="Arrêter le don régulier").click()
        await page.wait_for_selector("#error-summary")
        results = await axe.run(page)
        assert results.violations_count == 0, results.generate_report()
