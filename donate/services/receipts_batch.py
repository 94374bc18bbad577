"""Issuing the per-gift receipts of many paid gifts at once (catch-up and bulk runs).

Contract (the same as ``receipts.sync_donation``, in bulk):
- A batch is one transaction: the gifts are row-locked (gifts held by a per-gift job are
  skipped: that job issues them), each snapshot is validated before any number is taken,
  and the whole run of numbers (one row lock per association and year) is committed with
  the receipts or not at all: no gap, no duplicate, a gift never gets two live receipts.
- The PDFs are rendered *before* the numbering row is locked: the numbers are read, the
  PDFs rendered with them, and the sequence advanced only if nobody took a number in the
  meantime (else rendered again, the second time under the lock). So a long batch does not
  make per-gift jobs of the same association wait for its rendering.
- A gift whose receipt would be unlawful is not issued and the association is told in its
  audit trail (``receipt.not_issued``), as for a single gift; the batch goes on.
- A batch killed halfway leaves nothing: running it again (or the outbox sweeper doing so)
  picks up where the last committed batch stopped. Running it twice issues nothing twice.
- E-mails: one ``receipt.email_batch`` outbox row per batch, sent over one SMTP session.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from donate.db import outbox
from donate.db import receipt_batches as batch_db
from donate.db import receipts as receipts_db
from donate.db.receipts import Gift
from donate.db.types import Conn
from donate.metrics import RECEIPTS_ISSUED
from donate.receipts.numbering import fiscal_year_of, format_receipt_number, local_date_of
from donate.receipts.render import render_receipt_pdf
from donate.receipts.snapshot import InvalidReceipt, ReceiptSnapshot
from donate.services import receipt_snapshot
from donate.services.receipts import sha256
from donate.services.runtime import Runtime

log = logging.getLogger(__name__)

BATCH = 200  # gifts per transaction: ~0.5 s of rendering, a few statements


@dataclass(frozen=True, slots=True)
class BatchResult:
    issued: int
    not_issued: int
    last: UUID | None  # keyset cursor: the last gift id looked at
    more: bool  # a full batch was looked at: call again with after=last


async def issue_pending(
    rt: Runtime,
    org_id: UUID,
    *,
    after: UUID | None = None,
    limit: int | None = None,
    now: datetime | None = None,
) -> BatchResult:
    """Issue the receipts of up to ``limit`` pending gifts of the association (gift ids
    after ``after``), in one transaction. Returns what was done and where to go on."""
    now = now or datetime.now(UTC)
    async with rt.pool.acquire() as conn, conn.transaction():
        org = await receipts_db.organization(conn, org_id)
        if org is None or org["receipt_schedule"] != "per_gift":
            return BatchResult(0, 0, None, False)
        gifts, last = await batch_db.lock_pending_gifts(
            conn, org_id, after=after, limit=limit or BATCH
        )
        if last is None:
            return BatchResult(0, 0, None, False)
        drafts = await _drafts(conn, org, gifts, now)
        issued = await _number_render_store(conn, org_id, drafts, now) if drafts else []
        if issued:
            await outbox.add(
                conn,
                "receipt.email_batch",
                {"receipt_ids": [str(r) for r in issued], "kind": "receipt"},
                organization_id=org_id,
                dedup_key=f"receipt:{issued[0]}:email_batch",
            )
    if issued:
        RECEIPTS_ISSUED.labels("single").inc(len(issued))  # committed
    return BatchResult(len(issued), len(gifts) - len(drafts), last, True)


@dataclass(frozen=True, slots=True)
class _Draft:
    gift: Gift
    snapshot: ReceiptSnapshot  # number still the stand-in


async def _drafts(conn: Conn, org: Any, gifts: list[Gift], now: datetime) -> list[_Draft]:
    """Valid snapshots of the gifts' receipts; unlawful ones are noted and left out."""
    donors = await batch_db.donors(conn, list({g.donor_id for g in gifts}))
    issued_on = local_date_of(now)
    stand_in = format_receipt_number(issued_on.year, 10**12)  # as receipts._DRAFT_SEQ
    drafts = []
    refused: list[tuple[Gift, Exception]] = []
    for gift in gifts:
        try:
            snapshot = receipt_snapshot.build(
                org=org, donor=donors[gift.donor_id], gifts=[gift],
                amounts={gift.id: gift.receiptable_minor}, kind="single", number=stand_in,
                issued_on=issued_on,
            )  # fmt: skip
        except (InvalidReceipt, receipt_snapshot.NotEligible) as exc:
            refused.append((gift, exc))
            continue
        drafts.append(_Draft(gift, snapshot))
    if refused:
        # Catch-up runs come back hourly: tell the association once per gift.
        told = await batch_db.already_noted(conn, org["id"], [g.id for g, _ in refused])
        for gift, err in refused:
            log.warning("receipt not issued for %s: %s", gift.id, err)
            if str(gift.id) not in told:
                await receipts_db.note(
                    conn, gift.organization_id, "receipt.not_issued", str(gift.id),
                    {"reason": str(err), "missing": list(getattr(err, "missing", ()))},
                )  # fmt: skip
    return drafts


def _render(drafts: list[_Draft], year: int, first: int) -> list[tuple[ReceiptSnapshot, str]]:
    out = []
    for i, d in enumerate(drafts):
        snap = dataclasses.replace(d.snapshot, number=format_receipt_number(year, first + i))
        out.append((snap, sha256(render_receipt_pdf(snap))))
    return out


async def _number_render_store(
    conn: Conn, org_id: UUID, drafts: list[_Draft], now: datetime
) -> list[UUID]:
    year = drafts[0].snapshot.issued_on.year
    n = len(drafts)
    last = await batch_db.last_number(conn, org_id, year)
    rendered = _render(drafts, year, last + 1)  # no lock held while rendering
    if await batch_db.take_numbers(conn, org_id, year, n, expected=last) is None:
        # Numbers were taken meanwhile: lock the sequence, then render again.
        new_last = await batch_db.take_numbers(conn, org_id, year, n, expected=None)
        assert new_last is not None
        last = new_last - n
        rendered = _render(drafts, year, last + 1)
    rows: list[dict[str, Any]] = []
    for i, (d, (snap, digest)) in enumerate(zip(drafts, rendered, strict=True)):
        assert d.gift.paid_at is not None  # build() refused a gift without one
        rows.append({
            "id": uuid.uuid4(), "organization_id": org_id, "year": year, "seq": last + 1 + i,
            "number": snap.number, "form": snap.form, "donor_id": d.gift.donor_id,
            "amount_minor": snap.amount.minor, "currency": snap.amount.currency,
            "snapshot": snap.to_json(), "pdf_sha256": digest, "issued_at": now,
            "fiscal_year": fiscal_year_of(d.gift.paid_at), "donation_id": d.gift.id,
        })  # fmt: skip
    await batch_db.insert_receipts(conn, rows)
    return [r["id"] for r in rows]


async def queue(rt: Runtime, org_id: UUID, *, after: UUID | None = None) -> int | None:
    """Ask the worker to issue every pending per-gift receipt of the association."""
    async with rt.pool.acquire() as conn:
        return await outbox.add(
            conn,
            "receipts.issue_pending",
            {"organization_id": str(org_id), "after": str(after) if after else None},
            organization_id=org_id,
            dedup_key=None,
        )


CATCH_UP_AFTER_S = 600  # a per-gift job normally issues within seconds


async def queue_catch_up(rt: Runtime, *, now: datetime | None = None) -> int:
    """Queue an issuing run for every association with gifts still waiting for their
    receipt (a per-gift job failed for good, or an association fixed what was missing).
    Once per association and hour; returns how many runs were queued."""
    now = now or datetime.now(UTC)
    queued = 0
    async with rt.pool.acquire() as conn:
        for org_id in await batch_db.orgs_with_pending(conn, CATCH_UP_AFTER_S):
            row = await outbox.add(
                conn,
                "receipts.issue_pending",
                {"organization_id": str(org_id), "after": None},
                organization_id=org_id,
                dedup_key=f"receipts:catch-up:{org_id}:{now:%Y%m%d%H}",
            )
            queued += row is not None
    return queued
