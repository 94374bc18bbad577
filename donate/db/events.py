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


async def store(conn: Conn, values: dict[str, Any]) -> int | None:
    """Insert the raw event; None when this (provider, event id) was already stored."""
    cols = list(values)
    row_id: int | None = await conn.fetchval(
        f"""INSERT INTO provider_events ({", ".join(cols)})
            VALUES ({", ".join(f"${i}" for i in range(1, len(cols) + 1))})
            ON CONFLICT (provider, event_id) DO NOTHING RETURNING id""",
        *values.values(),
    )
    return row_id


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
