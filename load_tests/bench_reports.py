"""Payout report benchmark (issue 6): CSV and XLSX exports against a raw ``COPY … TO STDOUT``.

Run from the repository root::

    .venv/bin/python load_tests/bench_reports.py [--scale 1.0]

Seeds a scratch database with COPY (a payout of 100,000 lines and a year of 1,000,000
donations at ``--scale 1``), then downloads each report over HTTP from a fresh
``python -m donate.cli serve`` (the production code path, the server's own peak RSS) and
COPYs the same rows raw with asyncpg's ``copy_from_query`` in the same run. Never imported by
the tests, and nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_webhooks import (
    CLK_TCK,
    DEFAULT_DB,
    ROOT,
    cpu_ticks,
    create_database,
    drop_database,
    free_port,
    migrate_database,
    start_process,
    stop_process,
    wait_http,
    with_db,
)

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
TARGET_RATIO = 0.50
TARGET_RSS_MB = 150.0
YEAR = 2025
BIG_PAYOUT_LINES = 100_000
YEAR_DONATIONS = 1_000_000


# --------------------------------------------------------------------------- seeding


@dataclass
class Seeded:
    org_slug: str
    api_key: str
    org_id: str
    big_payout: str  # our uuid
    big_lines: int  # movements of the big payout (report rows)
    year_lines: int  # movements of the year's payouts
    donations: int
    seconds: float


def _uid(kind: int, n: int) -> uuid.UUID:
    # Deterministic and cheap (uuid4 costs more than the rest of a row).
    return uuid.UUID(int=(0xB0 << 120) | (kind << 96) | n)


_FIRST = ("Élodie", "Jean", "Zoë", "Marc", "Anaïs", "Paul", "Léa", "Ömer", "Chloé", "Noël")
_LAST = ("Dupont", "Müller", "Leroy", "N'Diaye", "Garçon", "Moreau", "Faure", "Lefèvre")


@dataclass
class Plan:
    """Which donation goes in which payout, and each payout's amount (the sum of its nets)."""

    n: int
    big: int
    start: datetime = datetime(YEAR, 1, 1, 8, tzinfo=UTC)
    payout_of: list[int] = field(default_factory=list)
    amounts: dict[int, int] = field(default_factory=dict)
    movements: dict[int, int] = field(default_factory=dict)

    def when(self, i: int) -> datetime:
        return self.start + timedelta(seconds=i * (364 * 86400 // max(self.n, 1)))

    def build(self) -> None:
        # Payout 0 is the big one (donations [n/2, n/2 + big)); the others are daily, 1..365.
        lo = self.n // 2
        self.payout_of = [
            0 if lo <= i < lo + self.big else 1 + self.when(i).timetuple().tm_yday
            for i in range(self.n)
        ]
        for i, p in enumerate(self.payout_of):
            g = gift(i)
            net = g["gross"] - g["fee"] - (g["refund"] or 0)
            self.amounts[p] = self.amounts.get(p, 0) + net
            self.movements[p] = self.movements.get(p, 0) + 1 + (1 if g["refund"] else 0)
        for p in self.amounts:  # one payment made outside the platform per payout: unmatched
            self.amounts[p] += 1700 - 55
            self.movements[p] += 1

    def arrival(self, p: int) -> date:
        return date(YEAR, 7, 1) if p == 0 else date(YEAR, 1, 1) + timedelta(days=p - 1 + 2)


def gift(i: int) -> dict[str, Any]:
    amount = 1000 + (i * 7919) % 20000
    tip = 200 if i % 4 == 0 else 0
    gross = amount + tip
    fee = 25 + gross * 14 // 1000 + tip  # Stripe's fee includes the application fee (the tip)
    refund = -(amount // 2) if i % 100 == 1 else None
    return {"amount": amount, "tip": tip, "gross": gross, "fee": fee, "refund": refund}


async def seed(url: str, scale: float) -> Seeded:
    import asyncpg

    from donate.db import orgs as orgs_db
    from donate.security.crypto import new_api_key

    t0 = time.monotonic()
    n = max(100, int(YEAR_DONATIONS * scale))
    plan = Plan(n, max(10, int(BIG_PAYOUT_LINES * scale)))
    plan.build()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SET synchronous_commit = off")
        # The rows are consistent by construction: skip the foreign-key triggers (superuser).
        with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
            await conn.execute("SET session_replication_role = replica")
        org = _uid(1, 0)
        await conn.execute(
            """INSERT INTO organizations (id, slug, legal_name, address_line1, postal_code, city,
                   siren, object) VALUES ($1, 'bench', 'Les Amis du Banc', '1 rue du Banc',
                   '75001', 'Paris', '123456789', 'Benchmarks')""",
            org,
        )
        key, prefix, digest = new_api_key()
        await orgs_db.upsert_api_key(conn, org, prefix, digest, "bench", role="finance")
        campaigns = [_uid(2, k) for k in range(3)]
        await conn.copy_records_to_table(
            "campaigns",
            columns=["id", "organization_id", "slug", "kind", "title", "currency", "goal_minor",
                     "ends_at", "status"],
            records=[
                (campaigns[0], org, "forets", "donation", "Forêts d'Europe", "EUR", None, None,
                 "live"),
                (campaigns[1], org, "ecole", "crowdfunding", "Une école à Dakar", "EUR",
                 50_000_000, datetime(YEAR + 1, 1, 1, tzinfo=UTC), "live"),
                (campaigns[2], org, "urgence", "donation", 'Urgence "inondations"; Sud', "EUR",
                 None, None, "live"),
            ],
        )  # fmt: skip
        donors = max(50, n // 4)
        await conn.copy_records_to_table(
            "donors",
            columns=["id", "organization_id", "email", "first_name", "last_name", "company_name",
                     "siren"],
            records=(
                (_uid(3, j), org, f"donor{j}@example.org", _FIRST[j % 10], _LAST[j % 8],
                 "ACME SA" if j % 50 == 0 else None, "552100554" if j % 50 == 0 else None)
                for j in range(donors)
            ),
        )  # fmt: skip
        print(f"  seeding {n:,} donations …", flush=True)
        await conn.copy_records_to_table(
            "donations",
            columns=["id", "organization_id", "campaign_id", "donor_id", "amount_minor",
                     "currency", "tip_minor", "provider", "status", "counted_minor",
                     "wants_receipt", "anonymous", "expires_at", "created_at"],
            records=_donations(plan, org, campaigns, donors),
        )  # fmt: skip
        await conn.copy_records_to_table(
            "payments",
            columns=["id", "organization_id", "donation_id", "provider", "provider_account_id",
                     "checkout_id", "provider_payment_id", "status", "amount_minor", "currency",
                     "fee_minor", "method", "paid_at", "created_at"],
            records=(
                (_uid(5, i), org, _uid(4, i), "stripe", "acct_bench", f"cs_bench{i}",
                 f"pi_bench{i}", "paid", g["gross"], "EUR", g["fee"],
                 "sepa_debit" if i % 7 == 0 else "card", plan.when(i), plan.when(i))
                for i in range(n) for g in (gift(i),)
            ),
        )  # fmt: skip
        print("  seeding receipts …", flush=True)
        await conn.copy_records_to_table(
            "receipts",
            columns=["id", "organization_id", "year", "seq", "number", "kind", "form", "donor_id",
                     "amount_minor", "currency", "snapshot", "pdf_sha256", "fiscal_year",
                     "issued_at"],
            records=(
                (_uid(6, i), org, YEAR, i // 3 + 1, f"{YEAR}-{i // 3 + 1:07d}", "single",
                 "11580", _uid(3, i % donors), gift(i)["amount"], "EUR", "{}", "0" * 64, YEAR,
                 plan.when(i))
                for i in range(0, n, 3)
            ),
        )  # fmt: skip
        await conn.copy_records_to_table(
            "receipt_donations",
            columns=["organization_id", "receipt_id", "donation_id", "amount_minor"],
            records=((org, _uid(6, i), _uid(4, i), gift(i)["amount"]) for i in range(0, n, 3)),
        )
        payouts = sorted(plan.amounts)
        await conn.copy_records_to_table(
            "payouts",
            columns=["id", "organization_id", "provider", "provider_payout_id", "amount_minor",
                     "currency", "status", "arrival_date", "created_at", "synced_at"],
            records=[
                (_uid(7, p), org, "stripe", f"po_bench{p}", plan.amounts[p], "EUR", "paid",
                 plan.arrival(p), datetime.combine(plan.arrival(p), datetime.min.time(), UTC),
                 datetime.now(UTC))
                for p in payouts
            ],
        )  # fmt: skip
        print("  seeding payout lines …", flush=True)
        await conn.copy_records_to_table(
            "payout_lines",
            columns=["id", "organization_id", "payout_id", "provider_line_id", "kind",
                     "source_id", "payment_ref", "donation_id", "gross_minor", "fee_minor",
                     "net_minor", "currency", "occurred_at", "description"],
            records=_lines(plan, org),
        )  # fmt: skip
        await conn.execute("ANALYZE")
        year_lines = sum(plan.movements.values())
        return Seeded(
            "bench", key, str(org), str(_uid(7, 0)), plan.movements[0], year_lines, n,
            round(time.monotonic() - t0, 1),
        )  # fmt: skip
    finally:
        await conn.close()


def _donations(
    plan: Plan, org: uuid.UUID, campaigns: list[uuid.UUID], donors: int
) -> Iterator[tuple[Any, ...]]:
    for i in range(plan.n):
        g = gift(i)
        at = plan.when(i)
        yield (
            _uid(4, i), org, campaigns[i % 3], _uid(3, i % donors), g["amount"], "EUR", g["tip"],
            "stripe", "partially_refunded" if g["refund"] else "paid", g["amount"], i % 3 == 0,
            i % 20 == 0, at + timedelta(hours=1), at,
        )  # fmt: skip


def _lines(plan: Plan, org: uuid.UUID) -> Iterator[tuple[Any, ...]]:
    rnd = random.Random(6)
    for i in range(plan.n):
        g, p, at = gift(i), _uid(7, plan.payout_of[i]), plan.when(i)
        yield (
            _uid(8, i), org, p, f"txn_bench{i}", "payment", f"ch_bench{i}", f"pi_bench{i}",
            _uid(4, i), g["gross"], g["fee"], g["gross"] - g["fee"], "EUR", at,
            "Don en ligne",
        )  # fmt: skip
        if g["refund"]:
            yield (
                _uid(9, i), org, p, f"txn_bench_re{i}", "refund", f"re_bench{i}",
                f"pi_bench{i}", _uid(4, i), g["refund"], 0, g["refund"], "EUR",
                at + timedelta(minutes=rnd.randint(5, 600)), "REFUND FOR CHARGE",
            )  # fmt: skip
    for k, p in enumerate(sorted(plan.amounts)):
        at = datetime.combine(plan.arrival(p), datetime.min.time(), UTC) - timedelta(hours=30)
        yield (
            _uid(10, k), org, _uid(7, p), f"txn_outside{k}", "payment", f"ch_outside{k}",
            f"pi_outside{k}", None, 1700, 55, 1645, "EUR", at, "Tombola, vente de gâteaux",
        )  # fmt: skip
        yield (
            _uid(11, k), org, _uid(7, p), f"txn_po{k}", "payout", f"po_bench{p}", None, None,
            -plan.amounts[p], 0, -plan.amounts[p], "EUR", at, "STRIPE PAYOUT",
        )  # fmt: skip


# --------------------------------------------------------------------------- measuring


@dataclass
class Result:
    name: str
    rows: int
    seconds: float
    bytes: int
    peak_rss_mb: float | None = None
    base_rss_mb: float | None = None
    ratio: float | None = None  # rows/s of this export / rows/s of the raw COPY
    app_cpu_s: float | None = None  # CPU of the server process (or the bench's COPY sink)
    pg_cpu_s: float | None = None  # CPU of the PostgreSQL backends that served it
    note: str = ""

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def rss_mb(pid: int, field_name: str) -> float | None:
    """VmRSS (now) or VmHWM (the peak since the process started) in MB."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


def cpu_s(pids: list[int]) -> float:
    return sum(cpu_ticks(p) for p in pids) / CLK_TCK


async def backend_pids(url: str) -> list[int]:
    """The PostgreSQL backends connected to the database of ``url`` (the server's pool)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return [int(r["pid"]) for r in rows]
    finally:
        await conn.close()


async def raw_copy(
    url: str, org_id: str, serial: bool = False, **kw: Any
) -> tuple[float, int, float]:
    """The report's own query, ``COPY (…) TO STDOUT`` to a sink: (seconds, bytes, CPU
    seconds of its backend)."""
    import asyncpg

    from donate.db.payout_reports import lines_query, tune_session

    sql, args = lines_query(uuid.UUID(org_id), **kw)
    size = 0

    async def sink(chunk: bytes) -> None:
        nonlocal size
        size += len(chunk)

    conn = await asyncpg.connect(url)
    try:
        backend = [conn.get_server_pid()]
        t0, cpu0 = time.monotonic(), cpu_s(backend)
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            await tune_session(conn)  # the report's own session settings
            if serial:  # as a row-limited portal (the XLSX's cursor) must run it
                await conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            await conn.copy_from_query(sql, *args, output=sink)
        return time.monotonic() - t0, size, cpu_s(backend) - cpu0
    finally:
        await conn.close()


@contextlib.contextmanager
def server(db_url: str, redis_url: str) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {
        "DONATE_ENVIRONMENT": "development",
        "DONATE_DATABASE_URL": db_url,
        "DONATE_REDIS_URL": redis_url,
        "DONATE_SECRET_KEY": "bench-secret-key-" + "x" * 32,
        "DONATE_LOG_LEVEL": "WARNING",
        "DONATE_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    cmd = [sys.executable, "-m", "donate.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    proc = start_process(cmd, env)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        stop_process(proc)


async def download(url: str, key: str, params: dict[str, str]) -> tuple[float, int, int]:
    """GET a report to a sink: (seconds, bytes, newlines)."""
    import httpx

    size = newlines = 0
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(timeout=httpx.Timeout(30.0, read=900.0)) as client:
        t0 = time.monotonic()
        async with client.stream("GET", url, params=params, headers=headers) as r:
            if r.status_code != 200:
                raise RuntimeError(f"{url}: {r.status_code} {(await r.aread())[:500]!r}")
            async for chunk in r.aiter_raw(1 << 16):
                size += len(chunk)
                newlines += chunk.count(b"\n")
        return time.monotonic() - t0, size, newlines


def start_profiler(pid: int, label: str) -> subprocess.Popen[bytes]:
    exe = str(Path(sys.executable).with_name("py-spy"))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"profile-reports-{label}-{stamp}.txt"
    print(f"    py-spy: collapsed stacks -> {out.relative_to(ROOT)}", flush=True)
    return subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--rate", "200", "--format", "raw",
         "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def export(
    args: argparse.Namespace, db_url: str, s: Seeded, name: str, path: str,
    params: dict[str, str], rows: int,
) -> Result:  # fmt: skip
    with server(db_url, args.redis_url) as (base, pid):
        # Warm up (imports, pool, first query plans) on a tiny report, then measure.
        asyncio.run(download(f"{base}/api/v1/orgs/{s.org_slug}/payouts", s.api_key, {}))
        base_rss = rss_mb(pid, "VmRSS")
        startup_peak = rss_mb(pid, "VmHWM")
        reset = reset_peak(pid)  # the peak of this export, not of the server's start-up
        sampler = RssSampler(pid)
        prof = start_profiler(pid, name.replace(" ", "-")) if args.profile else None
        backends = asyncio.run(backend_pids(db_url))
        cpu0, pg0 = cpu_s([pid]), cpu_s(backends)
        try:
            seconds, size, _ = asyncio.run(
                download(f"{base}/api/v1/orgs/{s.org_slug}{path}", s.api_key, params)
            )
        finally:
            sampler.stop()
            if prof is not None:
                prof.send_signal(2)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    prof.wait(30)
        peak = rss_mb(pid, "VmHWM") if reset else sampler.peak
        app_cpu, pg_cpu = cpu_s([pid]) - cpu0, cpu_s(backends) - pg0
    note = f"server start-up peak {startup_peak} MB" + ("" if reset else "; RSS sampled /50 ms")
    return Result(
        name, rows, round(seconds, 3), size, peak, base_rss,
        app_cpu_s=round(app_cpu, 2), pg_cpu_s=round(pg_cpu, 2), note=note,
    )  # fmt: skip


def reset_peak(pid: int) -> bool:
    """Reset the process's VmHWM (Linux >= 4.0, our own child)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class RssSampler:
    """VmRSS every 50 ms in a thread: the fallback when VmHWM cannot be reset."""

    def __init__(self, pid: int) -> None:
        import threading

        self.pid, self.peak = pid, 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(0.05):
            self.peak = max(self.peak, rss_mb(self.pid, "VmRSS") or 0.0)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


async def copy_best(
    url: str, org_id: str, repeat: int, serial: bool = False, **kw: Any
) -> tuple[float, int, float]:
    best: tuple[float, int, float] | None = None
    for _ in range(repeat):
        got = await raw_copy(url, org_id, serial, **kw)
        best = got if best is None or got[0] < best[0] else best
    assert best is not None
    return best


# --------------------------------------------------------------------------- report


def table(results: list[Result]) -> str:
    head = f"{'export':<28} {'rows':>10} {'seconds':>9} {'rows/s':>10} {'MB':>8} "
    head += f"{'/ COPY':>7} {'peak RSS':>9} {'base RSS':>9} {'app CPU s':>10} {'pg CPU s':>9}"
    out = [head, "-" * len(head)]
    for r in results:
        out.append(
            f"{r.name:<28} {r.rows:>10,} {r.seconds:>9.2f} {r.rate:>10,.0f} "
            f"{r.bytes / 1e6:>8.1f} {_f(r.ratio, '.2f'):>7} {_f(r.peak_rss_mb, '.0f'):>9} "
            f"{_f(r.base_rss_mb, '.0f'):>9} {_f(r.app_cpu_s, '.2f'):>10} {_f(r.pg_cpu_s, '.2f'):>9}"
        )
    return "\n".join(out)


def _f(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scale", type=float, default=1.0, help="1.0: 100k-line payout, 1M gifts")
    p.add_argument("--only", default="payout,period", help="reports to run: payout,period")
    p.add_argument("--formats", default="csv,xlsx", help="formats to run: csv,xlsx")
    p.add_argument("--copy-repeat", type=int, default=2, help="raw COPY runs (best kept)")
    p.add_argument("--profile", action="store_true", help="py-spy each export's server")
    p.add_argument("--db", default="", help="reuse this seeded database (kept; for profiling)")
    p.add_argument("--keep", action="store_true", help="keep the scratch database, print name")
    args = p.parse_args()
    admin_url = os.environ.get("DONATE_BENCH_DATABASE_URL", DEFAULT_DB)
    args.redis_url = os.environ.get("DONATE_BENCH_REDIS_URL", DEFAULT_REDIS)
    name = args.db or f"donate_bench_reports_{os.getpid()}"
    db_url = with_db(admin_url, name)
    seed_file = RESULTS_DIR / f".seed-{name}.json"
    results: list[Result] = []
    try:
        if args.db and seed_file.exists():
            s = Seeded(**json.loads(seed_file.read_text()))
            print(f"bench: reusing {name} ({s.donations:,} donations)", flush=True)
        else:
            asyncio.run(create_database(admin_url, name))
            asyncio.run(migrate_database(db_url))
            print(f"bench: seeding {name} with COPY (scale {args.scale}) …", flush=True)
            s = asyncio.run(seed(db_url, args.scale))
            print(f"  seeded in {s.seconds}s", flush=True)
            if args.keep or args.db:
                RESULTS_DIR.mkdir(parents=True, exist_ok=True)
                seed_file.write_text(json.dumps(asdict(s)))
        year = {"from": f"{YEAR}-01-01", "to": f"{YEAR}-12-31"}
        reports = {
            "payout": (f"/payouts/{s.big_payout}/report", {}, s.big_lines,
                       {"payout_id": uuid.UUID(s.big_payout)}),
            "period": ("/reports/period", year, s.year_lines,
                       {"payout_start": date(YEAR, 1, 1), "payout_end": date(YEAR, 12, 31)}),
        }  # fmt: skip
        for report in args.only.split(","):
            path, params, rows, query = reports[report]
            print(f"  {report}: raw COPY …", flush=True)
            secs, size, pg = asyncio.run(copy_best(db_url, s.org_id, args.copy_repeat, **query))
            copy = Result(
                f"{report} raw COPY", rows, round(secs, 3), size, pg_cpu_s=round(pg, 2),
                note="in the bench process, to a sink",
            )  # fmt: skip
            results.append(copy)
            secs, size, pg = asyncio.run(
                copy_best(db_url, s.org_id, args.copy_repeat, serial=True, **query)
            )
            serial = Result(
                f"{report} raw COPY serial", rows, round(secs, 3), size, pg_cpu_s=round(pg, 2),
                note="max_parallel_workers_per_gather = 0, like the XLSX's cursor",
            )  # fmt: skip
            results.append(serial)
            for fmt in args.formats.split(","):
                print(f"  {report}: {fmt} over HTTP …", flush=True)
                r = export(args, db_url, s, f"{report} {fmt}", f"{path}.{fmt}", params, rows)
                r.ratio = round(r.rate / copy.rate, 3) if copy.rate else None
                r.note += f"; / serial COPY {r.rate / serial.rate:.2f}" if serial.rate else ""
                results.append(r)
    finally:
        if not (args.keep or args.db):
            asyncio.run(drop_database(admin_url, name))
        else:
            print(f'kept database {name} (drop it with DROP DATABASE "{name}")')

    csv_ratios = [r.ratio for r in results if r.name.endswith(" csv") and r.ratio is not None]
    serial_rates = {r.name.split()[0]: r.rate for r in results if r.name.endswith("COPY serial")}
    serial_ratios = [
        r.rate / serial_rates[r.name.split()[0]]
        for r in results
        if r.name.endswith(" csv") and serial_rates.get(r.name.split()[0])
    ]
    peaks = [r.peak_rss_mb for r in results if r.peak_rss_mb is not None]
    extra: dict[str, Any] = {
        f"target CSV >= {TARGET_RATIO:.0%} of raw COPY rows/s": (
            "n/a" if not csv_ratios else ("MET" if min(csv_ratios) >= TARGET_RATIO else "MISSED")
        ),
        "CSV / serial COPY": ("n/a" if not serial_ratios else round(min(serial_ratios), 3)),
        f"target peak RSS < {TARGET_RSS_MB:.0f} MB": (
            "n/a" if not peaks else ("MET" if max(peaks) < TARGET_RSS_MB else "MISSED")
        ),
    }
    print()
    print(table(results))
    print()
    for k, v in extra.items():
        print(f"{k}: {v}")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"reports-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "at": stamp,
                "args": {k: v for k, v in vars(args).items() if k != "redis_url"},
                "cpus": os.cpu_count(),
                "python": sys.version.split()[0],
                "seed": asdict(s) | {"api_key": "…"},
                "results": [asdict(r) | {"rows_per_s": round(r.rate)} for r in results],
                **extra,
            },
            indent=2,
            default=str,
        )
    )
    print(f"\nsaved {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
