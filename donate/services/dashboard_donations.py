"""Donations in the back-office: search, detail, CSV export, refund, resend the receipt.

Contract: scoped by ``org_id`` (another association's donation raises ``NotFound``); the
refund goes through ``services.refunds`` (the same path as the API) and the receipt
e-mail through the outbox and ``services.receipt_mail`` (which never sends to an erased
donor). The export is read in keyset pages, never one long transaction.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from donate.db import audit_log as audit_db
from donate.db import dashboard_donations as db
from donate.db import outbox
from donate.db.dashboard_donations import DonationFilter
from donate.domain.errors import InvalidAmount
from donate.domain.money import Money
from donate.i18n import parse_money
from donate.services import refunds
from donate.services.campaign_admin import Who
from donate.services.errors import Conflict, InvalidRequest, NotFound
from donate.services.runtime import Runtime

ORG_TZ = ZoneInfo("Europe/Paris")
STATUSES = ("pending", "paid", "failed", "canceled", "refunded", "partially_refunded", "disputed")
PAGE_SIZE = 50
EXPORT_BATCH = 500
CSV_COLUMNS = (
    "id", "created_at", "status", "campaign", "amount", "currency", "tip", "frequency",
    "provider", "donor_name", "donor_email",
)  # fmt: skip


def make_filter(
    *, q: str = "", status: str = "", campaign: str = "", start: str = "", end: str = ""
) -> tuple[DonationFilter, dict[str, str]]:
    """Query-string values → a filter and the fields that were invalid (then ignored)."""
    errors: dict[str, str] = {}
    if status and status not in STATUSES:
        errors["status"] = "Unknown status."
    campaign_id = None
    if campaign:
        try:
            campaign_id = UUID(campaign)
        except ValueError:
            errors["campaign"] = "Unknown campaign."

    def day(text: str, name: str) -> date | None:
        if not text:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            errors[name] = "Enter a date as YYYY-MM-DD."
            return None

    first, last = day(start, "from"), day(end, "to")
    return DonationFilter(
        q=q.strip()[:200],
        status=status if status in STATUSES else None,
        campaign_id=campaign_id,
        start=datetime.combine(first, time.min, ORG_TZ) if first else None,
        end=datetime.combine(last + timedelta(days=1), time.min, ORG_TZ) if last else None,
    ), errors


def encode_cursor(row: dict[str, Any]) -> str:
    return f"{row['created_at'].isoformat()}|{row['id']}"


def decode_cursor(text: str) -> tuple[datetime, UUID] | None:
    try:
        at, _, raw_id = text.partition("|")
        return datetime.fromisoformat(at), UUID(raw_id)
    except ValueError:
        return None


async def search(
    rt: Runtime, org_id: UUID, f: DonationFilter, cursor: str = "", limit: int = PAGE_SIZE
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of donations, newest first, and the cursor of the next page (or None)."""
    after = decode_cursor(cursor) if cursor else None
    async with rt.pool.acquire() as conn:
        rows = await db.search(conn, org_id, f, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1]) if more and rows else None


async def campaign_choices(rt: Runtime, org_id: UUID) -> list[dict[str, Any]]:
    async with rt.pool.acquire() as conn:
        return await db.campaign_choices(conn, org_id)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet would run a cell starting like a formula (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_line(values: list[object]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow([_cell(v) for v in values])
    return buf.getvalue()


async def export_csv(rt: Runtime, org_id: UUID, f: DonationFilter) -> AsyncIterator[str]:
    """The filtered donations as CSV text, one batch at a time (UTF-8 BOM for spreadsheets)."""
    yield "\ufeff" + _csv_line(list(CSV_COLUMNS))
    after: tuple[datetime, UUID] | None = None
    while True:
        async with rt.pool.acquire() as conn:
            rows = await db.search(conn, org_id, f, after=after, limit=EXPORT_BATCH)
        if not rows:
            return
        yield "".join(_csv_line(_export_row(r)) for r in rows)
        if len(rows) < EXPORT_BATCH:
            return
        after = (rows[-1]["created_at"], rows[-1]["id"])


def _export_row(r: dict[str, Any]) -> list[object]:
    currency = str(r["currency"]).strip()
    return [
        r["id"],
        r["created_at"].astimezone(ORG_TZ).isoformat(timespec="seconds"),
        r["status"],
        r["campaign_title"],
        Money(r["amount_minor"], currency).to_decimal_text(),
        currency,
        Money(r["tip_minor"], currency).to_decimal_text() if r["tip_minor"] else "0",
        r["frequency"],
        r["provider"],
        r["donor_name"],
        r["donor_email"],
    ]


async def detail(rt: Runtime, org_id: UUID, donation_id: UUID) -> dict[str, Any]:
    async with rt.pool.acquire() as conn:
        found = await db.detail(conn, org_id, donation_id)
    if found is None:
        raise NotFound("No such donation.")
    return found


async def refund(
    rt: Runtime, org_id: UUID, donation_id: UUID, amount_text: str, lang: str, who: Who
) -> refunds.RefundResult:
    """Refund all (empty amount) or part of a gift. Raises ``NotFound``, ``Conflict``,
    ``InvalidRequest`` (``amount``)."""
    amount_minor = None
    if amount_text.strip():
        current = await detail(rt, org_id, donation_id)
        try:
            amount_minor = parse_money(amount_text, str(current["currency"]).strip(), lang).minor
        except InvalidAmount:
            raise InvalidRequest({"amount": "Enter an amount such as 25 or 12,50."}) from None
        if amount_minor <= 0:
            raise InvalidRequest({"amount": "Enter an amount such as 25 or 12,50."})
    try:
        return await refunds.request_refund(rt, org_id, donation_id, amount_minor, actor=who.actor)
    except InvalidRequest as exc:
        raise InvalidRequest({"amount": "The amount is more than what is left to refund."}) \
            from exc  # fmt: skip


async def resend_receipt(rt: Runtime, org_id: UUID, donation_id: UUID, who: Who) -> UUID:
    """Queue the gift's live receipt to be e-mailed again. Raises ``NotFound``, ``Conflict``."""
    async with rt.pool.acquire() as conn, conn.transaction():
        found = await db.detail(conn, org_id, donation_id)
        if found is None:
            raise NotFound("No such donation.")
        if found["erased_at"] is not None:
            raise Conflict("The donor's data was erased: nothing can be sent to them.")
        receipt_id = await db.live_receipt(conn, org_id, donation_id)
        if receipt_id is None:
            raise Conflict("This gift has no receipt to send.")
        await db.reset_receipt_email(conn, org_id, receipt_id)
        await outbox.add(
            conn, "receipt.email", {"receipt_id": str(receipt_id), "kind": "receipt"},
            organization_id=org_id,
            dedup_key=f"receipt:{receipt_id}:email:receipt:resend:{uuid.uuid4()}",
        )  # fmt: skip
        await audit_db.record(conn, org_id, who.actor, "receipt.resend_requested", "receipt",
                             str(receipt_id), who.data(donation_id=str(donation_id)))  # fmt: skip
    return receipt_id
