"""axe finds no accessibility violation on the exports page (Debian's Chromium driven by
Playwright): with an export queued (its progress bar) and one ready, in French and English,
and with a form sent back with errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq.connections import ArqRedis
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser

from tests.report_exports.helpers import WINDOW, Exports, payout_with_lines
from tests.support.backoffice import close_clients, demo_admin, signed_in_page
from tests.support.platform import Platform
from tests.web_pages.browser import chromium


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


@pytest.fixture(scope="module")
async def scenario(platform: Platform) -> dict[str, Any]:
    return await payout_with_lines(platform, 0)


async def test_no_violations_for_axe(
    pf: Platform, redis: ArqRedis, browser: Browser, scenario: dict[str, Any]
) -> None:
    api = Exports(pf)
    ready = await api.request({"kind": "period", "format": "xlsx", "params": WINDOW})
    await pf.process(redis)
    queued = await api.request({"kind": "in_transit", "format": "csv"})  # stays queued
    admin = await demo_admin(pf)
    async with signed_in_page(browser, admin) as page:
        axe = Axe()
        base = f"{pf.app_url}/admin/{pf.org}/exports"
        for path in ("?lang=fr", "?lang=en", f"/{ready['id']}", f"/{ready['id']}?lang=en",
                     f"/{queued['id']}?refresh=off&lang=fr"):  # fmt: skip
            response = await page.goto(base + path)
            assert response is not None and response.status == 200
            results = await axe.run(page)
            assert results.violations_count == 0, (path, results.generate_report())
        assert await page.locator("progress").count() == 1
        # Reloading itself is what the progress page is for: the person can stop it (a link
        # at its top, WCAG 2.2.1), which axe cannot see; every other rule applies.
        await page.goto(f"{base}/{queued['id']}")
        assert await page.locator('meta[http-equiv="refresh"]').count() == 1
        results = await axe.run(page, options={"rules": {"meta-refresh": {"enabled": False}}})
        assert results.violations_count == 0, results.generate_report()
        await page.goto(f"{base}?lang=fr")
        await page.fill("#period-from", "2026-12-31")
        await page.fill("#period-to", "2026-01-01")
        await (
            page.locator("form", has=page.locator("#period-from"))
            .get_by_role("button", name="Demander l'export")
            .click()
        )
        await page.wait_for_selector("#error-summary")
        results = await axe.run(page)
        assert results.violations_count == 0, results.generate_report()
        await close_clients()
