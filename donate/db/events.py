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


async def store_with_job(conn: Conn, values: dict[str, Any], *, task: str) -> bool:
    """Insert the raw event and the outbox row that processes it in ONE statement (atomic
    without BEGIN/COMMIT round trips: the webhook hot path). False for a duplicate."""
    cols = list(values)
    row_id: int | None = await conn.fetchval(
        f"""WITH ev AS (
                INSERT INTO provider_events ({", ".join(cols)})
                VALUES ({", ".join(f"${i}" for i in range(1, len(cols) + 1))})
                ON CONFLICT (provider, event_id) DO NOTHING RETURNING id),
            job AS (
                INSERT INTO outbox (task, payload, dedup_key)
                SELECT ${len(cols) + 1}, jsonb_build_object('event_row_id', id),
                       'provider_event:' || id FROM ev
                RETURNING id)
            SELECT ev.id FROM ev LEFT JOIN job ON true""",
        *values.values(),
        task,
    )
    return row_id is not None


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


async def mark_processed(conn: Conn, row_id: int, organization_id: Any = None) -> None:
    await conn.execute(
        """UPDATE provider_events SET processed_at = now(),
               organization_id = coalesce(organization_id, $2) WHERE id = $1""",
        row_id,
        organization_id,
    )
