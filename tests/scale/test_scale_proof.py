"""The horizontal scale proof (issue 9), scaled down: ``load_tests/scale_proof.py`` as an
operator runs it, two ``donate serve`` and two ``donate worker`` processes against the test
PostgreSQL and Redis, webhooks tripled and shuffled, a receipt batch racing the per-gift
jobs; then its checker compares the database with the sandbox's ledger.

The scripts run as subprocesses (load_tests/ is never imported by the tests). The second
half proves the checker can fail: the books are broken three ways and each is reported.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

ROOT = Path(__file__).resolve().parents[2]
GIFTS = 60
HANG_GUARD_S = 600  # not a timing assertion: a wedged stack fails the test instead of CI


async def _run(*args: str | Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *map(str, args), cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), HANG_GUARD_S)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


@pytest.fixture(scope="module")
async def proof(
    db_url: str, services: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("scale")
    code, output = await _run(
        "load_tests/scale_proof.py", "--donations", GIFTS, "--concurrency", 8,
        "--database-url", db_url, "--redis-url", services["redis"],
        "--json", tmp / "run.json", "--ledger-out", tmp / "ledger.json",
    )  # fmt: skip
    assert code == 0, output
    result: dict[str, Any] = json.loads((tmp / "run.json").read_text())
    result["ledger_file"] = tmp / "ledger.json"
    return result


@pytest.mark.slow
async def test_two_webs_two_workers_lose_and_duplicate_nothing(proof: dict[str, Any]) -> None:
    check, run = proof["check"], proof["run"]
    assert check["ok"], check["discrepancies"]
    assert check["discrepancies"] == {}
    # Every donor got a checkout (one who is told to retry does), and all of it was checked.
    assert run["traffic"]["checkouts"]["201 created"] == GIFTS
    assert check["checked"]["provider payments (sandbox ledger)"] >= GIFTS
    assert check["checked"]["gifts due a receipt"] > 0
    assert check["info"]["provider payments by status"]["paid"] > 0
    # Both web processes took webhooks, and duplicates were really sent.
    per_web = run["requests per web process (via the proxy)"]
    assert len(per_web) == 2 and min(per_web.values()) > 0
    copies = [n for k, n in check["info"]["webhook deliveries"].items() if " copy " in k]
    assert sum(copies) > 0


@pytest.mark.slow
async def test_the_checker_reports_broken_books(
    proof: dict[str, Any], db_url: str, tmp_path: Path
) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        # A campaign total off by one cent, a gift's live receipt gone, a webhook applied twice.
        await conn.execute(
            "UPDATE campaigns SET raised_minor = raised_minor + 1 WHERE id = "
            "(SELECT campaign_id FROM donations WHERE counted_minor > 0 LIMIT 1)"
        )
        await conn.execute(
            "UPDATE receipt_donations SET active = false WHERE donation_id = "
            "(SELECT donation_id FROM receipt_donations WHERE active LIMIT 1)"
        )
        await conn.execute(
            """INSERT INTO donation_status_history
                   (organization_id, donation_id, from_status, to_status, source)
               SELECT organization_id, donation_id, from_status, to_status, source
               FROM donation_status_history WHERE to_status = 'paid' LIMIT 1"""
        )
    finally:
        await conn.close()
    code, output = await _run(
        "load_tests/ledger_check.py", "--database-url", db_url,
        "--ledger-file", proof["ledger_file"], "--json", tmp_path / "check.json",
    )  # fmt: skip
    assert code == 1, output
    found = json.loads((tmp_path / "check.json").read_text())["discrepancies"]
    assert set(found) == {
        "campaign total differs from the provider",
        "campaign total differs from its gifts",
        "receipt due but not issued (lost)",
        "receipt amount differs from its gifts",
        "status change recorded twice",
    }, output
    assert len(found["receipt due but not issued (lost)"]) == 1
    assert "DISCREPANCIES" in output
