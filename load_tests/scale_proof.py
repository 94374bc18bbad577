"""Horizontal scale proof (issue 9): two web processes and two workers, one PostgreSQL and one
Redis, a webhook storm and a receipt batch; then the database is checked against the
provider sandbox's ledger: no duplicate receipt, no gap, exact totals.

Run from the repository root::

    .venv/bin/python load_tests/scale_proof.py [--donations 2000] [--concurrency 16]

What happens (``stack.py``, ``traffic.py``, ``ledger_check.py``):

1. a scratch database ``donate_scale_<pid>`` (migrated, demo seed) and the Redis database of
   ``DONATE_BENCH_REDIS_URL`` (**flushed** at start and end), or ``--database-url`` (used as
   is, not dropped) and ``--redis-url``;
2. the stack: sandbox, round-robin proxy as the public URL, ``--webs`` × ``donate serve``,
   ``--workers`` × ``donate worker``;
3. sandbox faults on: every webhook sent three times (``webhook_duplicates`` 2), each
   action's webhooks shuffled;
4. ``--donations`` checkouts (two associations, four campaigns, Stripe and Mollie, some with
   a tip, 70 % wanting a receipt) in turn on each web process, settled at the sandbox (paid,
   failed, canceled, expired or left open), about 15 % of the paid ones refunded (through
   the association API, full or partial, or in the provider's dashboard);
5. the receipt batch, while the storm runs: at a quarter, half and three quarters of the
   gifts, a ``receipts.issue_pending`` run per association is queued (the catch-up batch,
   racing the per-gift jobs of both workers), and at half, ``donate receipts annual`` runs
   for the second association (a third process taking receipt numbers);
6. faults off; wait until the sandbox has no webhook left to (re)send and the outbox is
   drained; then the checker. Exit status 1 on any discrepancy.

``--ledger-out FILE`` saves the sandbox's ledger and webhook log, so ``ledger_check.py
--ledger-file FILE`` can check the database again after the sandbox is gone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_webhooks import (
    DEFAULT_DB,
    RESULTS_DIR,
    ROOT,
    create_database,
    drop_database,
    flush_redis,
    with_db,
)
from ledger_check import fetch_sandbox, run_check
from stack import Stack
from traffic import Traffic, wait_quiet

DEFAULT_REDIS = "redis://127.0.0.1:6379/12"
BATCH_AT = (0.25, 0.5, 0.75)  # share of gifts done when a receipt batch run is queued


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


@contextlib.contextmanager
def scratch_database(args: argparse.Namespace) -> Iterator[str]:
    """The database to run on: ``--database-url`` as is, or a scratch one dropped at the end."""
    if args.database_url:
        yield args.database_url
        return
    admin = os.environ.get("DONATE_BENCH_DATABASE_URL", DEFAULT_DB)
    name = f"donate_scale_{os.getpid()}"
    asyncio.run(create_database(admin, name))
    try:
        yield with_db(admin, name)
    finally:
        if not args.keep:
            asyncio.run(drop_database(admin, name))


async def queue_batches(stack: Stack, traffic: Traffic, total: int) -> list[str]:
    """The receipt batch: catch-up runs queued while gifts are still being paid."""
    from donate.bootstrap import build_runtime
    from donate.services import receipts_batch

    done: list[str] = []
    rt = await build_runtime(stack.settings(), pool_min=0)
    try:
        for share in BATCH_AT:
            await traffic.tally.reach(math.ceil(share * total))
            async with rt.pool.acquire() as conn:
                orgs = await conn.fetch("SELECT id FROM organizations ORDER BY slug")
            for org in orgs:
                await receipts_batch.queue(rt, org["id"])
            done.append(f"receipts.issue_pending × {len(orgs)} at {traffic.tally.done} gifts")
            if share == 0.5:
                done.append(await annual_run(stack, traffic))
    finally:
        await rt.pool.close()
    return done


async def annual_run(stack: Stack, traffic: Traffic) -> str:
    """``donate receipts annual`` for the second association, racing the workers."""
    org = traffic.orgs[1]["org_slug"]
    year = str(datetime.now(UTC).year)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "donate.cli", "receipts", "annual", "--org", org, "--year", year,
        env={**os.environ, **stack.env()}, cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    out, _ = await proc.communicate()
    return f"receipts annual ({org}, {year}) at {traffic.tally.done} gifts: {out.decode().strip()}"


async def drive(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    traffic = Traffic(
        stack.web_urls, stack.sandbox_url, stack.seeded,
        seed=args.seed, concurrency=args.concurrency, donors=max(10, args.donations // 4),
    )  # fmt: skip
    try:
        await traffic.faults(webhook_duplicates=2, webhook_shuffle=True, seed=args.seed)
        log(f"storm: {args.donations} gifts, {args.concurrency} at a time, webhooks ×3 shuffled")
        started = time.monotonic()
        batches = asyncio.create_task(queue_batches(stack, traffic, args.donations))
        progress = asyncio.create_task(report_progress(traffic))
        await traffic.run(count=args.donations)
        storm_s = time.monotonic() - started
        progress.cancel()
        batch_notes = await batches
        await traffic.faults()
        log(f"storm done in {storm_s:.1f}s; waiting for webhooks and the outbox to drain")
        quiet_s = await wait_quiet(
            stack.sandbox_url, stack.database_url, timeout_s=args.drain_timeout, log=log
        )
        return {
            "storm_s": round(storm_s, 1),
            "drain_s": round(quiet_s, 1),
            "traffic": traffic.tally.to_json(),
            "receipt batch": batch_notes,
            "requests per web process (via the proxy)": stack.proxy_stats(),
        }
    finally:
        await traffic.aclose()


async def report_progress(traffic: Traffic) -> None:
    while True:
        await asyncio.sleep(15)
        log(f"  {traffic.tally.done} gifts done; checkouts {dict(traffic.tally.checkouts)}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--donations", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=16, help="donors at a time")
    p.add_argument("--webs", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--database-url", help="run on this database (migrated if needed, kept)")
    p.add_argument("--redis-url", help=f"default $DONATE_BENCH_REDIS_URL or {DEFAULT_REDIS}")
    p.add_argument("--keep", action="store_true", help="keep the scratch database")
    p.add_argument("--drain-timeout", type=float, default=600)
    p.add_argument("--json", type=Path, help="write the run and the check here")
    p.add_argument("--ledger-out", type=Path, help="save the sandbox's ledger and webhook log")
    args = p.parse_args()
    redis_url = args.redis_url or os.environ.get("DONATE_BENCH_REDIS_URL", DEFAULT_REDIS)
    asyncio.run(flush_redis(redis_url))
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        with (
            scratch_database(args) as db_url,
            tempfile.TemporaryDirectory(prefix="scale-proof-") as logs,
            Stack(db_url, redis_url, Path(logs), webs=args.webs, workers=args.workers) as stack,
        ):
            log(f"stack up: {args.webs} web, {args.workers} workers, public URL {stack.public_url}")
            run = asyncio.run(drive(stack, args))
            stack.check_alive()
            sandbox = asyncio.run(fetch_sandbox(stack.sandbox_url))
            if args.ledger_out:
                args.ledger_out.write_text(json.dumps(sandbox))
            report = asyncio.run(run_check(db_url, sandbox))
    finally:
        asyncio.run(flush_redis(redis_url))
    print(json.dumps(run, indent=2))
    print(report.text())
    result = {"run": run, "check": report.to_json(), "args": {**vars(args), "json": None}}
    out = args.json or RESULTS_DIR / f"scale-proof-{stamp}.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    log(f"results: {out}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
