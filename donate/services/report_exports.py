"""Report exports: a large report requested now, built by the worker with its progress, kept
a few days for download. The bytes are what the streaming route answers for the same
parameters (``report_files`` makes both).

Contract:
- ``request`` checks the spec like the streaming routes (``InvalidRequest``), writes the
  export and its outbox row in one transaction, and never builds anything itself.
- ``run`` (the worker's job) is safe to run twice or concurrently: a run owns the export
  through its attempt number; a second run finds it done or alive and does nothing; a run
  that lost it (presumed dead, then woke up) removes its own chunks and stops. Any other
  failure is recorded on the export (``failed`` with the error), never raised.
- ``download`` streams the stored chunks in order, one at a time (memory stays flat).
- Everything is scoped by the association; another one's export is ``NotFound``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import anyio
import anyio.to_thread

from donate.db import audit_log, outbox
from donate.db import report_exports as db
from donate.db.report_exports import ExportRow
from donate.reports import fec
from donate.services import payout_reports, report_files
from donate.services.errors import Conflict, InvalidRequest, NotFound
from donate.services.report_specs import TITLES, ExportSpec, parse_export
from donate.services.runtime import Runtime

log = logging.getLogger(__name__)

TASK = "report_export.run"
CHUNK_BYTES = 1 << 20  # one row of report_export_chunks
PROGRESS_EVERY = 10_000  # movements between two progress writes
HEARTBEAT_S = 10.0  # a run's sign of life, also while a writer thread works
LEASE_S = 120.0  # no sign of life that long: the run is presumed dead
MAX_ATTEMPTS = 3  # runs presumed dead before the export is failed
MAX_LIVE = 5  # queued or running exports per association
FORGET_AFTER_DAYS = 90  # failed and expired exports leave the list


class Superseded(Exception):
    """This run lost the export to a newer one."""


async def request(
    rt: Runtime, org_id: UUID, actor: str, kind: Any, fmt: Any, params: Any,
    origin: dict[str, Any] | None = None,
) -> ExportRow:  # fmt: skip
    """Queue an export. Raises ``InvalidRequest`` (bad spec, unknown payout) and
    ``Conflict`` (too many exports of the association in progress)."""
    spec = parse_export(kind, fmt, params)
    name = await _file_name(rt, org_id, spec)
    async with rt.pool.acquire() as conn, conn.transaction():
        # Serialises the requests of one association, so the cap below holds (an advisory
        # lock: a row lock on the organization would stall every insert referencing it).
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1::text))", f"rex:{org_id}")
        if await db.count_live(conn, org_id) >= MAX_LIVE:
            raise Conflict(f"{MAX_LIVE} exports are already in progress; wait for one to end.")
        row = await db.insert(
            conn, org_id, actor, spec.to_json(), name, report_files.CONTENT_TYPES[spec.format]
        )
        await outbox.add(
            conn, TASK, {"export_id": str(row.id)}, organization_id=org_id,
            dedup_key=f"report_export:{row.id}",
        )  # fmt: skip
        await audit_log.record(
            conn, org_id, actor, "report_export.requested", "report_export", str(row.id),
            {**(origin or {}), **spec.to_json()},
        )  # fmt: skip
    return row


async def _file_name(rt: Runtime, org_id: UUID, spec: ExportSpec) -> str:
    """The streaming route's file name for the same report."""
    if spec.kind == "payout":
        assert spec.payout_id is not None
        try:
            payout = await payout_reports.require_payout(rt, org_id, spec.payout_id)
        except NotFound:
            raise InvalidRequest({"payout_id": "no such payout"}, "Invalid request") from None
        return f"versement-{payout.provider_payout_id}.{spec.format}"
    if spec.kind == "period":
        return f"versements-{spec.start}-{spec.end}.{spec.format}"
    if spec.kind == "in_transit":
        return f"en-transit-{datetime.now(UTC).date()}.{spec.format}"
    assert spec.end is not None
    org = await payout_reports.organization(rt, org_id)
    return fec.file_name(org.siren, spec.end)


async def get(rt: Runtime, org_id: UUID, export_id: UUID) -> ExportRow:
    async with rt.pool.acquire() as conn:
        row = await db.get(conn, org_id, export_id)
    if row is None:
        raise NotFound("No such export.")
    return row


async def recent(rt: Runtime, org_id: UUID, limit: int = 50) -> list[ExportRow]:
    async with rt.pool.acquire() as conn:
        return await db.recent(conn, org_id, limit)


def percent(row: ExportRow) -> int | None:
    if row.status == "done":
        return 100
    if not row.rows_total:
        return None
    return min(99, row.rows_done * 100 // row.rows_total)


async def download(
    rt: Runtime, org_id: UUID, export_id: UUID
) -> tuple[ExportRow, AsyncIterator[bytes]]:
    """The finished export and its bytes. Raises ``NotFound``, ``Conflict`` (not done yet,
    failed, or expired)."""
    row = await get(rt, org_id, export_id)
    if row.status != "done" or row.chunks is None:
        raise Conflict(f"The export is {row.status}.")
    return row, _chunks(rt, row)


async def _chunks(rt: Runtime, row: ExportRow) -> AsyncIterator[bytes]:
    assert row.chunks is not None
    for seq in range(row.chunks):
        async with rt.pool.acquire() as conn:
            data = await db.chunk(conn, row.id, row.attempt, seq)
        if data is None:  # expired while being downloaded: cut, never a short file as whole
            raise RuntimeError(f"export {row.id} lost chunk {seq}")
        yield data


class _Sink:
    """Bytes → ~1 MB chunks of one run, with the size and SHA-256 of the whole."""

    def __init__(self, rt: Runtime, row: ExportRow) -> None:
        self.rt, self.row = rt, row
        self.buf = bytearray()
        self.seq = self.size = 0
        self.digest = hashlib.sha256()

    async def write(self, data: bytes) -> None:
        self.digest.update(data)
        self.size += len(data)
        self.buf += data
        while len(self.buf) >= CHUNK_BYTES:
            await self._flush(bytes(self.buf[:CHUNK_BYTES]))
            del self.buf[:CHUNK_BYTES]

    async def close(self) -> None:
        if self.buf:
            await self._flush(bytes(self.buf))
            self.buf.clear()

    async def _flush(self, piece: bytes) -> None:
        row = self.row
        async with self.rt.pool.acquire() as conn:
            await db.add_chunk(conn, row.organization_id, row.id, row.attempt, self.seq, piece)
        self.seq += 1


class _Progress:
    """Counts movements; writes the count every ``PROGRESS_EVERY`` (and checks ownership)."""

    def __init__(self, rt: Runtime, row: ExportRow) -> None:
        self.rt, self.row = rt, row
        self.done = self.written = 0

    async def __call__(self, n: int) -> None:
        self.done += n
        if self.done - self.written >= PROGRESS_EVERY:
            await self.touch(rows_done=self.done)
            self.written = self.done

    async def touch(self, **progress: int) -> None:
        async with self.rt.pool.acquire() as conn:
            if not await db.touch(conn, self.row.id, self.row.attempt, **progress):
                raise Superseded(str(self.row.id))


async def _heartbeat(rt: Runtime, row: ExportRow) -> None:
    while True:
        await anyio.sleep(HEARTBEAT_S)
        with contextlib.suppress(Exception):  # a missed beat is fine; the lease is long
            async with rt.pool.acquire() as conn:
                await db.touch(conn, row.id, row.attempt)


async def run(rt: Runtime, export_id: UUID) -> str:
    """Build the export's file (the worker's job): "done", "failed", "superseded" or
    "skipped" (finished already, or alive in another run)."""
    async with rt.pool.acquire() as conn, conn.transaction():
        row = await db.claim(conn, export_id, LEASE_S)
        if row is None:
            return "skipped"
        await db.delete_chunks(conn, export_id)  # what an earlier run left: start clean
    sink, progress = _Sink(rt, row), _Progress(rt, row)
    # Cancelled (arq's timeout, the worker stopping): no more beats, so after the lease the
    # stalled-exports cron queues it again.
    beat = asyncio.create_task(_heartbeat(rt, row))
    try:
        try:
            await _build(rt, row, sink, progress)
            await sink.close()
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        keep = rt.settings.report_export_retention_days
        async with rt.pool.acquire() as conn, conn.transaction():
            finished = await db.finish(
                conn, row.id, row.attempt, rows=progress.done, size=sink.size, chunks=sink.seq,
                sha256=sink.digest.hexdigest(), retention_days=keep,
            )  # fmt: skip
            if not finished:
                raise Superseded(str(row.id))
            await db.delete_chunks(conn, row.id, keep_attempt=row.attempt)
    except Superseded:
        log.warning("report export %s: run %s superseded, stopping", row.id, row.attempt)
        await _drop(rt, row)
        return "superseded"
    except Exception as exc:
        log.exception("report export %s failed", row.id)
        async with rt.pool.acquire() as conn, conn.transaction():
            await db.fail(conn, row.id, row.attempt, f"{type(exc).__name__}: {exc}")
            await db.delete_chunks(conn, row.id, attempt=row.attempt)
        return "failed"
    log.info("report export %s: %s rows, %s bytes", row.id, progress.done, sink.size)
    return "done"


async def _drop(rt: Runtime, row: ExportRow) -> None:
    async with rt.pool.acquire() as conn:
        await db.delete_chunks(conn, row.id, attempt=row.attempt)


async def _build(rt: Runtime, row: ExportRow, sink: _Sink, progress: _Progress) -> None:
    spec = ExportSpec.from_json(row.spec)
    org_id = row.organization_id
    if spec.kind == "fec":
        assert spec.start is not None and spec.end is not None
        total = await report_files.count_fec(rt, org_id, spec.start, spec.end)
        await progress.touch(rows_total=total)
        org = await payout_reports.organization(rt, org_id)
        pieces = report_files.fec_chunks(
            rt, org_id, org, spec.start, spec.end, spec.sep, spec.lang, progress
        )
        async with contextlib.aclosing(pieces):
            async for piece in pieces:
                await sink.write(piece)
        return
    which = report_files.Spec(TITLES[spec.kind], spec.payout_id, spec.start, spec.end)
    async with payout_reports.session(rt, org_id) as s:
        total = await which.count(s)
    await progress.touch(rows_total=total)
    if spec.format == "csv":
        pieces = report_files.csv_chunks(rt, org_id, which, spec.sep, spec.lang, progress)
        async with contextlib.aclosing(pieces):
            async for piece in pieces:
                await sink.write(piece)
    elif spec.format == "xlsx":
        await _xlsx(rt, org_id, which, spec.lang, sink, progress)
    elif spec.format == "pdf":
        await sink.write(await report_files.pdf_bytes(rt, org_id, which, spec.lang, progress))
    else:
        raise ValueError(f"unknown export format {spec.format!r}")


async def _xlsx(
    rt: Runtime, org_id: UUID, which: report_files.Spec, lang: str, sink: _Sink,
    progress: _Progress,
) -> None:  # fmt: skip
    # The worker's own disk is only scratch space: the file goes to PostgreSQL at once.
    fd, path = tempfile.mkstemp(prefix="donate-export-", suffix=".xlsx")
    os.close(fd)
    try:
        await report_files.write_xlsx(rt, org_id, which, path, lang, progress)
        with open(path, "rb") as f:  # noqa: ASYNC230  (reads go through a thread below)
            while piece := await anyio.to_thread.run_sync(f.read, CHUNK_BYTES):
                await sink.write(piece)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


async def restart_stalled(rt: Runtime) -> int:
    """Cron: exports without a sign of life (worker killed, queue entry lost) are queued
    again, or failed after ``MAX_ATTEMPTS`` runs; returns how many were touched."""
    async with rt.pool.acquire() as conn, conn.transaction():
        rows = await db.stalled(conn, LEASE_S)
        for row in rows:
            if row.attempt >= MAX_ATTEMPTS:
                await db.fail(conn, row.id, None, f"the export stopped {row.attempt} times")
                await db.delete_chunks(conn, row.id)
                continue
            await db.mark_requeued(conn, row.id)
            await outbox.add(
                conn, TASK, {"export_id": str(row.id)}, organization_id=row.organization_id,
                dedup_key=f"report_export:{row.id}:restart:{uuid.uuid4()}",
            )  # fmt: skip
    if rows:
        log.warning("report exports: %s stalled, queued again or failed", len(rows))
    return len(rows)


async def purge_expired(rt: Runtime) -> int:
    """Daily cron: files past their retention are deleted (the export shows ``expired``);
    old finished exports leave the list. Returns how many files were deleted."""
    async with rt.pool.acquire() as conn, conn.transaction():
        expired = await db.expire(conn)
        await db.forget(conn, FORGET_AFTER_DAYS)
    return len(expired)
