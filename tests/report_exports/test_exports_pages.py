"""Report exports in the back-office: the page (finance roles), a request from its form,
the progress while the export is queued (the page refreshes itself), the download."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from typing import Any

import openpyxl
import pytest
from arq.connections import ArqRedis

from donate.jobs import relay
from tests.report_exports.helpers import WINDOW, Exports, payout_with_lines, value
from tests.support.backoffice import close_clients, demo_admin, member_client
from tests.support.jobs import run_worker_burst
from tests.support.platform import Platform

REFRESH = re.compile(r'<meta http-equiv="refresh" content="\d+">')
ROW = re.compile(r'<tr id="export-([0-9a-f-]{36})"[^>]*>(.*?)</tr>', re.S)


@pytest.fixture(autouse=True)
async def _close_admin_clients() -> AsyncIterator[None]:
    yield
    await close_clients()


@pytest.fixture(scope="module")
async def scenario(platform: Platform) -> dict[str, Any]:
    return await payout_with_lines(platform, 0)


def _rows(html: str) -> dict[str, str]:
    return dict(ROW.findall(html))


async def test_request_follow_and_download_from_the_page(
    pf: Platform, redis: ArqRedis, scenario: dict[str, Any]
) -> None:
    finance = await member_client(pf, pf.org, "finance")
    page = f"/admin/{pf.org}/exports"
    r = await finance.get(page)
    assert r.status_code == 200
    assert f'href="{page}"' in r.text and "Exports de rapports" in r.text  # in the menu
    assert "Aucun export pour l'instant." in r.text
    assert 'value="in_transit"' in r.text and 'value="fec"' in r.text
    assert scenario["sent"]["id"] in r.text  # the payout to choose

    r = await finance.submit(page, page, {"kind": "period", "format": "xlsx", **WINDOW,
                                          "sep": ";"})  # fmt: skip
    assert r.status_code == 303
    progress = r.headers["location"]
    export_id = progress.rsplit("/", 1)[1]
    assert progress == f"{page}/{export_id}"
    # Its page: queued, a progress bar, and it reloads itself (which the person can stop).
    r = await finance.get(progress)
    assert REFRESH.search(r.text) and "<progress" in r.text and "En attente" in r.text
    assert "Virements d'une période" in r.text and f'href="{progress}?refresh=off"' in r.text
    stopped = await finance.get(progress, params={"refresh": "off"})
    assert not REFRESH.search(stopped.text) and "<progress" in stopped.text
    # The list (its forms must keep what is typed) shows it without reloading.
    r = await finance.get(page)
    assert not REFRESH.search(r.text)
    row = _rows(r.text)[export_id]
    assert "En attente" in row and "<progress" in row and f'href="{progress}"' in row
    # Not ready: the download sends back to its page, which says why.
    early = await finance.get(f"{page}/{export_id}/download")
    assert early.status_code == 303 and early.headers["location"] == progress
    # Relayed to the worker's long-running job, then built.
    assert await relay.relay_once(pf.runtime.pool, redis, stale_after_s=3600) >= 1
    queued = await redis.queued_jobs(queue_name=relay.QUEUE)
    assert relay.LONG_JOB_NAME in {job.function for job in queued}
    await run_worker_burst(pf.runtime, pf.redis_url)

    r = await finance.get(progress)
    assert not REFRESH.search(r.text) and "<progress" not in r.text and "Prêt" in r.text
    row = _rows((await finance.get(page)).text)[export_id]
    assert "Prêt" in row and "<progress" not in row
    href = f"{page}/{export_id}/download"
    assert f'href="{href}"' in row and f'href="{href}"' in r.text
    file = await finance.get(href)
    assert file.status_code == 200
    assert file.headers["content-disposition"] == (
        f'attachment; filename="versements-{WINDOW["from"]}-{WINDOW["to"]}.xlsx"'
    )
    book = openpyxl.load_workbook(io.BytesIO(file.content), read_only=True)
    assert book.sheetnames == ["Résumé", "Mouvements", "Totaux"]
    book.close()
    # The association's API key downloads the same file.
    assert (await Exports(pf).download(export_id)).content == file.content


async def test_fec_from_the_page_in_english(
    pf: Platform, redis: ArqRedis, scenario: dict[str, Any]
) -> None:
    admin = await demo_admin(pf)
    page = f"/admin/{pf.org}/exports"
    r = await admin.get(page, params={"lang": "en"})
    assert "Report exports" in r.text and "Request the export" in r.text
    r = await admin.submit(page, page, {"kind": "fec", "format": "txt", **WINDOW, "sep": "|"})
    assert r.status_code == 303
    await pf.process(redis)
    export_id = r.headers["location"].rsplit("/", 1)[1]
    assert "(FEC)" in _rows((await admin.get(page)).text)[export_id]
    file = await admin.get(f"{page}/{export_id}/download")
    streamed = await Exports(pf).streamed("exports/fec", {**WINDOW, "sep": "|", "lang": "en"})
    assert file.content == streamed.content


async def test_bad_forms_say_what_to_fix(pf: Platform, scenario: dict[str, Any]) -> None:
    finance = await member_client(pf, pf.org, "finance")
    page = f"/admin/{pf.org}/exports"
    before = await value(pf, "SELECT count(*) FROM report_exports")
    r = await finance.submit(page, page, {"kind": "period", "format": "csv",
                                          "from": "2026-12-31", "to": "2026-01-01"})  # fmt: skip
    assert r.status_code == 400
    assert "ne peut pas précéder la date de début" in r.text
    assert 'id="period-to" name="to" type="date" value="2026-01-01"' in r.text
    assert 'aria-invalid="true" aria-describedby="period-to-error"' in r.text
    r = await finance.submit(page, page, {"kind": "fec", "format": "txt", "from": "2026-01-01"})
    assert r.status_code == 400 and "fec-to-error" in r.text
    assert await value(pf, "SELECT count(*) FROM report_exports") == before


async def test_csrf_roles_and_other_associations(pf: Platform, scenario: dict[str, Any]) -> None:
    page = f"/admin/{pf.org}/exports"
    finance = await member_client(pf, pf.org, "finance")
    before = await value(pf, "SELECT count(*) FROM report_exports")
    r = await finance.post(page, data={"kind": "in_transit", "format": "csv"})
    assert r.status_code == 403  # no CSRF token
    r = await finance.post(page, data={"kind": "in_transit", "format": "csv",
                                       "csrf_token": "forged"})  # fmt: skip
    assert r.status_code == 403
    assert await value(pf, "SELECT count(*) FROM report_exports") == before

    doc = await Exports(pf).request({"kind": "in_transit", "format": "csv"})
    campaigner = await member_client(pf, pf.org, "campaigner")
    assert (await campaigner.get(page)).status_code == 403
    assert (await campaigner.get(f"{page}/{doc['id']}")).status_code == 403
    r = await campaigner.get(f"/admin/{pf.org}")
    assert f'href="{page}"' not in r.text  # not in their menu

    other = pf.seeded["other_org"]["org_slug"]
    stranger = await member_client(pf, other, "finance")
    assert (await stranger.get(page)).status_code == 404
    theirs = f"/admin/{other}/exports"
    assert (await stranger.get(f"{theirs}/{doc['id']}/download")).status_code == 404
    assert (await stranger.get(f"{theirs}/{doc['id']}")).status_code == 404
    assert (await stranger.get(f"{theirs}/not-an-id/download")).status_code == 404
    assert doc["id"] not in (await stranger.get(theirs)).text
