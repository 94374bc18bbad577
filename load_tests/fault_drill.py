"""Fault drill (issue 9): break things while donors give, then prove nothing was lost.

Run from the repository root::

    .venv/bin/python load_tests/fault_drill.py [--duration 90] [--concurrency 12]

The stack of ``stack.py`` (sandbox, proxy, two ``donate serve``, two ``donate worker``) runs
on a **private** PostgreSQL cluster and Redis server started for the drill under a temporary
directory (``donate.embedded``, as ``donate demo`` does), so they can be restarted and
flushed without touching anyone else's. For ``--duration`` seconds, donors give as in the
scale proof (checkouts on both web processes, payments settled at the sandbox, refunds)
while the sandbox fails 20 % of API calls and sends every webhook twice, shuffled; and:

- at 20 % of the time, PostgreSQL restarts (``pg_ctl restart -m fast``: every connection cut);
- at 40 %, Redis is flushed (``FLUSHALL``: every queued job lost);
- at 60 %, one worker is killed with ``kill -9`` mid-work; a replacement starts 5 s later;
- at 80 %, PostgreSQL restarts again.

Then the faults are cleared, and the drill waits for recovery: the sandbox has no webhook
left to (re)send and the outbox has no work due. The checker (``ledger_check.py``) compares
the database with the sandbox's ledger and prints what was lost (must be nothing); exit
status 1 otherwise. Donors whose checkout was refused because of an injected API error are
not lost: they got an error and may retry; the check counts what the provider holds.

The workers run with ``DONATE_OUTBOX_STALE_AFTER_S`` = ``--stale-after`` (15 s; production
default 120 s) so that work lost with Redis or the killed worker is claimed again within
the drill rather than two minutes later. Results: ``load_tests/results/drill-<stamp>.json``;
the processes' logs are kept there with ``--keep-logs``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_webhooks import RESULTS_DIR
from ledger_check import fetch_sandbox, run_check
from stack import Stack
from traffic import Traffic, wait_quiet

from donate.embedded import EmbeddedServices

STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


class Drill:
    def __init__(self, stack: Stack, embedded: EmbeddedServices, traffic: Traffic) -> None:
        self.stack = stack
        self.embedded = embedded
        self.traffic = traffic
        self.events: list[dict[str, Any]] = []

    async def note(self, what: str, action: Callable[[], Awaitable[str]]) -> None:
        started = time.monotonic()
        detail = await action()
        took = time.monotonic() - started
        gifts = self.traffic.tally.done
        self.events.append(
            {"at_s": round(started - STARTED, 1), "fault": what, "took_s": round(took, 2),
             "gifts_done": gifts, "detail": detail}
        )  # fmt: skip
        log(f"FAULT {what} ({took:.1f}s) {detail}".rstrip())

    async def restart_postgres(self) -> str:
        await asyncio.to_thread(self.embedded.restart_postgres)
        return ""

    async def flush_redis(self) -> str:
        from redis.asyncio import Redis

        assert self.stack.redis_url
        r = Redis.from_url(self.stack.redis_url)
        try:
            keys = await r.dbsize()
            await r.flushall()
        finally:
            await r.aclose()
        return f"{keys} keys dropped"

    async def kill_worker(self) -> str:
        victim = self.stack.workers[0]
        pid = self.stack.kill_worker(victim)
        await asyncio.sleep(5)  # the survivor works alone for a while
        return f"{victim} (pid {pid}) killed, {self.stack.start_worker()} started"

    async def run(self, duration: float, seed: int) -> dict[str, Any]:
        await self.traffic.faults(
            api_error_ratio=0.2, webhook_duplicates=1, webhook_shuffle=True, seed=seed
        )
        log("faults on: 20 % of API calls fail, webhooks twice and shuffled")
        start = time.monotonic()
        load = asyncio.create_task(self.traffic.run(until=start + duration))
        schedule = [
            (0.2, "PostgreSQL restart", self.restart_postgres),
            (0.4, "Redis FLUSHALL", self.flush_redis),
            (0.6, "kill -9 worker", self.kill_worker),
            (0.8, "PostgreSQL restart", self.restart_postgres),
        ]
        for share, what, action in schedule:
            await asyncio.sleep(max(0.0, start + share * duration - time.monotonic()))
            tally = self.traffic.tally
            log(f"{tally.done} gifts done; checkouts {dict(tally.checkouts)}")
            await self.note(what, action)
        await load
        load_s = time.monotonic() - start
        await self.traffic.faults()
        log(f"load stopped after {load_s:.0f}s, faults cleared; waiting for recovery")
        recovery_s = await wait_quiet(
            self.stack.sandbox_url, self.stack.database_url, timeout_s=900, log=log
        )
        log(f"recovered in {recovery_s:.0f}s")
        return {
            "load_s": round(load_s, 1),
            "recovery_s": round(recovery_s, 1),
            "faults": self.events,
            "traffic": self.traffic.tally.to_json(),
            "requests per web process (via the proxy)": self.stack.proxy_stats(),
        }


async def drill(stack: Stack, embedded: EmbeddedServices, args: argparse.Namespace) -> Any:
    traffic = Traffic(
        stack.web_urls, stack.sandbox_url, stack.seeded,
        seed=args.seed, concurrency=args.concurrency,
    )  # fmt: skip
    try:
        return await Drill(stack, embedded, traffic).run(args.duration, args.seed)
    finally:
        await traffic.aclose()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=90, help="seconds of load under faults")
    p.add_argument("--concurrency", type=int, default=12, help="donors at a time")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--stale-after", type=int, default=15, help="DONATE_OUTBOX_STALE_AFTER_S")
    p.add_argument("--keep-logs", action="store_true", help="copy the processes' logs to results/")
    p.add_argument("--json", type=Path, help="write the run and the check here")
    args = p.parse_args()
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    with tempfile.TemporaryDirectory(prefix="fault-drill-") as tmp:
        root = Path(tmp)
        embedded = EmbeddedServices(root / "services")
        try:
            db_url = embedded.start_postgres("donate_drill")
            redis_url = embedded.start_redis()
            log(f"private PostgreSQL {db_url} and Redis {redis_url}")
            env = {"DONATE_OUTBOX_STALE_AFTER_S": str(args.stale_after)}
            with Stack(db_url, redis_url, root / "logs", env=env) as stack:
                log(f"stack up: 2 web, 2 workers, public URL {stack.public_url}")
                run = asyncio.run(drill(stack, embedded, args))
                stack.check_alive()
                sandbox = asyncio.run(fetch_sandbox(stack.sandbox_url))
                report = asyncio.run(run_check(db_url, sandbox))
        finally:
            if args.keep_logs and (root / "logs").exists():
                shutil.copytree(root / "logs", RESULTS_DIR / f"drill-logs-{stamp}")
            embedded.close()
    print(json.dumps(run, indent=2))
    print(report.text())
    out = args.json or RESULTS_DIR / f"drill-{stamp}.json"
    result = {"run": run, "check": report.to_json(), "args": vars(args)}
    out.write_text(json.dumps(result, indent=2, default=str))
    log(f"results: {out}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
