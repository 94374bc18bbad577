"""Deliveries of integrator webhook events: one row per (event, endpoint), plus replays.

Life of a row: pending → (attempt) → succeeded, or retrying with ``next_attempt_at`` →
… → succeeded or failed once the retry window is over. ``claim`` holds a row for one
attempt; only the holder records the result, so a job run twice sends at most once per
attempt and never after success.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from donate.db.types import Conn


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    id: UUID
    organization_id: UUID
    endpoint_id: UUID
    event_id: str
    event_type: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_response_status: int | None
    last_response_body: str | None
    last_error: str | None
    replay_of: UUID | None
    created_at: datetime
    delivered_at: datetime | None


def _delivery(r: asyncpg.Record) -> DeliveryRow:
    return DeliveryRow(**{f: r[f] for f in DeliveryRow.__dataclass_fields__})


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery held for one attempt, with what is needed to sign and send it."""

    delivery: DeliveryRow
    url: str
    enabled: bool
    secret_encrypted: bytes
    previous_secret_encrypted: bytes | None


async def insert_for_endpoints(
    conn: Conn,
    org_id: UUID,
    endpoint_ids: list[UUID],
    event_id: str,
    event_type: str,
    payload: dict[str, Any],
) -> list[UUID]:
    """One pending delivery per endpoint; an event already delivered to an endpoint is
    skipped (event ids are deterministic). Returns the ids of the rows inserted."""
    rows = await conn.fetch(
        """INSERT INTO webhook_deliveries
               (organization_id, endpoint_id, event_id, event_type, payload, next_attempt_at)
           SELECT $1, e, $3, $4, $5, now() FROM unnest($2::uuid[]) AS e
           ON CONFLICT (endpoint_id, event_id) WHERE replay_of IS NULL DO NOTHING
           RETURNING id""",
        org_id,
        endpoint_ids,
        event_id,
        event_type,
        payload,
    )
    return [r["id"] for r in rows]


async def insert_replay(conn: Conn, original: DeliveryRow) -> UUID:
    """A new delivery of the same event (same id and payload) to the same endpoint."""
    delivery_id: UUID = await conn.fetchval(
        """INSERT INTO webhook_deliveries (organization_id, endpoint_id, event_id, event_type,
               payload, next_attempt_at, replay_of)
           VALUES ($1, $2, $3, $4, $5, now(), $6) RETURNING id""",
        original.organization_id, original.endpoint_id, original.event_id,
        original.event_type, original.payload, original.id,
    )  # fmt: skip
    return delivery_id


async def get(conn: Conn, org_id: UUID, delivery_id: UUID) -> DeliveryRow | None:
    row = await conn.fetchrow(
        "SELECT * FROM webhook_deliveries WHERE organization_id = $1 AND id = $2",
        org_id,
        delivery_id,
    )
    return _delivery(row) if row else None


async def list_for_endpoint(
    conn: Conn,
    org_id: UUID,
    endpoint_id: UUID,
    *,
    status: str | None,
    event_type: str | None,
    before: tuple[datetime, UUID] | None,
    limit: int,
) -> list[DeliveryRow]:
    """Newest first; ``before`` is the (created_at, id) of the last row of the previous page."""
    rows = await conn.fetch(
        """SELECT * FROM webhook_deliveries
           WHERE organization_id = $1 AND endpoint_id = $2
             AND ($3::text IS NULL OR status = $3)
             AND ($4::text IS NULL OR event_type = $4)
             AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6::uuid))
           ORDER BY created_at DESC, id DESC LIMIT $7""",
        org_id, endpoint_id, status, event_type,
        before[0] if before else None, before[1] if before else None, limit,
    )  # fmt: skip
    return [_delivery(r) for r in rows]


async def claim(conn: Conn, delivery_id: UUID, *, hold_s: float) -> Claimed | None:
    """Take the delivery for one attempt if it is due and nobody holds it; count the attempt.
    None when it is done, not due yet, held by another run, or gone."""
    row = await conn.fetchrow(
        """WITH taken AS (
               UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = now(),
                   locked_until = now() + make_interval(secs => $2), updated_at = now()
               WHERE id = $1 AND status IN ('pending', 'retrying')
                 AND (next_attempt_at IS NULL OR next_attempt_at <= now())
                 AND (locked_until IS NULL OR locked_until < now())
               RETURNING *)
           SELECT t.*, e.url, e.enabled, e.secret_encrypted,
                  CASE WHEN e.previous_secret_expires_at > now()
                       THEN e.previous_secret_encrypted END AS previous_secret
           FROM taken t JOIN webhook_endpoints e
             ON e.organization_id = t.organization_id AND e.id = t.endpoint_id""",
        delivery_id,
        float(hold_s),
    )
    if row is None:
        return None
    previous = row["previous_secret"]
    return Claimed(
        delivery=_delivery(row),
        url=row["url"],
        enabled=row["enabled"],
        secret_encrypted=bytes(row["secret_encrypted"]),
        previous_secret_encrypted=bytes(previous) if previous else None,
    )


async def in_flight(conn: Conn, delivery_id: UUID) -> bool:
    """Whether another run holds the delivery for an attempt right now."""
    held: bool = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = $1
               AND status IN ('pending', 'retrying') AND locked_until > now())""",
        delivery_id,
    )
    return held


async def record_success(
    conn: Conn, delivery_id: UUID, attempt: int, status_code: int, body: str
) -> bool:
    """Only the holder of ``attempt`` records it. Returns False if it was not ours."""
    result = await conn.execute(
        """UPDATE webhook_deliveries SET status = 'succeeded', delivered_at = now(),
               last_response_status = $3, last_response_body = $4, last_error = NULL,
               next_attempt_at = NULL, locked_until = NULL, updated_at = now()
           WHERE id = $1 AND attempts = $2 AND status IN ('pending', 'retrying')""",
        delivery_id,
        attempt,
        status_code,
        body[:2000],
    )
    return result.endswith(" 1")


async def record_failure(
    conn: Conn,
    delivery_id: UUID,
    attempt: int,
    *,
    status_code: int | None,
    body: str | None,
    error: str,
    retry_in_s: float | None,
) -> bool:
    """A failed attempt: retry in ``retry_in_s`` seconds, or give up when it is None."""
    result = await conn.execute(
        """UPDATE webhook_deliveries SET
               status = CASE WHEN $6::float8 IS NULL THEN 'failed' ELSE 'retrying' END,
               next_attempt_at = CASE WHEN $6::float8 IS NULL THEN NULL
                                      ELSE now() + make_interval(secs => $6) END,
               last_response_status = $3, last_response_body = $4, last_error = $5,
               locked_until = NULL, updated_at = now()
           WHERE id = $1 AND attempts = $2 AND status IN ('pending', 'retrying')""",
        delivery_id,
        attempt,
        status_code,
        body[:2000] if body is not None else None,
        error[:2000],
        retry_in_s,
    )
    return result.endswith(" 1")
