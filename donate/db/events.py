"""Raw provider webhooks: stored first, deduplicated by (provider, event id)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from donate.db.types import Conn


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    provider: str
    event_id: str
    event_type: str
    account: str | None
    object_id: str
    payment_ref: str | None
    donation_ref: str | None
    processed: bool


@dataclass(frozen=True, slots=True)
class NewEvent:
    provider: str
    event_id: str
    event_type: str
    account: str | None
    object_id: str
    payment_ref: str | None
    donation_ref: str | None
    payload: bytes


async def store_with_jobs(conn: Conn, events: list[NewEvent], *, task: str) -> set[tuple[str, str]]:
    """Insert raw events and the outbox rows that process them in ONE statement (atomic,
    no BEGIN/COMMIT round trips, one commit for a whole batch: the webhook hot path).
    Returns the (provider, event id) pairs that were new; duplicates are skipped."""
    rows = await conn.fetch(
        """WITH ev AS (
               INSERT INTO provider_events (provider, event_id, event_type, account, object_id,
                                            payment_ref, donation_ref, payload)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                    $6::text[], $7::text[], $8::bytea[])
               ON CONFLICT (provider, event_id) DO NOTHING
               RETURNING id, provider, event_id),
           job AS (
               -- Data-modifying CTEs always run to completion, read or not.
               INSERT INTO outbox (task, payload, dedup_key)
               SELECT $9, jsonb_build_object('event_row_id', id), 'provider_event:' || id FROM ev)
           SELECT provider, event_id FROM ev""",
        [e.provider for e in events],
        [e.event_id for e in events],
        [e.event_type for e in events],
        [e.account for e in events],
        [e.object_id for e in events],
        [e.payment_ref for e in events],
        [e.donation_ref for e in events],
        [e.payload for e in events],
        task,
    )
    return {(r["provider"], r["event_id"]) for r in rows}


async def get(conn: Conn, row_id: int) -> StoredEvent | None:
    r = await conn.fetchrow("SELECT * FROM provider_events WHERE id = $1", row_id)
    if r is None:
        return None
    return StoredEvent(
        r["id"],
        r["provider"],
        r["event_id"],
        r["event_type"],
        r["account"],
        r["object_id"],
        r["payment_ref"],
        r["donation_ref"],
        r["processed_at"] is not None,
    )


async def payload(conn: Conn, row_id: int) -> bytes | None:
    """The event's body as received (``{}`` for an event caught up by reconciliation)."""
    found: bytes | None = await conn.fetchval(
        "SELECT payload FROM provider_events WHERE id = $1", row_id
    )
    return found


async def mark_processed(conn: Conn, row_id: int, organization_id: Any = None) -> float | None:
    """Mark the event processed; returns the seconds since it arrived (None: no such row)."""
    delay: float | None = await conn.fetchval(
        """UPDATE provider_events SET processed_at = now(),
               organization_id = coalesce(organization_id, $2) WHERE id = $1
           RETURNING extract(epoch FROM processed_at - received_at)::float8""",
        row_id,
        organization_id,
    )
    return delay
