"""The audit log as owners read it: newest first, in pages.

Contract: scoped by ``org_id``; a malformed cursor shows the first page again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from donate.db import audit_log
from donate.services.runtime import Runtime

PAGE_SIZE = 50


def _before(cursor: str) -> tuple[datetime, int] | None:
    at, _, ident = cursor.partition("|")
    try:
        return (datetime.fromisoformat(at), int(ident)) if at and ident else None
    except ValueError:
        return None


def who(row: Any) -> str:
    """A person or key the owner recognises, else the raw actor (``system``…)."""
    if row["user_email"]:
        name = row["user_name"] or ""
        return f"{name} <{row['user_email']}>" if name else str(row["user_email"])
    if row["key_prefix"]:
        return f"API key {row['key_name'] or ''} ({row['key_prefix']}…)".replace("  ", " ")
    return str(row["actor"])


async def page(
    rt: Runtime, org_id: UUID, cursor: str = "", *, limit: int = PAGE_SIZE
) -> tuple[list[dict[str, Any]], str | None]:
    async with rt.pool.acquire() as conn:
        rows = await audit_log.page(conn, org_id, before=_before(cursor), limit=limit + 1)
    items = []
    for r in rows[:limit]:
        data = dict(r["data"] or {})
        ip = data.pop("ip", None)
        items.append({
            "id": r["id"], "at": r["at"], "who": who(r), "actor": r["actor"],
            "action": r["action"], "target_type": r["target_type"],
            "target_id": r["target_id"], "ip": ip, "data": data,
        })  # fmt: skip
    last = rows[limit - 1] if len(rows) > limit else None
    return items, (f"{last['at'].isoformat()}|{last['id']}" if last else None)
