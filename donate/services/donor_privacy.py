"""Donors' records and their GDPR rights: access/portability (export) and erasure.

Contract:
- Everything is scoped by ``org_id``: another association's donor raises ``NotFound``.
- ``erase`` refuses (``Conflict``) while a payment of the donor is pending or a recurring
  gift is live: erasing would leave a gift no one can be told about. It pseudonymises the
  donor at once; issued receipts keep their snapshot for ``RETENTION`` after the last one
  (LPF L102 E), then ``purge_due`` (a daily cron) removes that too. A donor with no receipt
  is purged at once. Erasing twice is a no-op.
- Every erasure and export is written to the audit log, with no personal data in it.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from donate.db import audit_log as audit_db
from donate.db import donor_privacy as db
from donate.db import report_exports as report_exports_db
from donate.services.campaign_admin import Who
from donate.services.errors import Conflict, NotFound
from donate.services.runtime import Runtime

log = logging.getLogger(__name__)

RETENTION_YEARS = 6
PAGE_SIZE = 50
DONOR_FIELDS = (
    "email", "first_name", "last_name", "company_name", "legal_form", "siren", "address_line1",
    "address_line2", "postal_code", "city", "country", "locale", "created_at", "updated_at",
    "erased_at",
)  # fmt: skip


def retention_end(last_receipt: datetime) -> datetime:
    """Six years after the last receipt (29 February falls back to the 28th)."""
    try:
        return last_receipt.replace(year=last_receipt.year + RETENTION_YEARS)
    except ValueError:
        return last_receipt.replace(year=last_receipt.year + RETENTION_YEARS, day=28)


async def search(
    rt: Runtime, org_id: UUID, q: str, cursor: str = "", limit: int = PAGE_SIZE
) -> tuple[list[dict[str, Any]], str | None]:
    after = None
    if cursor:
        at, _, raw_id = cursor.partition("|")
        try:
            after = (datetime.fromisoformat(at), UUID(raw_id))
        except ValueError:
            after = None
    async with rt.pool.acquire() as conn:
        rows = await db.search(conn, org_id, q.strip()[:200], after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more and rows else None
    return rows, f"{last['created_at'].isoformat()}|{last['id']}" if last else None


async def record(rt: Runtime, org_id: UUID, donor_id: UUID) -> dict[str, Any]:
    """The donor, their gifts, receipts and recurring plans."""
    async with rt.pool.acquire() as conn:
        found = await db.donor(conn, org_id, donor_id)
        if found is None:
            raise NotFound("No such donor.")
        return {
            "donor": found,
            "donations": await db.donations_of(conn, org_id, donor_id),
            "receipts": await db.receipts_of(conn, org_id, donor_id),
            "plans": await db.plans_of(conn, org_id, donor_id),
        }


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, str):
        return value.strip() if len(value) == 3 and value.isupper() else value
    return value


def _clean(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in r.items()} for r in rows]


async def export(rt: Runtime, org_id: UUID, donor_id: UUID, who: Who) -> dict[str, Any]:
    """Everything the association holds about the donor, as plain JSON values."""
    data = await record(rt, org_id, donor_id)
    donor = data["donor"]
    out = {
        "exported_at": datetime.now(UTC).isoformat(),
        "donor": {k: _plain(donor[k]) for k in DONOR_FIELDS},
        "donations": _clean(data["donations"]),
        "receipts": _clean(data["receipts"]),
        "recurring_plans": _clean(data["plans"]),
    }
    async with rt.pool.acquire() as conn:
        await audit_db.record(conn, org_id, who.actor, "donor.exported", "donor", str(donor_id),
                             who.data())  # fmt: skip
    return out


def export_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


def export_csv(data: dict[str, Any]) -> str:
    """The export flattened to ``section,index,field,value`` rows (one sheet, every record)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(["section", "index", "field", "value"])
    for key, value in data["donor"].items():
        writer.writerow(["donor", "", key, _safe(value)])
    for section in ("donations", "receipts", "recurring_plans"):
        for index, row in enumerate(data[section]):
            for key, value in row.items():
                writer.writerow([section, index, key, _safe(value)])
    return "\ufeff" + buf.getvalue()


def _safe(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


async def erase(rt: Runtime, org_id: UUID, donor_id: UUID, who: Who) -> dict[str, Any]:
    """Erase the donor (see the module contract). Returns ``{erased_at, erasure_due_at,
    purged}``. Raises ``NotFound``, ``Conflict``."""
    async with rt.pool.acquire() as conn, conn.transaction():
        donor = await db.lock_donor(conn, org_id, donor_id)
        if donor is None:
            raise NotFound("No such donor.")
        if donor["erased_at"] is not None:
            return {"erased_at": donor["erased_at"], "erasure_due_at": donor["erasure_due_at"],
                    "purged": donor["purged_at"] is not None}  # fmt: skip
        pending, plans = await db.blockers(conn, org_id, donor_id)
        if plans:
            raise Conflict("Cancel the donor's recurring gift first.")
        if pending:
            raise Conflict("A payment of this donor is still pending: try again once it ends.")
        last = await db.last_receipt_at(conn, org_id, donor_id)
        due = retention_end(last) if last is not None else None
        await db.pseudonymise(conn, org_id, donor_id, due_at=due)
        if due is None:
            await db.purge(conn, org_id, donor_id)
        await report_exports_db.expire_all(conn, org_id)
        await audit_db.record(conn, org_id, who.actor, "donor.erased", "donor", str(donor_id),
                             who.data(erasure_due_at=due.isoformat() if due else None))  # fmt: skip
        erased = await db.donor(conn, org_id, donor_id)
    assert erased is not None
    return {"erased_at": erased["erased_at"], "erasure_due_at": due, "purged": due is None}


async def purge_due(rt: Runtime, *, now: datetime | None = None, limit: int = 500) -> int:
    """Complete the erasures whose retention period is over; one transaction per donor.
    Returns how many were purged (the cron runs again the next day for the rest)."""
    now = now or datetime.now(UTC)
    async with rt.pool.acquire() as conn:
        due = await db.due_for_purge(conn, now, limit)
    done = 0
    for org_id, donor_id in due:
        async with rt.pool.acquire() as conn, conn.transaction():
            donor = await db.lock_donor(conn, org_id, donor_id)
            if donor is None or donor["purged_at"] is not None:
                continue
            await db.purge(conn, org_id, donor_id)
            await audit_db.record(conn, org_id, "system", "donor.purged", "donor", str(donor_id),
                                 {})  # fmt: skip
            done += 1
    if done:
        log.info("donor erasure: %s purged after the retention period", done)
    return done
