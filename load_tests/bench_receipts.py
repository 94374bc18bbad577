"""Fiscal receipts benchmark (issue 5): receipts/s of one worker process, peak memory.

Run from the repository root::

    .venv/bin/python load_tests/bench_receipts.py [--count 100000] [--email-count N]

Seeds paid gifts straight in SQL in a scratch database (migrated, dropped at the end), then
starts ONE ``python -m donate.cli worker`` process and measures, scenario by scenario:

1. ``issue``: the association's pending receipts (``receipts.issue_pending``): numbering,
   snapshot, PDF and storage, no SMTP configured (e-mails marked skipped).
2. ``issue + e-mail``: the same for ``--email-count`` new gifts, with every receipt e-mailed
   (PDF attached) to a local SMTP sink (``donate.mailsink``, its own process).
3. ``per-gift jobs``: ``--per-gift`` gifts, each with the outbox row the payment flow writes
   (``donation.status_changed``): one arq job and one transaction per receipt.

The worker's RSS is sampled all along (memory must stay flat). Never imported by the
tests, and nothing here asserts a timing; the receipts invariants (one live receipt per
gift, numbers 1..N without gap) are checked at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"
TARGET_RPS = 500.0
DEMO_LOGINS = {  # throwaway: the scratch database is dropped at the end
    "secret": "bench",
    "admin_password": "bench-admin-pw",
    "finance_password": "bench-finance-pw",
}
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

SEED_SQL = """
WITH new_donors AS (
    INSERT INTO donors (organization_id, email, first_name, last_name, address_line1,
                        postal_code, city, locale)
    SELECT $1, $4 || i || '@example.org', 'Élise', 'Donatrice-' || i, i || ' rue des Lilas',
           '75011', 'Paris', CASE WHEN i % 5 = 0 THEN 'en' ELSE 'fr' END
    FROM generate_series(1, $3) AS i
    RETURNING id
), new_gifts AS (
    INSERT INTO donations (organization_id, campaign_id, donor_id, amount_minor, currency,
                           provider, status, counted_minor, wants_receipt, expires_at)
    SELECT $1, $2, id, 500 + (row_number() OVER ()) * 7 % 99500, 'EUR', 'stripe', 'paid',
           500 + (row_number() OVER ()) * 7 % 99500, true, now()
    FROM new_donors
    RETURNING id, amount_minor
)
INSERT INTO payments (organization_id, donation_id, provider, provider_account_id, checkout_id,
                      provider_payment_id, status, amount_minor, currency, method, paid_at)
SELECT $1, id, 'stripe', 'acct_bench', 'cs_' || id, 'pi_' || id, 'paid', amount_minor, 'EUR',
       'card', now() - interval '1 hour'
FROM new_gifts
RETURNING donation_id
"""


OUTBOX_BUSY = "SELECT count(*) FROM outbox WHERE status IN ('pending', 'enqueued')"


def with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


# --------------------------------------------------------------------------- processes


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


async def backend_pids(url: str) -> list[int]:
    """The PostgreSQL backends serving the scratch database (the worker's pool)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return [r[0] for r in rows]
    finally:
        await conn.close()


def ticks_of(pids: list[int]) -> dict[int, int]:
    ticks = {}
    for pid in pids:
        with contextlib.suppress(OSError):  # same host only; a backend may have ended
            ticks[pid] = cpu_ticks(pid)
    return ticks


def ticks_since(before: dict[int, int], pids: list[int]) -> int:
    """CPU ticks of ``pids`` since ``before`` (a backend opened meanwhile counts from 0)."""
    now = ticks_of(pids)
    return sum(t - before.get(pid, 0) for pid, t in now.items())


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            args, env={**os.environ, **env}, cwd=ROOT, stdout=out, stderr=out,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --------------------------------------------------------------------------- database


async def prepare(admin_url: str, name: str) -> dict[str, Any]:
    """Create and migrate the scratch database, seed the demo association."""
    import asyncpg

    from donate.bootstrap import build_runtime
    from donate.db.migrate import migrate
    from donate.services.seed import seed_demo
    from donate.settings import Settings

    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = with_db(admin_url, name)
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    settings = Settings(
        environment="development",
        database_url=url,
        _env_file=None,  # type: ignore[call-arg]
    )
    rt = await build_runtime(settings, pool_min=1)
    try:
        seeded = await seed_demo(
            rt,
            stripe_accounts=("acct_bench_a", "acct_bench_b"),
            mollie_accounts=(("org_bench_a", "test_bencha"), ("org_bench_b", "test_benchb")),
            **DEMO_LOGINS,
        )
    finally:
        await rt.pool.close()
    return seeded


async def seed_gifts(url: str, seeded: dict[str, Any], count: int, tag: str) -> tuple[str, float]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        org_id = await conn.fetchval(
            "SELECT id FROM organizations WHERE slug = $1", seeded["org_slug"]
        )
        campaign = next(c for c in seeded["campaigns"] if c["kind"] == "donation")
        started = time.perf_counter()
        await conn.fetch(SEED_SQL, org_id, campaign["id"], count, f"{tag}-")
        await conn.execute("ANALYZE donors; ANALYZE donations; ANALYZE payments")
        return str(org_id), time.perf_counter() - started
    finally:
        await conn.close()


async def sql(url: str, query: str, *args: Any) -> Any:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        if query.lstrip().upper().startswith(("SELECT", "WITH")):
            return await conn.fetchval(query, *args)
        return await conn.execute(query, *args)
    finally:
        await conn.close()


async def queue_row(url: str, task: str, payload: dict[str, Any], org_id: str) -> None:
    await sql(
        url,
        "INSERT INTO outbox (task, payload, organization_id) VALUES ($1, $2::jsonb, $3::uuid)",
        task,
        json.dumps(payload),
        org_id,
    )


async def queue_per_gift(url: str, tag: str, org_id: str) -> None:
    await sql(
        url,
        """INSERT INTO outbox (task, payload, organization_id)
           SELECT 'donation.status_changed',
                  jsonb_build_object('donation_id', d.id, 'from', 'pending', 'to', 'paid'), $2
           FROM donations d JOIN donors o ON o.id = d.donor_id
           WHERE o.email LIKE $1 || '-%' ORDER BY d.created_at""",
        tag,
        org_id,
    )


async def flush_redis(url: str) -> None:
    from redis.asyncio import Redis

    r = Redis.from_url(url)
    try:
        await r.flushdb()
    finally:
        await r.aclose()


async def worker_ready(url: str) -> bool:
    from redis.asyncio import Redis

    r = Redis.from_url(url)
    try:
        return bool(await r.exists("donate:queue:health-check"))
    finally:
        await r.aclose()


async def check_invariants(url: str) -> dict[str, Any]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        wanted = await conn.fetchval(
            "SELECT count(*) FROM donations WHERE status = 'paid' AND wants_receipt"
        )
        live = await conn.fetchval(
            "SELECT count(DISTINCT donation_id) FROM receipt_donations WHERE active"
        )
        doubles = await conn.fetchval(
            """SELECT count(*) FROM (SELECT donation_id FROM receipt_donations WHERE active
               GROUP BY donation_id HAVING count(*) > 1) x"""
        )
        gaps = await conn.fetchval(
            """SELECT count(*) FROM (SELECT organization_id, year, count(*) AS n, max(seq) AS m
               FROM receipts GROUP BY 1, 2) x WHERE n <> m"""
        )
        emails = dict(
            await conn.fetch("SELECT status, count(*) FROM receipt_emails GROUP BY status")
        )
    finally:
        await conn.close()
    ok = wanted == live and doubles == 0 and gaps == 0
    return {"ok": ok, "gifts": wanted, "live_receipts": live, "doubles": doubles,
            "sequences_with_gaps": gaps, "emails": emails}  # fmt: skip


# --------------------------------------------------------------------------- scenarios


def run_scenario(
    name: str, *, count: int, url: str, redis_url: str, env: dict[str, str], log: Path,
    start_work: Any, done_query: str, profile: Path | None = None, sink_pid: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Start the worker, wait until it polls, start the work, sample until done."""
    asyncio.run(flush_redis(redis_url))
    worker_env = {
        "DONATE_ENVIRONMENT": "development", "DONATE_DATABASE_URL": url,
        "DONATE_REDIS_URL": redis_url, "DONATE_SMTP_URL": "", "DONATE_LOG_JSON": "false",
        "DONATE_LOG_LEVEL": "WARNING", **env,
    }  # fmt: skip
    cmd = [sys.executable, "-m", "donate.cli", "worker"]
    with process(cmd, worker_env, log) as worker:
        deadline = time.monotonic() + 60
        while not asyncio.run(worker_ready(redis_url)):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start, see {log}")
            time.sleep(0.2)
        spy = None
        if profile is not None:
            profile = profile.with_name(f"{profile.name}-{name.replace(' ', '')}.txt")
        if profile is not None and shutil.which("py-spy", path=str(Path(sys.executable).parent)):
            spy = subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw",
                 "--rate", "200", "-o", str(profile), "--pid", str(worker.pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        rss0 = rss_bytes(worker.pid)
        ticks0, pg0 = cpu_ticks(worker.pid), ticks_of(asyncio.run(backend_pids(url)))
        sink0 = ticks_of([sink_pid]) if sink_pid else {}
        started = time.perf_counter()
        asyncio.run(start_work())
        samples: list[tuple[float, int, int]] = []  # (seconds, done, rss)
        done = 0
        while done < count:
            time.sleep(0.5)
            if worker.poll() is not None:
                raise RuntimeError(f"worker died, see {log}")
            done = int(asyncio.run(sql(url, done_query)))
            samples.append((time.perf_counter() - started, done, rss_bytes(worker.pid)))
            if len(samples) % 20 == 0:
                print(f"    {done}/{count} after {samples[-1][0]:.0f}s", flush=True)
        elapsed = time.perf_counter() - started
        cpu = (cpu_ticks(worker.pid) - ticks0) / CLK_TCK / elapsed
        pg_cpu = ticks_since(pg0, asyncio.run(backend_pids(url))) / CLK_TCK / elapsed
        sink_cpu = ticks_since(sink0, [sink_pid]) / CLK_TCK / elapsed if sink_pid else None
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
            spy.wait(60)
        # Not measured: let the worker finish what the work queued (e-mail rows…), so the
        # next scenario's worker does not inherit it.
        for _ in range(600):
            if not int(asyncio.run(sql(url, OUTBOX_BUSY))):
                break
            time.sleep(0.2)
    rss = [s[2] for s in samples]
    hot = profile_summary(profile) if profile is not None else []
    # Flat memory: RSS at 10 % of the work against RSS at the end.
    tenth = next((s[2] for s in samples if s[1] >= count / 10), rss[0])
    return {
        "name": name, "count": count, "seconds": round(elapsed, 2),
        "receipts_per_s": round(count / elapsed, 1),
        "worker_cpu_cores": round(cpu, 2), "postgres_cpu_cores": round(pg_cpu, 2),
        "smtp_sink_cpu_cores": round(sink_cpu, 2) if sink_cpu is not None else None,
        # What one full core would do: the figure that stands when the machine is shared.
        "receipts_per_worker_cpu_s": round(count / (cpu * elapsed), 1) if cpu else None,
        "rss_mb": {"idle": round(rss0 / 2**20, 1), "at_10pct": round(tenth / 2**20, 1),
                   "peak": round(max(rss) / 2**20, 1), "end": round(rss[-1] / 2**20, 1)},
        "rss_samples_mb": [round(r / 2**20, 1) for r in rss[:: max(1, len(rss) // 40)]],
        "profile_inclusive_pct": hot,
    }  # fmt: skip


def sink_process(folder: Path, port: int) -> list[str]:
    code = (
        "import asyncio, pathlib, sys\n"
        "from donate.mailsink import smtp_sink\n"
        "async def main():\n"
        f"    async with smtp_sink(pathlib.Path({str(folder)!r}), port={port}):\n"
        "        await asyncio.Event().wait()\n"
        "asyncio.run(main())\n"
    )
    return [sys.executable, "-c", code]


def profile_summary(path: Path, top: int = 25) -> list[tuple[str, float]]:
    """Share of samples per function, inclusive, from py-spy's collapsed stacks (the event
    loop frames every sample goes through left out)."""
    if not path.exists():
        return []
    counts: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        total += int(n)
        for frame in {f.split(" (")[0] for f in stack.split(";")}:
            counts[frame] = counts.get(frame, 0) + int(n)
    ranked = sorted(((k, n) for k, n in counts.items() if n < 0.97 * total), key=lambda kv: -kv[1])[
        :top
    ]
    return [(name, round(100 * n / total, 1)) for name, n in ranked]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--count", type=int, default=100_000, help="gifts for the issue scenario")
    p.add_argument("--email-count", type=int, default=None,
                   help="e-mail scenario (default: --count / 10; 0 skips it)")  # fmt: skip
    p.add_argument("--per-gift", type=int, default=None,
                   help="per-gift jobs scenario (default: --count / 10; 0 skips)")  # fmt: skip
    p.add_argument("--profile", action="store_true", help="py-spy the worker in each scenario")
    p.add_argument("--keep-logs", action="store_true", help="keep the worker's log and mails")
    args = p.parse_args()
    email_count = args.count // 10 if args.email_count is None else args.email_count
    per_gift = args.count // 10 if args.per_gift is None else args.per_gift

    admin_url = os.environ.get("DONATE_BENCH_DATABASE_URL", DEFAULT_DB)
    redis_url = os.environ.get("DONATE_BENCH_REDIS_URL", DEFAULT_REDIS)
    name = f"donate_bench_receipts_{os.getpid()}"
    url = with_db(admin_url, name)
    sys.path.insert(0, str(ROOT))
    tmp = Path(tempfile.mkdtemp(prefix="bench-receipts-"))
    log = tmp / "worker.log"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    results: list[dict[str, Any]] = []
    extra: dict[str, Any] = {}
    total_receipts = 0

    def receipts_done() -> str:
        return f"SELECT count(*) - {total_receipts} FROM receipts"

    try:
        print(f"bench receipts: scratch database {name}", flush=True)
        seeded = asyncio.run(prepare(admin_url, name))

        print(f"  seeding {args.count} paid gifts ...", flush=True)
        org_id, seed_s = asyncio.run(seed_gifts(url, seeded, args.count, "issue"))
        extra["seed_seconds"] = round(seed_s, 1)
        print(f"  issue (no e-mail), {args.count} receipts ...", flush=True)
        profile = RESULTS_DIR / f"profile-receipts-{stamp}" if args.profile else None
        results.append(run_scenario(
            "issue", count=args.count, url=url, redis_url=redis_url, env={}, log=log,
            start_work=lambda: queue_row(url, "receipts.issue_pending",
                                         {"organization_id": org_id}, org_id),
            done_query=receipts_done(), profile=profile,
        ))  # fmt: skip
        total_receipts += args.count

        if email_count:
            asyncio.run(seed_gifts(url, seeded, email_count, "mail"))
            port = 20000 + os.getpid() % 20000
            sink_dir = tmp / "smtp_outbox"
            print(f"  issue + e-mail, {email_count} receipts ...", flush=True)
            sent_before = int(asyncio.run(
                sql(url, "SELECT count(*) FROM receipt_emails WHERE status = 'sent'")))  # fmt: skip
            with process(sink_process(sink_dir, port), {}, tmp / "sink.log") as sink:
                time.sleep(1.5)
                results.append(run_scenario(
                    "issue + e-mail", count=email_count, url=url, redis_url=redis_url,
                    env={"DONATE_SMTP_URL": f"smtp://127.0.0.1:{port}"}, log=log,
                    start_work=lambda: queue_row(url, "receipts.issue_pending",
                                                 {"organization_id": org_id}, org_id),
                    done_query="SELECT count(*) - "
                    f"{sent_before} FROM receipt_emails WHERE status = 'sent'",
                    sink_pid=sink.pid, profile=profile,
                ))  # fmt: skip
            total_receipts += email_count
            extra["emails_in_sink"] = sum(1 for _ in sink_dir.glob("*.eml"))

        if per_gift:
            asyncio.run(seed_gifts(url, seeded, per_gift, "single"))
            print(f"  per-gift jobs, {per_gift} receipts ...", flush=True)
            results.append(run_scenario(
                "per-gift jobs", count=per_gift, url=url, redis_url=redis_url, env={},
                log=log, start_work=lambda: queue_per_gift(url, "single", org_id),
                done_query=receipts_done(), profile=profile,
            ))  # fmt: skip
            total_receipts += per_gift

        extra["invariants"] = asyncio.run(check_invariants(url))
    finally:
        asyncio.run(flush_redis(redis_url))
        with contextlib.suppress(Exception):
            asyncio.run(sql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if log.exists():
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            extra["worker_log_tail"] = tail
        if args.keep_logs:
            print(f"logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(f"{'scenario':<16}{'count':>8}{'seconds':>9}{'receipts/s':>12}{'per cpu-s':>10}"
          f"{'worker cpu':>11}{'pg cpu':>8}{'sink cpu':>9}  RSS idle/10%/peak/end MB")  # fmt: skip
    for r in results:
        m = r["rss_mb"]
        print(f"{r['name']:<16}{r['count']:>8}{r['seconds']:>9}{r['receipts_per_s']:>12}"
              f"{r['receipts_per_worker_cpu_s'] or '-':>10}{r['worker_cpu_cores']:>11}"
              f"{r['postgres_cpu_cores']:>8}{r['smtp_sink_cpu_cores'] or '-':>9}  "
              f"{m['idle']}/{m['at_10pct']}/{m['peak']}/{m['end']}")  # fmt: skip
    issue = results[0]["receipts_per_s"] if results else 0.0
    extra[f"target issue >= {TARGET_RPS:.0f} receipts/s"] = (
        "MET" if issue >= TARGET_RPS else "MISSED"
    )
    for k, v in extra.items():
        if k != "worker_log_tail":
            print(f"{k}: {v}")
    out = RESULTS_DIR / f"receipts-{stamp}.json"
    out.write_text(json.dumps({
        "at": stamp, "args": vars(args), "cpus": os.cpu_count(),
        "python": sys.version.split()[0], "results": results, **extra,
    }, indent=2, default=str))  # fmt: skip
    print(f"\nsaved {out.relative_to(ROOT)}")
    return 0 if extra.get("invariants", {}).get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
