"""Report exports through the association API: requested, built by the worker (the real
relay and arq worker in burst mode) with its progress, downloaded; the bytes are the
streaming route's for the same parameters, in every format."""

from __future__ import annotations

import hashlib
import io
import itertools
import uuid
from typing import Any

import openpyxl
import pytest
from arq.connections import ArqRedis

from donate.db import orgs as orgs_db
from donate.db import report_exports as exports_db
from donate.jobs import relay
from donate.jobs.export_tasks import purge_expired_cron
from donate.jobs.tasks import LONG_TASKS
from donate.jobs.worker import build_worker
from donate.security.crypto import new_api_key
from donate.services import report_exports
from tests.report_exports.helpers import WINDOW, Exports, payout_with_lines, table, value
from tests.support.platform import Platform

CHARGES = 2500  # several 64 KiB pieces of the COPY: the progress is seen between them


@pytest.fixture(scope="module")
async def scenario(platform: Platform) -> dict[str, Any]:
    return await payout_with_lines(platform, CHARGES)


@pytest.fixture(scope="module")
async def org_id(platform: Platform) -> uuid.UUID:
    found: uuid.UUID = await value(
        platform, "SELECT id FROM organizations WHERE slug = $1", platform.org
    )
    return found


def _values(content: bytes) -> dict[str, list[tuple[Any, ...]]]:
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    try:
        return {ws.title: list(ws.iter_rows(values_only=True)) for ws in book.worksheets}
    finally:
        book.close()


async def test_csv_export_progress_then_the_streamed_bytes(
    pf: Platform, redis: ArqRedis, scenario: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_exports, "CHUNK_BYTES", 64 * 1024)  # several chunks
    monkeypatch.setattr(report_exports, "PROGRESS_EVERY", 1000)
    api = Exports(pf)
    params = {**WINDOW, "sep": ";"}
    doc = await api.request({"kind": "period", "format": "csv", "params": params})
    assert doc["status"] == "queued" and doc["percent"] is None and doc["download_url"] is None
    assert doc["progress_url"] == f"{api.base}/{doc['id']}"
    assert (await api.download(doc["id"])).status_code == 409  # nothing to download yet

    # What the API shows each time the run writes its progress.
    seen: list[dict[str, Any]] = []
    real_touch = exports_db.touch

    async def touch(*args: Any, **progress: Any) -> bool:
        ok = await real_touch(*args, **progress)
        if progress.get("rows_done") is not None:
            seen.append(await api.get(doc["id"]))
        return ok

    monkeypatch.setattr(exports_db, "touch", touch)
    await pf.process(redis)

    streamed = await api.streamed("reports/period.csv", params)
    lines = len(table(streamed.content, ";"))
    assert lines >= CHARGES + 2
    # Written once PROGRESS_EVERY more rows are done, as the COPY's pieces come (about 64 KiB
    # each): growing to the total, the first write well before the end.
    assert seen and {(s["status"], s["rows_total"]) for s in seen} == {("running", lines)}
    done_rows = [s["rows_done"] for s in seen]
    assert 1000 <= done_rows[0] < lines and done_rows[-1] <= lines
    assert all(later - earlier >= 1000 for earlier, later in itertools.pairwise(done_rows))
    assert [s["percent"] for s in seen] == [min(99, n * 100 // lines) for n in done_rows]
    done = await api.get(doc["id"])
    assert (done["status"], done["rows_done"], done["rows_total"], done["percent"]) == (
        "done", lines, lines, 100,
    )  # fmt: skip
    assert done["download_url"] == f"{api.base}/{doc['id']}/download"
    r = await api.download(doc["id"])
    assert r.status_code == 200
    assert r.content == streamed.content
    assert r.headers["content-type"] == streamed.headers["content-type"]
    assert r.headers["content-length"] == str(len(r.content)) == str(done["size_bytes"])
    assert r.headers["etag"] == f'"{hashlib.sha256(r.content).hexdigest()}"'
    assert done["file_name"] == f"versements-{WINDOW['from']}-{WINDOW['to']}.csv"
    chunks = await value(
        pf, "SELECT count(*) FROM report_export_chunks WHERE export_id = $1::uuid", doc["id"]
    )
    assert chunks == -(-len(r.content) // (64 * 1024)) > 1
    listed = (await pf.app.get(api.base, headers=pf.auth())).json()["items"]
    assert doc["id"] in [i["id"] for i in listed]


async def test_xlsx_export_is_the_streamed_workbook(
    pf: Platform, redis: ArqRedis, scenario: dict[str, Any]
) -> None:
    api = Exports(pf)
    doc = await api.request({"kind": "period", "format": "xlsx", "params": WINDOW})
    await pf.process(redis)
    assert (await api.get(doc["id"]))["status"] == "done"
    r = await api.download(doc["id"])
    assert r.status_code == 200 and r.content.startswith(b"PK")
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    ours = _values(r.content)
    assert list(ours) == ["Résumé", "Mouvements", "Totaux"]
    assert len(ours["Mouvements"]) == CHARGES + 2 + 1  # and the header row
    # xlsxwriter stamps the creation time in the file: the cells are what must be equal.
    assert ours == _values((await api.streamed("reports/period.xlsx", WINDOW)).content)


async def test_pdf_fec_and_in_transit_exports(
    pf: Platform, redis: ArqRedis, scenario: dict[str, Any]
) -> None:
    api = Exports(pf)
    payout = scenario["payout_id"]
    pdf = await api.request({"kind": "payout", "format": "pdf", "params": {"payout_id": payout}})
    fec = await api.request({"kind": "fec", "params": {**WINDOW, "sep": "pipe"}})
    transit = await api.request({"kind": "in_transit", "format": "csv", "params": {"lang": "en"}})
    assert fec["format"] == "txt"
    await pf.process(redis)
    expected = {
        pdf["id"]: await api.streamed(f"payouts/{payout}/report.pdf", {}),
        fec["id"]: await api.streamed("exports/fec", {**WINDOW, "sep": "pipe"}),
        transit["id"]: await api.streamed("reports/in-transit.csv", {"lang": "en"}),
    }
    for export_id, streamed in expected.items():
        r = await api.download(export_id)
        assert r.status_code == 200, r.text
        assert r.content == streamed.content, export_id
        assert r.headers["content-disposition"] == streamed.headers["content-disposition"]
    assert [t["Donation id"] for t in table(expected[transit["id"]].content)] == [
        scenario["in_transit"]
    ]


async def test_a_second_run_does_nothing_and_a_dead_run_is_restarted(
    pf: Platform, redis: ArqRedis, scenario: dict[str, Any], org_id: uuid.UUID
) -> None:
    api = Exports(pf)
    doc = await api.request({"kind": "period", "format": "csv", "params": WINDOW})
    export_id = uuid.UUID(doc["id"])
    assert await report_exports.run(pf.runtime, export_id) == "done"
    assert await report_exports.run(pf.runtime, export_id) == "skipped"
    await pf.process(redis)  # its outbox row: a third run, also nothing
    first = await api.download(doc["id"])
    assert first.content == (await api.streamed("reports/period.csv", WINDOW)).content
    sql = "SELECT array_agg(DISTINCT attempt) FROM report_export_chunks WHERE export_id = $1"
    assert await value(pf, sql, export_id) == [1]

    # A run that died after its first chunk: running, no sign of life for ten minutes.
    other = await api.request({"kind": "period", "format": "csv", "params": WINDOW})
    other_id = uuid.UUID(other["id"])
    async with pf.runtime.pool.acquire() as conn:
        assert await exports_db.claim(conn, other_id, report_exports.LEASE_S) is not None
        await exports_db.add_chunk(conn, org_id, other_id, 1, 0, b"half a file")
        await conn.execute(
            "UPDATE report_exports SET heartbeat_at = now() - interval '10 minutes' "
            "WHERE id = $1", other_id,
        )  # fmt: skip
        await conn.execute(
            "UPDATE outbox SET status = 'done' WHERE dedup_key = $1", f"report_export:{other_id}"
        )
    assert (await api.get(other["id"]))["status"] == "running"
    assert await report_exports.restart_stalled(pf.runtime) == 1
    assert (await api.get(other["id"]))["status"] == "queued"
    await pf.process(redis)
    after = await api.get(other["id"])
    assert after["status"] == "done"
    assert (await api.download(other["id"])).content == first.content
    assert await value(pf, sql, other_id) == [2]


async def test_a_run_that_lost_the_export_leaves_no_bytes(
    pf: Platform, redis: ArqRedis, scenario: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run 1 is slow; presumed dead, the export is taken by run 2 meanwhile. Run 1 stops at
    its next progress write and removes its chunks; the file is run 2's alone."""
    monkeypatch.setattr(report_exports, "CHUNK_BYTES", 64 * 1024)
    monkeypatch.setattr(report_exports, "PROGRESS_EVERY", 1000)
    api = Exports(pf)
    doc = await api.request({"kind": "period", "format": "csv", "params": WINDOW})
    export_id = uuid.UUID(doc["id"])
    real_touch = exports_db.touch

    async def touch(conn: Any, eid: uuid.UUID, attempt: int, **progress: Any) -> bool:
        if progress.get("rows_done") is not None and attempt == 1:
            await conn.execute(
                "UPDATE report_exports SET heartbeat_at = now() - interval '10 minutes' "
                "WHERE id = $1", eid,
            )  # fmt: skip
            assert await exports_db.claim(conn, eid, report_exports.LEASE_S) is not None
        return await real_touch(conn, eid, attempt, **progress)

    monkeypatch.setattr(exports_db, "touch", touch)
    assert await report_exports.run(pf.runtime, export_id) == "superseded"
    chunks = "SELECT count(*) FROM report_export_chunks WHERE export_id = $1"
    assert await value(pf, chunks, export_id) == 0
    assert (await api.get(doc["id"]))["status"] == "running"  # run 2's, alive
    # Run 2 dies too; the cron queues the export again and run 3 builds it.
    async with pf.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE report_exports SET heartbeat_at = now() - interval '10 minutes' "
            "WHERE id = $1", export_id,
        )  # fmt: skip
    assert await report_exports.restart_stalled(pf.runtime) == 1
    await pf.process(redis)
    done = await api.get(doc["id"])
    assert done["status"] == "done"
    assert await value(pf, "SELECT attempt FROM report_exports WHERE id = $1", export_id) == 3
    r = await api.download(doc["id"])
    assert r.content == (await api.streamed("reports/period.csv", WINDOW)).content
    assert await value(pf, chunks, export_id) == done["size_bytes"] // (64 * 1024) + 1


async def test_a_failure_is_recorded_and_an_export_stalled_too_often_fails(
    pf: Platform, redis: ArqRedis, scenario: dict[str, Any], org_id: uuid.UUID
) -> None:
    api = Exports(pf)
    # A spec no request can make (a format that does not exist): the run fails.
    async with pf.runtime.pool.acquire() as conn:
        row = await exports_db.insert(
            conn, org_id, f"user:{uuid.uuid4()}",
            {"kind": "period", "format": "docx", "from": WINDOW["from"], "to": WINDOW["to"]},
            "x.docx", "application/octet-stream",
        )  # fmt: skip
    assert await report_exports.run(pf.runtime, row.id) == "failed"
    failed = await api.get(str(row.id))
    assert failed["status"] == "failed" and "docx" in failed["error"]
    assert failed["download_url"] is None
    assert (await api.download(str(row.id))).status_code == 409
    assert await report_exports.run(pf.runtime, row.id) == "skipped"  # failed stays failed

    doc = await api.request({"kind": "period", "format": "csv", "params": WINDOW})
    async with pf.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE report_exports SET status = 'running', attempt = $2, "
            "heartbeat_at = now() - interval '1 hour' WHERE id = $1::uuid",
            doc["id"], report_exports.MAX_ATTEMPTS,
        )  # fmt: skip
    assert await report_exports.restart_stalled(pf.runtime) == 1
    gave_up = await api.get(doc["id"])
    assert gave_up["status"] == "failed" and "stopped" in gave_up["error"]
    await pf.process(redis)  # its first outbox row: nothing to do any more
    assert (await api.get(doc["id"]))["status"] == "failed"


async def test_expired_files_are_deleted_by_the_daily_cron(
    pf: Platform, redis: ArqRedis, scenario: dict[str, Any]
) -> None:
    api = Exports(pf)
    doc = await api.request({"kind": "in_transit", "format": "csv", "params": {}})
    await pf.process(redis)
    done = await api.get(doc["id"])
    assert done["status"] == "done" and done["expires_at"] is not None
    kept = await purge_expired_cron({"runtime": pf.runtime})
    assert (await api.get(doc["id"]))["status"] == "done"
    async with pf.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE report_exports SET expires_at = now() - interval '1 second' "
            "WHERE id = $1::uuid", doc["id"],
        )  # fmt: skip
    assert await purge_expired_cron({"runtime": pf.runtime}) == kept + 1
    assert (await api.get(doc["id"]))["status"] == "expired"
    assert (await api.download(doc["id"])).status_code == 409
    chunks = "SELECT count(*) FROM report_export_chunks WHERE export_id = $1::uuid"
    assert await value(pf, chunks, doc["id"]) == 0
    # Long after, the export leaves the list.
    async with pf.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE report_exports SET created_at = now() - interval '100 days' "
            "WHERE id = $1::uuid", doc["id"],
        )  # fmt: skip
    await purge_expired_cron({"runtime": pf.runtime})
    r = await pf.app.get(f"{api.base}/{doc['id']}", headers=pf.auth())
    assert r.status_code == 404


async def test_exports_are_for_this_associations_finance_keys(
    pf: Platform, redis: ArqRedis, scenario: dict[str, Any], org_id: uuid.UUID
) -> None:
    api = Exports(pf)
    doc = await api.request({"kind": "in_transit", "format": "csv"})
    await pf.process(redis)
    other = pf.seeded["other_org"]
    theirs = Exports(pf, other["org_slug"], other["api_key"])
    ours_with_their_key = Exports(pf, key=other["api_key"])
    for url in (f"{api.base}/{doc['id']}", f"{api.base}/{doc['id']}/download", api.base):
        r = await pf.app.get(url, headers=pf.auth(other["api_key"]))
        assert r.status_code == 404, url
    for url in (f"{theirs.base}/{doc['id']}", f"{theirs.base}/{doc['id']}/download"):
        r = await pf.app.get(url, headers=pf.auth(other["api_key"]))
        assert r.status_code == 404, url
    listed = (await pf.app.get(theirs.base, headers=pf.auth(other["api_key"]))).json()
    assert listed["items"] == []
    await ours_with_their_key.request({"kind": "in_transit", "format": "csv"}, 404)
    # Their own payout is not ours to export: as unknown.
    await theirs.request(
        {"kind": "payout", "format": "csv", "params": {"payout_id": scenario["payout_id"]}}, 422
    )
    assert (await pf.app.get(f"{api.base}/{doc['id']}")).status_code == 401
    key, prefix, digest = new_api_key()
    async with pf.runtime.pool.acquire() as conn:
        await orgs_db.upsert_api_key(conn, org_id, prefix, digest, "web", role="campaigner")
    campaigner = Exports(pf, key=key)
    await campaigner.request({"kind": "in_transit", "format": "csv"}, 403)
    for url in (api.base, f"{api.base}/{doc['id']}", f"{api.base}/{doc['id']}/download"):
        assert (await pf.app.get(url, headers=pf.auth(key))).status_code == 403, url


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "everything", "format": "csv"}, "kind"),
        ({"kind": "period", "format": "docx", "params": WINDOW}, "format"),
        ({"kind": "fec", "format": "xlsx", "params": WINDOW}, "format"),
        ({"kind": "period", "format": "csv"}, "from"),
        ({"kind": "period", "format": "csv", "params": {"from": "2026-12-31", "to": "2026-01-01"}},
         "to"),
        ({"kind": "period", "format": "csv", "params": {"from": "2020-01-01", "to": "2026-12-31"}},
         "to"),
        ({"kind": "period", "format": "csv", "params": {"month": "2026-13"}}, "month"),
        ({"kind": "period", "format": "csv", "params": {**WINDOW, "sep": "x"}}, "sep"),
        ({"kind": "fec", "params": {**WINDOW, "sep": ","}}, "sep"),
        ({"kind": "fec", "params": {"from": "2026-01-01"}}, "to"),
        ({"kind": "payout", "format": "pdf", "params": {"payout_id": "nope"}}, "payout_id"),
        ({"kind": "payout", "format": "pdf", "params": {"payout_id": str(uuid.uuid4())}},
         "payout_id"),
        ({"kind": "in_transit", "format": "csv", "params": ["from"]}, "params"),
        ({"kind": "in_transit", "format": "csv", "params": {"from": {"y": 1}}}, "from"),
    ],
)  # fmt: skip
async def test_bad_export_requests_are_422(pf: Platform, body: dict[str, Any], field: str) -> None:
    before = await value(pf, "SELECT count(*) FROM report_exports")
    r = await pf.app.post(f"/api/v1/orgs/{pf.org}/reports/exports", json=body, headers=pf.auth())
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in r.json()["errors"]
    assert await value(pf, "SELECT count(*) FROM report_exports") == before


async def test_not_json_unknown_ids_and_too_many_at_once(
    pf: Platform, redis: ArqRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = f"/api/v1/orgs/{pf.org}/reports/exports"
    r = await pf.app.post(base, content=b"kind=period", headers=pf.auth())
    assert r.status_code == 415
    for export_id in ("not-a-uuid", str(uuid.uuid4())):
        assert (await pf.app.get(f"{base}/{export_id}", headers=pf.auth())).status_code == 404
    monkeypatch.setattr(report_exports, "MAX_LIVE", 2)
    api = Exports(pf)
    for _ in range(2):
        await api.request({"kind": "in_transit", "format": "pdf"})
    r = await pf.app.post(base, json={"kind": "in_transit", "format": "pdf"}, headers=pf.auth())
    assert r.status_code == 409, r.text
    await pf.process(redis)
    await api.request({"kind": "in_transit", "format": "pdf"})  # room again
    await pf.process(redis)


async def test_openapi_documents_the_export_routes(pf: Platform) -> None:
    paths = (await pf.app.get("/openapi.json")).json()["paths"]
    base = "/api/v1/orgs/{org}/reports/exports"
    assert set(paths[base]) == {"get", "post"}
    assert "202" in paths[base]["post"]["responses"]
    assert "get" in paths[f"{base}/{{export_id}}"]
    assert "get" in paths[f"{base}/{{export_id}}/download"]


async def test_the_export_crons_are_scheduled(pf: Platform) -> None:
    worker = build_worker(pf.runtime, ArqRedis.from_url(pf.redis_url))
    try:
        names = [job.name for job in worker.cron_jobs]
        functions = set(worker.functions)
    finally:
        await worker.close()
    assert any("restart_stalled" in name for name in names), names
    assert any("purge_expired" in name for name in names), names
    assert relay.LONG_JOB_NAME in functions
    assert report_exports.TASK in LONG_TASKS
