"""Annual summary receipts: one per donor and year for the gifts no receipt covers yet,
never a second receipt for a gift; from the API, the CLI and the January cron."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime

from arq.connections import ArqRedis

from donate.services import receipts_annual
from tests.support.platform import Platform

from .helpers import paid_gift, pdf, receipts, receipts_of, text_of

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


async def _schedule(pf: Platform, schedule: str) -> None:
    async with pf.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE organizations SET receipt_schedule = $2 WHERE slug = $1", pf.org, schedule
        )


async def _annual(pf: Platform, redis: ArqRedis, year: object = 2026) -> int:
    r = await pf.app.post(
        f"/api/v1/orgs/{pf.org}/receipts/annual", json={"year": year}, headers=pf.auth()
    )
    if r.status_code == 202:
        await pf.process(redis)
    return r.status_code


async def test_annual_receipt_covers_uncovered_gifts_once(pf: Platform, redis: ArqRedis) -> None:
    single = await paid_gift(pf, redis, "monthly@example.org", 1000)
    [single_receipt] = await receipts_of(pf, single.donation_id)
    await _schedule(pf, "annual")
    b = await paid_gift(pf, redis, "monthly@example.org", 2000)
    c = await paid_gift(pf, redis, "monthly@example.org", 3000, provider="mollie")
    d = await paid_gift(pf, redis, "other@example.org", 4000)
    for gift in (b, c, d):
        assert await receipts_of(pf, gift.donation_id) == []

    assert await _annual(pf, redis) == 202
    annual = [x for x in await receipts(pf) if x["kind"] == "annual"]
    assert len(annual) == 2
    [mine] = [x for x in annual if b.donation_id in x["donation_ids"]]
    assert sorted(mine["donation_ids"]) == sorted([b.donation_id, c.donation_id])
    assert (mine["amount_minor"], mine["fiscal_year"]) == (5000, 2026)
    # The gift with its own receipt is not covered twice.
    assert await receipts_of(pf, single.donation_id) == [single_receipt]
    text = text_of(await pdf(pf, mine["id"]))
    assert "Reçu récapitulatif des dons et versements effectués du 1 er janvier 2026" in text or (
        "Reçu récapitulatif des dons et versements effectués du 1er janvier 2026" in text
    )
    assert "2 versement(s)" in text
    assert "***50,00 €***" in text
    assert "cinquante euros" in text

    # Asking again issues nothing new.
    before = await receipts(pf)
    assert await _annual(pf, redis) == 202
    assert await receipts(pf) == before

    # A partial refund of a covered gift: the annual receipt is canceled and replaced.
    r = await pf.app.post(
        f"/api/v1/orgs/{pf.org}/donations/{c.donation_id}/refund",
        json={"amount_minor": 1000},
        headers=pf.auth(),
    )
    assert r.status_code in (201, 202), r.text
    await pf.deliver_and_process(redis)
    old, new = await receipts_of(pf, b.donation_id)
    assert (old["id"], old["status"]) == (mine["id"], "canceled")
    assert (new["kind"], new["amount_minor"], new["replaces"]) == ("annual", 4000, mine["id"])
    assert sorted(new["donation_ids"]) == sorted([b.donation_id, c.donation_id])


async def test_cli_issues_with_a_progress_counter(pf: Platform, redis: ArqRedis) -> None:
    await _schedule(pf, "annual")
    gift = await paid_gift(pf, redis, "cli@example.org", 1500)
    env = {
        **os.environ,
        "DONATE_ENVIRONMENT": "test",
        "DONATE_DATABASE_URL": str(pf.runtime.settings.database_url),
        "DONATE_REDIS_URL": pf.redis_url,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "donate.cli", "receipts", "annual", "--org", pf.org,
        "--year", "2026", env=env, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert "1 annual receipt(s) issued for 1 donor(s)" in out.decode()
    assert "annual receipts 2026: 1/1 donors" in err.decode()
    await pf.process(redis)  # the e-mail the CLI queued goes through the worker
    [receipt] = await receipts_of(pf, gift.donation_id)
    assert (receipt["kind"], receipt["email_status"]) == ("annual", "sent")


async def test_future_year_and_bad_year_are_refused(pf: Platform, redis: ArqRedis) -> None:
    assert await _annual(pf, redis, 2027) == 422
    assert await _annual(pf, redis, "twenty") == 422
    assert await _annual(pf, redis, True) == 422


async def test_january_cron_queues_last_year_once_per_association(
    pf: Platform, redis: ArqRedis
) -> None:
    january = datetime(2027, 1, 15, 2, 0, tzinfo=UTC)
    first = await receipts_annual.queue_january_run(pf.runtime, now=january)
    again = await receipts_annual.queue_january_run(pf.runtime, now=january)
    assert (first, again) == (2, 0)  # both demo associations, once
    async with pf.runtime.pool.acquire() as conn:
        rows = await conn.fetch("SELECT payload FROM outbox WHERE task = 'receipts.annual' "
                                "AND dedup_key LIKE '%:january'")  # fmt: skip
    assert sorted(r["payload"]["year"] for r in rows) == [2026, 2026]
    before = [(x["id"], x["status"]) for x in await receipts(pf)]
    await pf.process(redis)  # every gift of 2026 is already covered
    assert [(x["id"], x["status"]) for x in await receipts(pf)] == before
