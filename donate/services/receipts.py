"""Issuing and cancelling fiscal receipts, exactly once, numbered without gaps.

Contract:
- ``sync_donation`` converges a gift's receipts on its current state, whatever event woke
  it and however often: a paid gift gets one receipt; when the amount that opens the tax
  reduction changes (refund, chargeback, dispute won), the live receipt is canceled (kept,
  with date and reason, its number never reused) and a new one with a new number is
  issued for what remains, if anything. Running it twice changes nothing the second time.
- Issuing happens in one transaction: gift rows locked, next number of the association's
  per-year sequence (row lock: no gap, no duplicate), snapshot validated before the number
  is taken, PDF rendered from the snapshot and its SHA-256 stored, e-mail queued in the
  outbox. A gift has at most one live receipt (unique index), single or annual.
- PDFs are not stored: they are re-rendered from the stored snapshot on demand (a pure,
  byte-identical function) and checked against the stored SHA-256 before being served.
  This keeps six years of receipts to a few KB of JSON each.
- A receipt that cannot lawfully be issued (a mention missing, a rule broken) is not
  issued; the association is told in its audit trail (``receipt.not_issued``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from donate.db import outbox
from donate.db import receipts as receipts_db
from donate.db.receipts import Gift, ReceiptRow
from donate.db.types import Conn
from donate.metrics import RECEIPTS_CANCELED, RECEIPTS_ISSUED
from donate.receipts.numbering import fiscal_year_of, format_receipt_number, local_date_of
from donate.receipts.render import render_cancellation_pdf, render_receipt_pdf
from donate.receipts.snapshot import InvalidReceipt, Kind, Period, ReceiptSnapshot
from donate.services import integrator_events, receipt_snapshot
from donate.services.errors import NotFound
from donate.services.runtime import Runtime

log = logging.getLogger(__name__)

_CANCEL_REASONS = {
    "refunded": "Don intégralement remboursé au donateur",
    "partially_refunded": "Don partiellement remboursé au donateur",
    "disputed": "Paiement contesté auprès de la banque (rétrofacturation)",
}


# The draft snapshot is validated before a number is taken; its stand-in number can be
# neither a real one nor the number of the receipt it replaces.
_DRAFT_SEQ = 10**12


@dataclass(frozen=True, slots=True)
class Issued:
    receipt_id: UUID
    number: str


@dataclass(frozen=True, slots=True)
class SyncResult:
    action: str  # "none" | "unchanged" | "issued" | "replaced" | "canceled" | "not_issued"
    receipt_id: UUID | None = None
    number: str | None = None
    kind: Kind | None = None  # of the receipt issued ("issued", "replaced")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def sync_donation(
    rt: Runtime, donation_id: UUID, *, now: datetime | None = None
) -> SyncResult:
    """Make the receipts of one gift match its current state (see the module docstring)."""
    result = await _converge(rt, donation_id, now or datetime.now(UTC))
    # Counted once committed (a rolled-back issue is no receipt).
    if result.action in ("replaced", "canceled"):
        RECEIPTS_CANCELED.inc()
    if result.kind is not None:
        RECEIPTS_ISSUED.labels(result.kind).inc()
    return result


async def _converge(rt: Runtime, donation_id: UUID, now: datetime) -> SyncResult:
    async with rt.pool.acquire() as conn, conn.transaction():
        await receipts_db.lock_donations(conn, [donation_id])
        found = await receipts_db.gifts(conn, [donation_id])
        if not found:
            return SyncResult("none")
        gift = found[0]
        desired = gift.receiptable_minor
        live = await _lock_live_receipt(conn, donation_id)
        if live is not None:
            amounts = await receipts_db.amounts_of(conn, live.id)
            if amounts.get(donation_id) == desired:
                return SyncResult("unchanged", live.id, live.number)
            reason = _CANCEL_REASONS.get(gift.status, "Montant du don rectifié")
            replaced = await cancel_and_replace(
                conn, live, {**amounts, donation_id: desired}, reason, now
            )
            if replaced is None:
                return SyncResult("canceled", live.id, live.number)
            kind: Kind = "annual" if live.kind == "annual" else "single"
            return SyncResult("replaced", replaced.receipt_id, replaced.number, kind)
        org = await receipts_db.organization(conn, gift.organization_id)
        assert org is not None
        if desired == 0 or not _per_gift(gift, org["receipt_schedule"]):
            return SyncResult("none")
        issued = await issue(
            conn, org, [gift], {gift.id: desired}, kind="single",
            fiscal_year=fiscal_year_of(_paid_at(gift)), now=now,
        )  # fmt: skip
        if issued is None:
            return SyncResult("not_issued")
        return SyncResult("issued", issued.receipt_id, issued.number, "single")


def _paid_at(gift: Gift) -> datetime:
    if gift.paid_at is None:
        raise InvalidReceipt(f"gift {gift.id} is settled but has no payment date")
    return gift.paid_at


def _per_gift(gift: Gift, schedule: str) -> bool:
    """A single receipt now, or the annual one in January (recurring gifts, annual orgs)."""
    return (
        gift.wants_receipt
        and gift.receipt_eligible
        and gift.frequency == "once"
        and schedule == "per_gift"
    )


async def _lock_live_receipt(conn: Conn, donation_id: UUID) -> ReceiptRow | None:
    """The gift's live receipt, row-locked. Another gift of the same annual receipt may
    have replaced it while we waited for the lock: then look again."""
    for _ in range(10):
        receipt_id = await receipts_db.live_receipt_id(conn, donation_id)
        if receipt_id is None:
            return None
        row = await receipts_db.get(conn, receipt_id, for_update=True)
        if row is not None and row.status == "issued":
            return row
    raise RuntimeError(f"live receipt of donation {donation_id} keeps changing")


async def issue(
    conn: Conn,
    org: Any,
    gifts: list[Gift],
    amounts: dict[UUID, int],
    *,
    kind: Kind,
    fiscal_year: int,
    now: datetime,
    period: Period | None = None,
    replaces: ReceiptRow | None = None,
) -> Issued | None:
    """Issue one receipt for ``amounts`` of ``gifts`` (one donor), inside the caller's
    transaction with the gifts locked. Returns None, noted in the audit trail, when the
    receipt would be unlawful: the number is only taken once the snapshot is valid."""
    donor = await receipts_db.donor(conn, gifts[0].donor_id)
    assert donor is not None
    issued_on = local_date_of(now)
    try:
        draft = receipt_snapshot.build(
            org=org, donor=donor, gifts=gifts, amounts=amounts, kind=kind,
            number=format_receipt_number(issued_on.year, _DRAFT_SEQ), issued_on=issued_on,
            period=period, replaces=replaces.number if replaces else None,
        )  # fmt: skip
    except (InvalidReceipt, receipt_snapshot.NotEligible) as exc:
        log.warning("receipt not issued for %s: %s", [str(g.id) for g in gifts], exc)
        for g in gifts:
            await receipts_db.note(
                conn, g.organization_id, "receipt.not_issued", str(g.id),
                {"reason": str(exc), "missing": list(getattr(exc, "missing", ()))},
            )  # fmt: skip
        return None
    seq = await receipts_db.next_number(conn, org["id"], issued_on.year)
    snapshot = dataclasses.replace(draft, number=format_receipt_number(issued_on.year, seq))
    pdf = render_receipt_pdf(snapshot)
    receipt_id = await receipts_db.insert_receipt(
        conn,
        {
            "organization_id": org["id"], "year": issued_on.year, "seq": seq,
            "number": snapshot.number, "kind": kind, "form": snapshot.form,
            "donor_id": donor["id"], "amount_minor": snapshot.amount.minor,
            "currency": snapshot.amount.currency, "snapshot": snapshot.to_json(),
            "pdf_sha256": sha256(pdf), "replaces": replaces.id if replaces else None,
            "issued_at": now, "fiscal_year": fiscal_year,
        },
        amounts,
    )  # fmt: skip
    await _queue_email(conn, org["id"], receipt_id, "receipt")
    await integrator_events.receipt_issued(conn, org["id"], receipt_id)
    return Issued(receipt_id, snapshot.number)


async def cancel_and_replace(
    conn: Conn, receipt: ReceiptRow, amounts: dict[UUID, int], reason: str, now: datetime
) -> Issued | None:
    """Cancel ``receipt`` (locked by the caller) and issue its replacement for the
    ``amounts`` left (gift → amount; zero drops the gift). None when nothing is left."""
    snapshot = ReceiptSnapshot.from_json(receipt.snapshot)
    # A cancellation is dated in Paris and never before the receipt it cancels.
    at = max(now, receipt.issued_at)
    notice = render_cancellation_pdf(snapshot, at, reason)
    await receipts_db.cancel(conn, receipt.id, at=at, reason=reason, pdf_sha256=sha256(notice))
    await _queue_email(conn, receipt.organization_id, receipt.id, "cancellation")
    await integrator_events.receipt_canceled(conn, receipt.organization_id, receipt.id)
    left = {d: a for d, a in amounts.items() if a > 0}
    if not left:
        return None
    org = await receipts_db.organization(conn, receipt.organization_id)
    gifts = await receipts_db.gifts(conn, list(left))
    return await issue(
        conn, org, gifts, left, kind="annual" if receipt.kind == "annual" else "single",
        fiscal_year=receipt.fiscal_year, now=at, period=snapshot.period, replaces=receipt,
    )  # fmt: skip


async def _queue_email(conn: Conn, org_id: UUID, receipt_id: UUID, kind: str) -> None:
    await receipts_db.add_email(conn, org_id, receipt_id, kind)
    await outbox.add(
        conn,
        "receipt.email",
        {"receipt_id": str(receipt_id), "kind": kind},
        organization_id=org_id,
        dedup_key=f"receipt:{receipt_id}:email:{kind}",
    )


# Reading ----------------------------------------------------------------------------


async def get_receipt(rt: Runtime, receipt_id: UUID, org_id: UUID | None = None) -> ReceiptRow:
    async with rt.pool.acquire() as conn:
        row = await receipts_db.get(conn, receipt_id, org_id=org_id)
    if row is None:
        raise NotFound("No such receipt.")
    return row


def receipt_pdf(row: ReceiptRow) -> bytes:
    """Re-render the receipt; refuse to hand out anything but the document issued."""
    pdf = render_receipt_pdf(ReceiptSnapshot.from_json(row.snapshot))
    if sha256(pdf) != row.pdf_sha256:
        raise RuntimeError(f"receipt {row.number}: re-rendered PDF differs from the issued one")
    return pdf


def cancellation_pdf(row: ReceiptRow) -> bytes:
    if row.canceled_at is None or row.cancel_reason is None:
        raise NotFound("This receipt is not canceled.")
    snapshot = ReceiptSnapshot.from_json(row.snapshot)
    pdf = render_cancellation_pdf(snapshot, row.canceled_at, row.cancel_reason)
    if row.cancel_pdf_sha256 is not None and sha256(pdf) != row.cancel_pdf_sha256:
        raise RuntimeError(f"receipt {row.number}: cancellation notice differs from the issued one")
    return pdf


async def list_receipts(
    rt: Runtime, org_id: UUID, *, fiscal_year: int | None = None, status: str | None = None,
    limit: int = 100, before: tuple[int, int] | None = None,
) -> list[Any]:  # fmt: skip
    async with rt.pool.acquire() as conn:
        return await receipts_db.list_for_org(
            conn, org_id, fiscal_year=fiscal_year, status=status, limit=limit, before=before
        )


async def fiscal_declaration(rt: Runtime, org_id: UUID, fiscal_year: int) -> dict[str, Any]:
    """CGI art. 222 bis: receipts issued for gifts of ``fiscal_year``, canceled excluded."""
    async with rt.pool.acquire() as conn:
        count, total = await receipts_db.declaration(conn, org_id, fiscal_year)
        org = await receipts_db.organization(conn, org_id)
    assert org is not None
    return {
        "year": fiscal_year,
        "receipts_count": count,
        "total_minor": total,
        "currency": org["currency"],
    }
