"""Report exports built by the worker (issue 6): time, rows/s and peak memory of one export
run, and of its download from the stored chunks.

Run from the repository root::

    .venv/bin/python load_tests/bench_exports.py [--scale 1.0] [--formats csv,xlsx]

Seeds a scratch database like ``bench_reports.py`` (a payout of 100,000 lines and a year of
1,000,000 donations at ``--scale 1``), then for each report and format requests an export
and runs it in a fresh child process (``services.report_exports.run``: the worker's code
path; its own peak RSS), then reads it back chunk by chunk as a download does. Never
imported by the tests, and nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_reports import YEAR, Seeded, seed
from bench_webhooks import DEFAULT_DB, create_database, drop_database, migrate_database, with_db

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Result:
    name: str
    rows: int
    run_s: float
    rows_per_s: float
    size_mb: float
    chunks: int
    run_peak_rss_mb: float
    download_s: float
    download_mb_per_s: float


async def _runtime(db_url: str) -> Any:
    from donate.bootstrap import build_runtime
    from donate.settings import Settings

    settings = Settings(environment="test", database_url=db_url, redis_url="redis://x")
    return await build_runtime(settings, pool_min=1)


async def run_one(db_url: str, export_id: str) -> dict[str, Any]:
    """In the child: one run of the export, as the worker's job does it."""
    from donate.services import report_exports

    rt = await _runtime(db_url)
    try:
        t0 = time.monotonic()
        outcome = await report_exports.run(rt, uuid.UUID(export_id))
        secs = time.monotonic() - t0
    finally:
        await rt.pool.close()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"outcome": outcome, "seconds": secs, "peak_rss_mb": peak_kb / 1024}


async def request(db_url: str, org_id: str, kind: str, fmt: str, params: dict[str, str]) -> str:
    from donate.services import report_exports

    rt = await _runtime(db_url)
    try:
        row = await report_exports.request(
            rt, uuid.UUID(org_id), f"user:{uuid.uuid4()}", kind, fmt, params
        )
    finally:
        await rt.pool.close()
    return str(row.id)


async def read_back(db_url: str, org_id: str, export_id: str) -> tuple[float, int, int, int]:
    """Download the stored file as the route does: (seconds, bytes, rows, chunks)."""
    from donate.services import report_exports

    rt = await _runtime(db_url)
    try:
        t0 = time.monotonic()
        row, body = await report_exports.download(rt, uuid.UUID(org_id), uuid.UUID(export_id))
        size = 0
        async for piece in body:
            size += len(piece)
        secs = time.monotonic() - t0
    finally:
        await rt.pool.close()
    assert size == row.size_bytes and row.chunks is not None
    return secs, size, row.rows_done, row.chunks


def bench(db_url: str, s: Seeded, name: str, kind: str, fmt: str, params: dict[str, str]) -> Result:
    export_id = asyncio.run(request(db_url, s.org_id, kind, fmt, params))
    child = subprocess.run(
        [sys.executable, __file__, "--run", export_id, "--url", db_url],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    out = json.loads(child.stdout.strip().splitlines()[-1])
    assert out["outcome"] == "done", out
    dl_s, size, rows, chunks = asyncio.run(read_back(db_url, s.org_id, export_id))
    mb = size / 1e6
    return Result(
        name, rows, round(out["seconds"], 2), round(rows / out["seconds"]), round(mb, 1), chunks,
        round(out["peak_rss_mb"], 1), round(dl_s, 2), round(mb / dl_s, 1) if dl_s else 0.0,
    )  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scale", type=float, default=1.0, help="1.0: 100k-line payout, 1M gifts")
    p.add_argument("--only", default="payout,period", help="reports to run: payout,period")
    p.add_argument("--formats", default="csv,xlsx", help="formats to run: csv,xlsx,pdf")
    p.add_argument("--run", default="", help=argparse.SUPPRESS)  # child: run this export
    p.add_argument("--url", default="", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.run:
        print(json.dumps(asyncio.run(run_one(args.url, args.run))))
        return 0
    admin_url = os.environ.get("DONATE_BENCH_DATABASE_URL", DEFAULT_DB)
    name = f"donate_bench_exports_{os.getpid()}"
    db_url = with_db(admin_url, name)
    results: list[Result] = []
    try:
        asyncio.run(create_database(admin_url, name))
        asyncio.run(migrate_database(db_url))
        print(f"bench: seeding {name} with COPY (scale {args.scale}) …", flush=True)
        s = asyncio.run(seed(db_url, args.scale))
        print(f"  seeded in {s.seconds}s", flush=True)
        reports = {
            "payout": ("payout", {"payout_id": s.big_payout}),
            "period": ("period", {"from": f"{YEAR}-01-01", "to": f"{YEAR}-12-31"}),
        }
        for report in args.only.split(","):
            kind, params = reports[report]
            for fmt in args.formats.split(","):
                print(f"  {report} {fmt}: export run …", flush=True)
                r = bench(db_url, s, f"{report} {fmt}", kind, fmt, params)
                print(f"    {asdict(r)}", flush=True)
                results.append(r)
    finally:
        asyncio.run(drop_database(admin_url, name))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"exports-{stamp}.json"
    doc = {"scale": args.scale, "cpus": os.cpu_count(), "results": [asdict(r) for r in results]}
    out.write_text(json.dumps(doc, indent=2))
    print(f"\n{'export':<14}{'rows':>10}{'run s':>9}{'rows/s':>10}{'MB':>8}{'peak RSS':>10}"
          f"{'read s':>8}")  # fmt: skip
    for r in results:
        print(f"{r.name:<14}{r.rows:>10,}{r.run_s:>9}{r.rows_per_s:>10,}{r.size_mb:>8}"
              f"{r.run_peak_rss_mb:>10}{r.download_s:>8}")  # fmt: skip
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
