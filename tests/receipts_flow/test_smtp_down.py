"""SMTP down: the receipt is issued once; its e-mail is retried by the outbox, then left
visible as failed; bringing SMTP back and retrying sends it, still with the one number."""

from __future__ import annotations

import pytest
from arq.connections import ArqRedis

from donate.embedded import free_port
from tests.support.platform import Platform, SmtpOutbox

from .helpers import paid_gift, receipts, receipts_of


async def _email_outbox_row(pf: Platform, receipt_id: str) -> tuple[str, int, str | None]:
    async with pf.runtime.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT status, attempts, last_error FROM outbox WHERE dedup_key = $1",
            f"receipt:{receipt_id}:email:receipt",
        )
    assert row is not None
    return row["status"], row["attempts"], row["last_error"]


async def _retry_now(pf: Platform, redis: ArqRedis) -> None:
    async with pf.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE outbox SET available_at = now() WHERE status = 'pending' "
            "AND task = 'receipt.email'"
        )
    await pf.process(redis)


async def test_failed_send_is_retried_then_visible_and_never_renumbers(
    pf: Platform, redis: ArqRedis, smtp_outbox: SmtpOutbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing listens on this port: every connection is refused.
    monkeypatch.setattr(pf.runtime.settings, "smtp_url", f"smtp://127.0.0.1:{free_port()}")
    co = await paid_gift(pf, redis, "down@example.org", 2700)
    [item] = await receipts_of(pf, co.donation_id)
    assert item["email_status"] == "failed"
    status, attempts, error = await _email_outbox_row(pf, item["id"])
    assert (status, attempts) == ("pending", 1)
    assert error is not None
    assert "Connect" in error or "refused" in error.lower()

    for _ in range(pf.runtime.settings.outbox_max_attempts - 1):
        await _retry_now(pf, redis)
    status, attempts, _ = await _email_outbox_row(pf, item["id"])
    assert (status, attempts) == ("failed", pf.runtime.settings.outbox_max_attempts)
    assert [x["number"] for x in await receipts_of(pf, co.donation_id)] == [item["number"]]
    assert smtp_outbox.messages(to="down@example.org") == []
    async with pf.runtime.pool.acquire() as conn:
        email = await conn.fetchrow(
            "SELECT status, attempts, last_error FROM receipt_emails WHERE kind = 'receipt' "
            "AND receipt_id = $1::uuid",
            item["id"],
        )
    assert email is not None
    assert (email["status"], email["attempts"]) == ("failed", 3)

    # SMTP is back; an operator puts the failed row back in the queue.
    monkeypatch.undo()
    async with pf.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE outbox SET status = 'pending', available_at = now() WHERE dedup_key = $1",
            f"receipt:{item['id']}:email:receipt",
        )
    await pf.process(redis)
    [mail] = smtp_outbox.messages(to="down@example.org")
    assert item["number"] in mail["Subject"]
    [after] = await receipts_of(pf, co.donation_id)
    assert (after["number"], after["email_status"]) == (item["number"], "sent")
    numbers = sorted(x["number"] for x in await receipts(pf))
    assert numbers == [f"2026-{i:06d}" for i in range(1, len(numbers) + 1)]
