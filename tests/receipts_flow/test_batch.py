"""Batch issuing (catch-up and bulk runs): a run of numbers per transaction, PDFs rendered
before the numbering lock, and the same guarantees as the per-gift path."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from arq.connections import ArqRedis

from donate.db import receipt_batches as batch_db
from donate.receipts.render import render_receipt_pdf
from donate.receipts.snapshot import ReceiptSnapshot
from donate.services import receipts as receipts_service
from donate.services import receipts_batch
from tests.support.jobs import drain
from tests.support.platform import Platform, SmtpOutbox

from .bulk import assert_one_live_receipt_each, org_and_campaign, seed_paid_gifts


async def _seed(pf: Platform, n: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    async with pf.runtime.pool.acquire() as conn:
        org_id, campaign_id = await org_and_campaign(conn, pf.seeded)
        return org_id, await seed_paid_gifts(conn, org_id, campaign_id, n)


async def test_the_job_issues_every_pending_gift_and_mails_them_in_batches(
    pf: Platform, redis: ArqRedis, smtp_outbox: SmtpOutbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(receipts_batch, "BATCH", 7)  # several transactions and mail batches
    org_id, gifts = await _seed(pf, 20)
    await receipts_batch.queue(pf.runtime, org_id)
    await drain(pf.runtime, redis, pf.redis_url)

    async with pf.runtime.pool.acquire() as conn:
        await assert_one_live_receipt_each(conn, org_id, gifts)
        rows = await conn.fetch(
            """SELECT r.*, e.status AS email FROM receipts r
               JOIN receipt_donations rd ON rd.receipt_id = r.id
               JOIN receipt_emails e ON e.receipt_id = r.id
               WHERE rd.donation_id = ANY($1::uuid[]) ORDER BY r.seq""",
            gifts,
        )
        batches = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE task = 'receipt.email_batch' AND status = 'done'"
        )
    assert len(rows) == 20
    assert {r["email"] for r in rows} == {"sent"}
    assert batches == 3  # 7 + 7 + 6
    for r in rows[:3]:  # the stored hash is the hash of what the snapshot renders to
        pdf = render_receipt_pdf(ReceiptSnapshot.from_json(r["snapshot"]))
        assert hashlib.sha256(pdf).hexdigest() == r["pdf_sha256"]
        assert r["snapshot"]["number"] == r["number"]
    sent = [m for m in smtp_outbox.messages() if "@example.org" in m["To"] and "bulk-" in m["To"]]
    assert len({m["To"] for m in sent}) >= 20


async def test_running_twice_issues_nothing_twice(pf: Platform) -> None:
    org_id, gifts = await _seed(pf, 5)
    first = await receipts_batch.issue_pending(pf.runtime, org_id, limit=1000)
    again = await receipts_batch.issue_pending(pf.runtime, org_id, limit=1000)
    assert first.issued == 5
    assert again.issued == 0
    async with pf.runtime.pool.acquire() as conn:
        await assert_one_live_receipt_each(conn, org_id, gifts)


async def test_numbers_taken_while_rendering_are_rendered_again(
    pf: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    org_id, gifts = await _seed(pf, 6)
    # Right after the batch has read the sequence (and before it renders its 5 receipts),
    # a per-gift job issues the sixth gift's receipt and takes the number planned first.
    real_last, real_render = batch_db.last_number, receipts_batch._render
    calls: list[int] = []

    async def last_number(conn: Any, org: uuid.UUID, year: int) -> int:
        n = await real_last(conn, org, year)
        issued = await receipts_service.sync_donation(pf.runtime, max(gifts))
        assert issued.action == "issued"
        return n

    def render(drafts: Any, year: int, first: int) -> Any:
        calls.append(first)
        return real_render(drafts, year, first)

    monkeypatch.setattr(batch_db, "last_number", last_number)
    monkeypatch.setattr(receipts_batch, "_render", render)
    batch = [g for g in gifts if g != max(gifts)]
    result = await receipts_batch.issue_pending(pf.runtime, org_id, limit=len(batch))
    async with pf.runtime.pool.acquire() as conn:
        await assert_one_live_receipt_each(conn, org_id, gifts)
        rows = await conn.fetch(
            "SELECT number, snapshot, pdf_sha256 FROM receipts WHERE organization_id = $1",
            org_id,
        )
    assert result.issued == 5
    assert len(calls) == 2 and calls[1] == calls[0] + 1  # rendered again after the sixth
    for r in rows:
        pdf = render_receipt_pdf(ReceiptSnapshot.from_json(r["snapshot"]))
        assert hashlib.sha256(pdf).hexdigest() == r["pdf_sha256"]


async def test_races_with_per_gift_jobs_give_one_receipt_per_gift(pf: Platform) -> None:
    org_id, gifts = await _seed(pf, 30)
    await asyncio.gather(
        receipts_batch.issue_pending(pf.runtime, org_id, limit=1000),
        receipts_batch.issue_pending(pf.runtime, org_id, limit=1000),
        *(receipts_service.sync_donation(pf.runtime, g) for g in gifts[::3]),
    )
    # Gifts skipped because a racing transaction held them are issued by it or by a rerun.
    await receipts_batch.issue_pending(pf.runtime, org_id, limit=1000)
    async with pf.runtime.pool.acquire() as conn:
        await assert_one_live_receipt_each(conn, org_id, gifts)


async def test_hourly_catch_up_issues_what_per_gift_jobs_left_and_notes_refusals_once(
    pf: Platform, redis: ArqRedis
) -> None:
    _, gifts = await _seed(pf, 4)
    async with pf.runtime.pool.acquire() as conn:
        # The per-gift jobs never ran (say they failed for good) and an hour went by; one
        # donor has lost the street of the address a receipt must print.
        await conn.execute(
            "UPDATE donations SET updated_at = now() - interval '1 hour' "
            "WHERE id = ANY($1::uuid[])",
            gifts,
        )
        await conn.execute(
            "UPDATE donors SET address_line1 = '' WHERE id = "
            "(SELECT donor_id FROM donations WHERE id = $1)",
            gifts[0],
        )
    at = datetime(2026, 11, 26, 9, 47, tzinfo=UTC)
    assert await receipts_batch.queue_catch_up(pf.runtime, now=at) == 1
    assert await receipts_batch.queue_catch_up(pf.runtime, now=at) == 0  # once an hour
    await drain(pf.runtime, redis, pf.redis_url)
    assert await receipts_batch.queue_catch_up(pf.runtime, now=at + timedelta(hours=1)) == 1
    await drain(pf.runtime, redis, pf.redis_url)

    async with pf.runtime.pool.acquire() as conn:
        issued = await conn.fetchval(
            "SELECT count(*) FROM receipt_donations WHERE active AND donation_id = ANY($1::uuid[])",
            gifts,
        )
        notes = await conn.fetch(
            "SELECT data FROM audit_log WHERE action = 'receipt.not_issued' AND target_id = $1",
            str(gifts[0]),
        )
    assert issued == 3
    assert len(notes) == 1
    assert notes[0]["data"]["missing"] == ["donor.address.lines"]
