"""Fiscal receipts in the back-office: search, e-mail them again, issue a year's annual
receipts on demand.

Contract: scoped by ``org_id`` (another association's receipt raises ``NotFound``). The PDF
and the CGI 222 bis figures are those of ``services.receipts`` (the API's); the annual run
is ``receipts_annual.issue_annual`` (the CLI's): a run that would take too long for a web
request issues the first donors at once and leaves the rest to the worker (a run only
looks at gifts no live receipt covers, so the queued run picks up where this one stopped).
E-mails go through the outbox; nothing is ever sent to an erased donor (``Conflict``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from donate.db import audit_log, outbox
from donate.db import receipt_admin as db
from donate.db import receipts as receipts_db
from donate.db.receipt_admin import ReceiptFilter
from donate.services import receipts_annual
from donate.services.errors import Conflict, InvalidRequest, NotFound
from donate.services.runtime import Runtime

PAGE_SIZE = 50
INLINE_DONORS = 50  # donors an on-demand run handles inside the request (~a PDF each)
STATUSES = ("issued", "canceled")
KINDS = ("single", "annual")
EMAIL_STATUSES = ("pending", "sent", "failed", "skipped")


@dataclass(frozen=True, slots=True)
class AnnualResult:
    year: int
    donors: int
    issued: int
    queued: bool  # donors were left to the worker


def parse_year(raw: str, field: str = "year") -> int:
    text = raw.strip()
    if not (text.isdigit() and len(text) == 4):
        raise InvalidRequest({field: "Enter a year, e.g. 2026."})
    return int(text)


def make_filter(
    *, year: str = "", status: str = "", kind: str = "", email: str = ""
) -> tuple[ReceiptFilter, dict[str, str]]:
    """The filter of the list page's query; unknown values are ignored and reported."""
    errors: dict[str, str] = {}
    fiscal_year = None
    if year:
        try:
            fiscal_year = parse_year(year)
        except InvalidRequest as exc:
            errors.update(exc.errors)
    return (
        ReceiptFilter(
            fiscal_year=fiscal_year,
            status=status if status in STATUSES else None,
            kind=kind if kind in KINDS else None,
            email=email if email in EMAIL_STATUSES else None,
        ),
        errors,
    )


async def search(
    rt: Runtime, org_id: UUID, f: ReceiptFilter, cursor: str = "", *, limit: int = PAGE_SIZE
) -> tuple[list[Any], str | None]:
    before: tuple[int, int] | None = None
    if cursor:
        y, _, s = cursor.partition("-")
        if y.isdigit() and s.isdigit():
            before = (int(y), int(s))
    async with rt.pool.acquire() as conn:
        rows = await db.search(conn, org_id, f, before=before, limit=limit + 1)
    last = rows[limit - 1] if len(rows) > limit else None
    return rows[:limit], (f"{last['year']}-{last['seq']}" if last else None)


async def fiscal_years(rt: Runtime, org_id: UUID) -> list[int]:
    async with rt.pool.acquire() as conn:
        return await db.fiscal_years(conn, org_id)


async def resend(
    rt: Runtime, org_id: UUID, receipt_id: UUID, actor: str, data: dict[str, Any]
) -> str:
    """Queue the receipt's e-mail again (its cancellation notice for a canceled receipt);
    returns the kind of e-mail queued. Raises ``NotFound``, ``Conflict``."""
    async with rt.pool.acquire() as conn, conn.transaction():
        receipt = await receipts_db.get(conn, receipt_id, org_id=org_id)
        if receipt is None:
            raise NotFound("No such receipt.")
        donor = await receipts_db.donor(conn, receipt.donor_id)
        if donor is None or donor["erased_at"] is not None:
            raise Conflict("The donor's data was erased: nothing can be sent to them.")
        kind = "cancellation" if receipt.status == "canceled" else "receipt"
        await db.reset_email(conn, org_id, receipt_id, kind)
        # A fresh dedup key: the first sending's outbox row is kept as it was.
        await outbox.add(
            conn, "receipt.email", {"receipt_id": str(receipt_id), "kind": kind},
            organization_id=org_id,
            dedup_key=f"receipt:{receipt_id}:email:{kind}:resend:{uuid.uuid4()}",
        )  # fmt: skip
        await audit_log.record(
            conn, org_id, actor, "receipt.resend_requested", "receipt", str(receipt_id),
            {**data, "kind": kind, "number": receipt.number},
        )  # fmt: skip
    return kind


async def issue_annual(
    rt: Runtime, org_id: UUID, raw_year: str, actor: str, data: dict[str, Any],
    *, inline_donors: int = INLINE_DONORS,
) -> AnnualResult:  # fmt: skip
    """The annual summary receipts of a year, as ``donate receipts annual`` issues them.
    Raises ``InvalidRequest`` (field ``year``: not a year, or a future one)."""
    year = parse_year(raw_year)
    receipts_annual.check_year(year, datetime.now(UTC))
    run = await receipts_annual.issue_annual(rt, org_id, year, max_donors=inline_donors)
    queued = False
    if run.more:
        queued = await receipts_annual.queue_annual(
            rt, org_id, year, dedup_key=f"receipts:annual:{org_id}:{year}:{uuid.uuid4()}"
        )
    async with rt.pool.acquire() as conn:
        await audit_log.record(
            conn, org_id, actor, "receipts.annual_issued", "receipts", str(year),
            {**data, "donors": run.donors, "issued": run.issued, "queued_rest": queued},
        )  # fmt: skip
    return AnnualResult(year, run.donors, run.issued, queued)
