"""Report exports and their file chunks (see migrations/0009_report_exports.sql).

A run owns an export through its ``attempt`` number: every write of a run names it, and
answers False once a newer run has taken the export over, so a presumed-dead worker that
wakes up can neither move the status nor mix its chunks into the newer file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from donate.db import payout_reports as reports_db
from donate.db.types import Conn

FINAL = ("done", "failed", "expired")


@dataclass(frozen=True, slots=True)
class ExportRow:
    id: UUID
    organization_id: UUID
    requested_by: str
    spec: dict[str, Any]
    status: str
    attempt: int
    rows_done: int
    rows_total: int | None
    error: str | None
    file_name: str
    content_type: str
    size_bytes: int | None
    chunks: int | None
    sha256: str | None
    created_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None


_COLUMNS = """id, organization_id, requested_by, spec, status, attempt, rows_done, rows_total,
    error, file_name, content_type, size_bytes, chunks, sha256, created_at, started_at,
    heartbeat_at, finished_at, expires_at"""


def _row(r: asyncpg.Record) -> ExportRow:
    return ExportRow(**dict(r))


async def insert(
    conn: Conn, org_id: UUID, requested_by: str, spec: dict[str, Any], file_name: str,
    content_type: str,
) -> ExportRow:  # fmt: skip
    r = await conn.fetchrow(
        f"""INSERT INTO report_exports
                (organization_id, requested_by, spec, file_name, content_type)
            VALUES ($1, $2, $3, $4, $5) RETURNING {_COLUMNS}""",
        org_id, requested_by, spec, file_name, content_type,
    )  # fmt: skip
    assert r is not None
    return _row(r)


async def get(conn: Conn, org_id: UUID, export_id: UUID) -> ExportRow | None:
    r = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM report_exports WHERE organization_id = $1 AND id = $2",
        org_id, export_id,
    )  # fmt: skip
    return _row(r) if r else None


async def get_any(conn: Conn, export_id: UUID) -> ExportRow | None:
    """For the worker, which gets only the id (the row carries its association)."""
    r = await conn.fetchrow(f"SELECT {_COLUMNS} FROM report_exports WHERE id = $1", export_id)
    return _row(r) if r else None


async def recent(conn: Conn, org_id: UUID, limit: int = 50) -> list[ExportRow]:
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM report_exports WHERE organization_id = $1
            ORDER BY created_at DESC, id DESC LIMIT $2""",
        org_id, limit,
    )  # fmt: skip
    return [_row(r) for r in rows]


async def count_live(conn: Conn, org_id: UUID) -> int:
    n: int = await conn.fetchval(
        "SELECT count(*) FROM report_exports WHERE organization_id = $1 "
        "AND status IN ('queued', 'running')",
        org_id,
    )
    return n


async def claim(conn: Conn, export_id: UUID, lease_s: float) -> ExportRow | None:
    """Start a run: a queued export, or a running one whose run stopped giving signs of
    life for ``lease_s``. None when it is finished, or alive in another run."""
    r = await conn.fetchrow(
        f"""UPDATE report_exports
               SET status = 'running', attempt = attempt + 1, started_at = now(),
                   heartbeat_at = now(), rows_done = 0, rows_total = NULL, error = NULL
             WHERE id = $1 AND (status = 'queued' OR (status = 'running'
                   AND heartbeat_at < now() - make_interval(secs => $2)))
         RETURNING {_COLUMNS}""",
        export_id, float(lease_s),
    )  # fmt: skip
    return _row(r) if r else None


async def delete_chunks(
    conn: Conn, export_id: UUID, *, attempt: int | None = None, keep_attempt: int | None = None
) -> None:
    """The chunks of one run (``attempt``), of every run but one (``keep_attempt``), or all."""
    await conn.execute(
        "DELETE FROM report_export_chunks WHERE export_id = $1 "
        "AND ($2::int IS NULL OR attempt = $2) AND ($3::int IS NULL OR attempt <> $3)",
        export_id, attempt, keep_attempt,
    )  # fmt: skip


async def touch(
    conn: Conn, export_id: UUID, attempt: int, *, rows_done: int | None = None,
    rows_total: int | None = None,
) -> bool:  # fmt: skip
    """A sign of life of the run (with its progress); False when the run lost the export."""
    status = await conn.execute(
        """UPDATE report_exports
              SET heartbeat_at = now(), rows_done = coalesce($3, rows_done),
                  rows_total = coalesce($4, rows_total)
            WHERE id = $1 AND attempt = $2 AND status = 'running'""",
        export_id, attempt, rows_done, rows_total,
    )  # fmt: skip
    return bool(status == "UPDATE 1")


async def add_chunk(
    conn: Conn, org_id: UUID, export_id: UUID, attempt: int, seq: int, data: bytes
) -> None:
    await conn.execute(
        """INSERT INTO report_export_chunks (organization_id, export_id, attempt, seq, data)
           VALUES ($1, $2, $3, $4, $5)""",
        org_id, export_id, attempt, seq, data,
    )  # fmt: skip


async def finish(
    conn: Conn, export_id: UUID, attempt: int, *, rows: int, size: int, chunks: int,
    sha256: str, retention_days: int,
) -> bool:  # fmt: skip
    status = await conn.execute(
        """UPDATE report_exports
              SET status = 'done', rows_done = $3, rows_total = $3, size_bytes = $4,
                  chunks = $5, sha256 = $6, finished_at = now(), heartbeat_at = now(),
                  expires_at = now() + make_interval(days => $7)
            WHERE id = $1 AND attempt = $2 AND status = 'running'""",
        export_id, attempt, rows, size, chunks, sha256, retention_days,
    )  # fmt: skip
    return bool(status == "UPDATE 1")


async def fail(conn: Conn, export_id: UUID, attempt: int | None, error: str) -> bool:
    """Record the failure (of that run, or of whatever run when ``attempt`` is None)."""
    status = await conn.execute(
        """UPDATE report_exports SET status = 'failed', error = $3, finished_at = now()
            WHERE id = $1 AND ($2::int IS NULL OR attempt = $2)
              AND status IN ('queued', 'running')""",
        export_id, attempt, error[:2000],
    )  # fmt: skip
    return bool(status == "UPDATE 1")


async def chunk(conn: Conn, export_id: UUID, attempt: int, seq: int) -> bytes | None:
    data: bytes | None = await conn.fetchval(
        "SELECT data FROM report_export_chunks WHERE export_id = $1 AND attempt = $2 "
        "AND seq = $3",
        export_id, attempt, seq,
    )  # fmt: skip
    return data


async def stalled(conn: Conn, lease_s: float, limit: int = 100) -> list[ExportRow]:
    """Live exports without a sign of life for ``lease_s``: their worker died, or their
    queue entry was lost."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM report_exports
             WHERE status IN ('queued', 'running')
               AND coalesce(heartbeat_at, created_at) < now() - make_interval(secs => $1)
             ORDER BY created_at LIMIT $2""",
        float(lease_s), limit,
    )  # fmt: skip
    return [_row(r) for r in rows]


async def mark_requeued(conn: Conn, export_id: UUID) -> None:
    """A stalled export put back in the queue, its clock started again. A run of it that
    was only slow loses it: its next write names an attempt that is no longer running."""
    await conn.execute(
        "UPDATE report_exports SET status = 'queued', heartbeat_at = now() WHERE id = $1 "
        "AND status IN ('queued', 'running')",
        export_id,
    )


async def expire(conn: Conn) -> list[UUID]:
    """Files past their retention become ``expired``; their chunks go."""
    ids: list[UUID] = [
        r["id"]
        for r in await conn.fetch(
            """UPDATE report_exports SET status = 'expired'
                WHERE status = 'done' AND expires_at <= now() RETURNING id"""
        )
    ]
    if ids:
        await conn.execute("DELETE FROM report_export_chunks WHERE export_id = ANY($1)", ids)
    return ids


async def expire_all(conn: Conn, org_id: UUID) -> list[UUID]:
    """A donor of the association was erased: every kept file of it may name them, so they
    all go now rather than at the end of their retention (they can be requested again)."""
    ids: list[UUID] = [
        r["id"]
        for r in await conn.fetch(
            """UPDATE report_exports SET status = 'expired'
                WHERE organization_id = $1 AND status = 'done' RETURNING id""",
            org_id,
        )
    ]
    if ids:
        await conn.execute("DELETE FROM report_export_chunks WHERE export_id = ANY($1)", ids)
    return ids


async def forget(conn: Conn, older_than_days: int) -> int:
    """Finished exports older than that leave the list (the audit log keeps the request)."""
    status = await conn.execute(
        """DELETE FROM report_exports WHERE status IN ('failed', 'expired')
            AND created_at < now() - make_interval(days => $1)""",
        older_than_days,
    )
    return int(status.split()[-1])


async def count_lines(
    conn: Conn, org_id: UUID, *, payout_id: UUID | None = None,
    payout_start: date | None = None, payout_end: date | None = None,
    line_start: date | None = None, line_end: date | None = None,
) -> int:  # fmt: skip
    """How many movements the report query gives (the same query, counted)."""
    sql, args = reports_db.lines_query(
        org_id, payout_id=payout_id, payout_start=payout_start, payout_end=payout_end,
        line_start=line_start, line_end=line_end,
    )  # fmt: skip
    n: int = await conn.fetchval(f"SELECT count(*) FROM ({sql}) q", *args)
    return n


async def count_in_transit(conn: Conn, org_id: UUID, start: date | None, end: date | None) -> int:
    sql, args = reports_db.in_transit_query(org_id, start=start, end=end)
    n: int = await conn.fetchval(f"SELECT count(*) FROM ({sql}) q", *args)
    return n
