"""Webhook ingest benchmark (issue 3): bare Starlette, ``pgbench -N``, Stripe webhooks, checkouts.

Run from the repository root::

    .venv/bin/python load_tests/bench_webhooks.py [--duration 10] [--concurrency 50]

Every server and every load generator is its own process (this script re-runs itself with a
hidden ``_bare`` / ``_load`` mode), so the generator never shares an event loop with the code
it measures. Never imported by the tests, and nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
WEBHOOK_SECRET = "whsec_bench"  # noqa: S105 - a throwaway test secret
TARGET_RATIO = 0.60
TARGET_P99_MS = 50.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- results


@dataclass
class Result:
    name: str
    rps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    ok: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)  # share of one core, per process group
    note: str = ""


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_ticks(pid: int) -> int:
    """utime + stime of one process (Linux /proc), in clock ticks; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5)


def postgres_pids() -> list[int]:
    # Backends come and go, but the pool and pgbench keep theirs for the whole run.
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    pids.append(int(entry.name))
    return pids


def machine_busy_ticks() -> tuple[int, int]:
    """(busy, total) ticks of all CPUs from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU used by named groups of processes between ``start`` and ``stop`` (1.0 = one core),
    plus PostgreSQL's backends and the whole machine. A backend that exits inside the window
    is lost, so the postgres figure is a lower bound (the pool keeps its backends)."""

    def __init__(self, groups: dict[str, list[int]], with_postgres: bool = True) -> None:
        self.groups = dict(groups)
        self.with_postgres = with_postgres
        self.before: dict[int, int] = {}
        self.machine: tuple[int, int] = (0, 0)
        self.started = 0.0

    def _pids(self) -> dict[str, list[int]]:
        groups = dict(self.groups)
        if self.with_postgres:
            groups["postgres"] = postgres_pids()
        return groups

    def start(self) -> None:
        self.before = {p: cpu_ticks(p) for pids in self._pids().values() for p in pids}
        self.machine, self.started = machine_busy_ticks(), time.monotonic()

    def stop(self) -> dict[str, float]:
        elapsed = time.monotonic() - self.started
        busy, total = machine_busy_ticks()
        out = {
            g: round(sum(cpu_ticks(p) - self.before.get(p, 0) for p in pids) / CLK_TCK / elapsed, 2)
            for g, pids in self._pids().items()
        }
        share = (busy - self.machine[0]) / max(1, total - self.machine[1])
        out["machine"] = round(share * (os.cpu_count() or 1), 2)
        return out


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _parent_death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the kernel send the child SIGTERM when we die, even by
    ``kill -9`` (Linux ``prctl(PR_SET_PDEATHSIG)``); None elsewhere. The signal follows the
    *thread* that started the child, so only children started from the main thread get it
    (one started from a short-lived thread would be stopped when that thread ends)."""
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved here: the child only calls it
    parent = os.getpid()

    def die_with_parent() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # we died before the line above: nobody will signal
            os._exit(1)

    return die_with_parent


def start_process(
    args: list[str],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    log: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a server; its stderr is piped, or appended to ``log`` for a long run (a pipe
    nobody reads fills up and blocks a process that logs a lot). It gets SIGTERM if this
    process dies without stopping it (``_parent_death_signal``)."""
    with contextlib.ExitStack() as stack:
        stderr: Any = subprocess.PIPE
        if log is not None:
            stderr = stack.enter_context(log.open("ab"))
        return subprocess.Popen(
            args,
            env={**os.environ, **(env or {})},
            cwd=cwd or ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,  # Ctrl-C of the bench reaches the servers only through us
            preexec_fn=_parent_death_signal(),  # only a prctl call: safe between fork and exec
        )


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"server exited with {proc.returncode}: {err[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code < 500:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def run_load(
    spec: dict[str, Any], clients: int, on_ready: Callable[[], None] | None = None
) -> dict[str, Any]:
    """Run ``clients`` generator processes sharing ``spec['concurrency']`` and merge them.
    Each prepares its requests first (bodies and signatures), then waits for the go: the
    load starts, and ``on_ready`` (the CPU meter) is called, only once all are ready."""
    procs = []
    outputs: list[Path] = []
    go = Path(tempfile.mkdtemp(prefix="bench-go-")) / "go"
    for i in range(clients):
        part = dict(spec)
        share = spec["concurrency"] // clients + (1 if i < spec["concurrency"] % clients else 0)
        fd, name = tempfile.mkstemp(prefix="bench-load-", suffix=".json")
        os.close(fd)
        part.update(concurrency=share, seed=f"{spec.get('seed', 'x')}{i}", out=name, go=str(go))
        outputs.append(Path(name))
        procs.append(
            subprocess.Popen(
                [sys.executable, __file__, "_load", json.dumps(part)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        )
    try:
        while not all(Path(f"{o}.ready").exists() for o in outputs):
            if any(p.poll() is not None for p in procs):
                break  # a generator died: _merge reports its error
            time.sleep(0.05)
        if on_ready is not None:
            on_ready()
        go.touch()
        return _merge(procs, outputs)
    finally:
        for path in outputs:
            path.unlink(missing_ok=True)
            Path(f"{path}.ready").unlink(missing_ok=True)
        go.unlink(missing_ok=True)
        go.parent.rmdir()


def _merge(procs: list[subprocess.Popen[bytes]], outputs: list[Path]) -> dict[str, Any]:
    merged: dict[str, Any] = {
        "ok": 0, "errors": 0, "latencies": [], "error_samples": [], "client_cpu": 0.0
    }  # fmt: skip
    for p, path in zip(procs, outputs, strict=True):
        _, err = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"load generator failed: {err.decode(errors='replace')[-2000:]}")
        part = json.loads(path.read_text())
        merged["ok"] += part["ok"]
        merged["errors"] += part["errors"]
        merged["latencies"] += part["latencies"]
        merged["error_samples"] += part["error_samples"]
        merged["client_cpu"] = round(merged["client_cpu"] + part["client_cpu"], 2)
        merged["window_s"] = part["window_s"]
    return merged


def measured(name: str, raw: dict[str, Any], cpu: dict[str, float]) -> Result:
    lat = sorted(raw["latencies"])
    p50, p99 = percentile(lat, 0.50), percentile(lat, 0.99)
    return Result(
        name=name,
        rps=round(raw["ok"] / raw["window_s"], 1),
        p50_ms=round(p50 * 1000, 2) if p50 is not None else None,
        p99_ms=round(p99 * 1000, 2) if p99 is not None else None,
        ok=raw["ok"],
        errors=raw["errors"],
        error_samples=sorted(set(raw["error_samples"]))[:5],
        cpu=cpu,
    )


# --------------------------------------------------------------------------- databases


def with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


async def create_database(admin_url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(admin_url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def migrate_database(url: str) -> None:
    import asyncpg

    from donate.db.migrate import migrate

    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()


async def count_rows(url: str, table: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()


async def flush_redis(url: str) -> None:
    # The bench Redis database is ours: stale arq jobs from an interrupted run would
    # otherwise reach the next run's demo worker.
    from redis.asyncio import Redis

    r = Redis.from_url(url)
    try:
        await r.flushdb()
    finally:
        await r.aclose()


# --------------------------------------------------------------------------- scenarios


def bench_bare(args: argparse.Namespace) -> Result:
    port = free_port()
    server = start_process([sys.executable, __file__, "_bare", str(port)])
    try:
        wait_http(f"http://127.0.0.1:{port}/", server)
        spec = {"kind": "bare", "url": f"http://127.0.0.1:{port}/", **_timing(args)}
        meter = CpuMeter({"server": [server.pid]}, with_postgres=False)
        raw = run_load(spec, args.clients, on_ready=meter.start)
        cpu = meter.stop()
        result = measured("bare starlette", raw, cpu)
        result.cpu["client"] = raw.get("client_cpu", 0.0)
        return result
    finally:
        stop_process(server)


def bench_pgbench(args: argparse.Namespace, admin_url: str, db_name: str) -> Result:
    exe = shutil.which("pgbench") or next(
        (str(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))), None
    )
    if exe is None:
        return Result("pgbench -N", note="pgbench not found")
    url = with_db(admin_url, db_name)
    asyncio.run(create_database(admin_url, db_name))
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([exe, "-i", "-q", url], check=True, capture_output=True, timeout=300)
        meter = CpuMeter({}, with_postgres=False)  # its backends exit before we can read them
        meter.start()
        run = subprocess.run(
            [
                exe,
                "-N",
                "-c",
                str(args.concurrency),
                "-j",
                "2",
                "-T",
                str(args.duration),
                "-l",
                "--log-prefix",
                f"{tmp}/pgbench",
                url,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=args.duration + 120,
        )
        cpu = meter.stop()
        tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", run.stdout)
        failed = re.search(r"number of failed transactions: (\d+)", run.stdout)
        # Per-transaction log lines: client_id transaction_no latency_us script_no epoch us.
        lat: list[float] = []
        for log in Path(tmp).glob("pgbench*"):
            for line in log.read_text().splitlines():
                cols = line.split()
                if len(cols) >= 3 and cols[2].isdigit():
                    lat.append(int(cols[2]) / 1e6)
    lat.sort()
    p50, p99 = percentile(lat, 0.5), percentile(lat, 0.99)
    return Result(
        name="pgbench -N",
        rps=float(tps.group(1)) if tps else None,
        p50_ms=round(p50 * 1000, 2) if p50 is not None else None,
        p99_ms=round(p99 * 1000, 2) if p99 is not None else None,
        ok=len(lat),
        errors=int(failed.group(1)) if failed else 0,
        cpu=cpu,
        note=f"-c {args.concurrency} -j 2 -T {args.duration}, scale 1 (TPC-B-like minus 2 updates)",
    )


def bench_webhooks(args: argparse.Namespace, db_url: str, redis_url: str) -> Result:
    port = free_port()
    env = {
        "DONATE_ENVIRONMENT": "development",
        "DONATE_DATABASE_URL": db_url,
        "DONATE_REDIS_URL": redis_url,
        "DONATE_SECRET_KEY": "bench-secret-key-" + "x" * 32,
        "DONATE_STRIPE_SECRET_KEY": "sk_test_x",
        "DONATE_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "DONATE_LOG_LEVEL": "WARNING",
        "DONATE_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    if args.db_pool_max:
        env["DONATE_DB_POOL_MAX"] = str(args.db_pool_max)
    cmd = [sys.executable, "-m", "donate.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = start_process(cmd, env)
    profiler: subprocess.Popen[bytes] | None = None
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", server)
        url = f"http://127.0.0.1:{port}/webhooks/stripe"
        before = asyncio.run(count_rows(db_url, "provider_events"))
        if args.profile:
            profiler = start_profiler(server.pid, args, "webhook")
        spec = {
            "kind": "webhook", "url": url, "secret": WEBHOOK_SECRET, **_timing(args),
            "prepare": args.prepare // max(1, args.clients),
        }  # fmt: skip
        meter = CpuMeter({"server": [server.pid]})
        raw = run_load(spec, args.clients, on_ready=meter.start)
        cpu = meter.stop()
        result = measured("stripe webhook ingest", raw, cpu)
        result.cpu["client"] = raw.get("client_cpu", 0.0)
        stored = asyncio.run(count_rows(db_url, "provider_events")) - before
        # Warm-up requests are stored too, so stored >= ok; fewer would mean lost events.
        result.note = f"{stored} events stored (incl. warm-up), outbox rows queued"
        return result
    finally:
        if profiler is not None:
            profiler.wait(timeout=args.duration + args.warmup + 60)
        stop_process(server)


def bench_checkouts(args: argparse.Namespace, db_url: str, redis_url: str) -> Result:
    port = free_port()
    while port + 1 > 65535 or not _port_free(port + 1):
        port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        # The demo writes ./.donate-demo: keep it out of the work tree.
        env = {"DONATE_DATABASE_URL": db_url, "DONATE_REDIS_URL": redis_url}
        env["DONATE_LOG_LEVEL"] = "WARNING"
        cmd = [sys.executable, "-m", "donate.cli", "demo", "--port", str(port)]
        server = start_process(cmd, env, cwd=Path(tmp))
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", server, timeout=120)
            demo_json = Path(tmp) / ".donate-demo" / "demo.json"
            while not demo_json.exists():
                time.sleep(0.1)
            demo = json.loads(demo_json.read_text())
            campaign = next(c for c in demo["campaigns"] if c["kind"] == "donation")
            spec = {
                "kind": "checkout",
                "url": f"http://127.0.0.1:{port}/api/v1/checkouts",
                "campaign_id": campaign["id"],
                **_timing(args),
            }
            meter = CpuMeter({"demo (web+sandbox+worker)": [server.pid]})
            raw = run_load(spec, args.clients, on_ready=meter.start)
            cpu = meter.stop()
            result = measured("checkouts (demo, stripe sandbox)", raw, cpu)
            result.cpu["client"] = raw.get("client_cpu", 0.0)
            result.note = "one process: web + provider sandbox + arq worker"
            return result
        finally:
            stop_process(server, timeout=30)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _timing(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "concurrency": args.concurrency,
        "duration": args.duration,
        "warmup": args.warmup,
        "seed": uuid.uuid4().hex[:8],
    }


def start_profiler(pid: int, args: argparse.Namespace, label: str) -> subprocess.Popen[bytes]:
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"profile-{label}-{stamp}.txt"
    print(f"  py-spy: collapsed stacks -> {out}", flush=True)
    return subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--rate",
            "250",
            "--format",
            "raw",
            "--duration",
            str(int(args.duration + args.warmup)),
            "--output",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# --------------------------------------------------------------------------- child modes


def serve_bare(port: int) -> None:
    """A one-route Starlette app with the same uvicorn settings as ``donate serve``."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def ok(request: Request) -> JSONResponse:
        await request.body()  # read like the webhook route does
        return JSONResponse({"received": True})

    app = Starlette(routes=[Route("/", ok, methods=["GET", "POST"])])
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        proxy_headers=True,
        access_log=False,
        log_config=None,
    )


# A checkout.session.completed event shaped like Stripe's (API 2024+ fixtures), about 3 KB.
def stripe_event(event_id: str, n: int) -> dict[str, Any]:
    session_id = f"cs_test_{uuid.uuid4().hex}{uuid.uuid4().hex[:26]}"
    created = int(time.time())
    donation_id = str(uuid.uuid4())
    session: dict[str, Any] = {
        "id": session_id,
        "object": "checkout.session",
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": 2500 + n % 100,
        "amount_total": 2500 + n % 100,
        "automatic_tax": {"enabled": False, "liability": None, "status": None},
        "billing_address_collection": None,
        "cancel_url": "https://dons.example.org/c/jardin/dons-2026?canceled=1",
        "client_reference_id": donation_id,
        "client_secret": None,
        "consent": None,
        "consent_collection": None,
        "created": created - 60,
        "currency": "eur",
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer": None,
        "customer_creation": "if_required",
        "customer_details": {
            "address": {
                "city": "Lyon",
                "country": "FR",
                "line1": "12 rue des Lilas",
                "line2": None,
                "postal_code": "69003",
                "state": None,
            },
            "email": f"donor{n}@example.org",
            "name": "Camille Martin",
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
        },
        "customer_email": f"donor{n}@example.org",
        "expires_at": created + 86400,
        "invoice": None,
        "invoice_creation": {"enabled": False, "invoice_data": None},
        "livemode": False,
        "locale": "fr",
        "metadata": {"donation_id": donation_id, "campaign": "dons-2026"},
        "mode": "payment",
        "payment_intent": f"pi_{uuid.uuid4().hex[:24]}",
        "payment_link": None,
        "payment_method_collection": "if_required",
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "payment_status": "paid",
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_details": None,
        "shipping_options": [],
        "status": "complete",
        "submit_type": "donate",
        "subscription": None,
        "success_url": "https://dons.example.org/return?session_id={CHECKOUT_SESSION_ID}",
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": None,
    }
    return {
        "id": event_id,
        "object": "event",
        "account": "acct_1BenchJardin0001",
        "api_version": "2024-06-20",
        "created": created,
        "data": {"object": session},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "checkout.session.completed",
    }


def stripe_signature(body: bytes, secret: str) -> str:
    # Same scheme as stripe.WebhookSignature.generate_signature_header: v1 = HMAC("t.body").
    t = int(time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def checkout_body(campaign_id: str, n: int) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "amount_minor": 2500,
        "currency": "EUR",
        "provider": "stripe",
        "donor": {
            "email": f"donor{n}@example.org",
            "first_name": "Camille",
            "last_name": "Martin",
            "address_line1": "12 rue des Lilas",
            "postal_code": "69003",
            "city": "Lyon",
            "country": "FR",
        },
        "wants_receipt": True,
    }


PreparedRequest = tuple[str, bytes | None, dict[str, str]]


def request_for(spec: dict[str, Any], n: int) -> PreparedRequest:
    kind = spec["kind"]
    if kind == "bare":
        return "GET", None, {}
    if kind == "webhook":
        body = json.dumps(stripe_event(f"evt_{spec['seed']}{n:010d}", n)).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": stripe_signature(body, spec["secret"]),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        return "POST", body, headers
    body = json.dumps(checkout_body(spec["campaign_id"], n)).encode()
    return "POST", body, {"Content-Type": "application/json"}


async def generate(spec: dict[str, Any], prepared: list[PreparedRequest]) -> dict[str, Any]:
    """Closed loop: ``concurrency`` workers, each sends its next request when the last ends.
    Counts only requests that start after the warm-up and end before the deadline."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=0, force_close=False, ttl_dns_cache=None)
    timeout = aiohttp.ClientTimeout(total=30)
    start = time.perf_counter()
    window_start = start + spec["warmup"]
    deadline = window_start + spec["duration"]
    latencies: list[float] = []
    samples: list[str] = []
    counts = {"ok": 0, "errors": 0, "n": 0}
    expected = 201 if spec["kind"] == "checkout" else 200

    async def worker(session: aiohttp.ClientSession) -> None:
        while True:
            counts["n"] += 1
            n = counts["n"]
            method, body, headers = prepared[n - 1] if n <= len(prepared) else request_for(spec, n)
            t0 = time.perf_counter()
            if t0 >= deadline:
                return
            try:
                async with session.request(method, spec["url"], data=body, headers=headers) as r:
                    payload = await r.read()
                    status = r.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                status, payload = 0, repr(exc).encode()
            t1 = time.perf_counter()
            if t0 < window_start or t1 > deadline:
                continue
            if status == expected:
                counts["ok"] += 1
                latencies.append(t1 - t0)
            else:
                counts["errors"] += 1
                if len(samples) < 20:
                    samples.append(f"{status}: {payload[:160].decode(errors='replace')}")

    cpu0 = time.process_time()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(spec["concurrency"])))
    cpu = time.process_time() - cpu0
    return {
        "ok": counts["ok"],
        "errors": counts["errors"],
        "latencies": latencies,
        "error_samples": samples,
        "window_s": spec["duration"],
        "client_cpu": round(cpu / (time.perf_counter() - start), 2),
    }


def run_generator(spec: dict[str, Any]) -> None:
    import uvloop

    # Requests are built before the clock starts (a 3 KB JSON body and its HMAC cost about
    # as much CPU as sending them): the generator then takes less of the 2 cores it shares
    # with the servers it measures. Past the prepared ones, they are built on the fly.
    prepared = [request_for(spec, n) for n in range(1, spec.get("prepare", 0) + 1)]
    Path(f"{spec['out']}.ready").touch()
    while not Path(spec["go"]).exists():
        time.sleep(0.01)
    out = uvloop.run(generate(spec, prepared))
    # A file, not stdout: the event loop may leave the inherited pipe non-blocking, and a
    # large result (one latency per request) then stops short.
    Path(spec["out"]).write_text(json.dumps(out))


# --------------------------------------------------------------------------- report


def save_results(kind: str, payload: dict[str, Any]) -> Path:
    """Write ``results/<kind>-<UTC stamp>.json`` with the machine's context; its path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"{kind}-{stamp}.json"
    context = {"at": stamp, "cpus": os.cpu_count(), "python": sys.version.split()[0]}
    out.write_text(json.dumps({**context, **payload}, indent=2, default=str))
    return out


def ratio(a: Result | None, b: Result | None) -> float | None:
    if a is None or b is None or a.rps is None or not b.rps:
        return None
    return round(a.rps / b.rps, 3)


def fmt(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def report(results: list[Result], extra: dict[str, Any]) -> str:
    lines = [
        f"{'scenario':<34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ok':>8} {'errors':>7}  cpu",
        "-" * 100,
    ]
    for r in results:
        cpu = " ".join(f"{k}={v:.2f}" for k, v in r.cpu.items())
        lines.append(
            f"{r.name:<34} {fmt(r.rps):>9} {fmt(r.p50_ms, '.2f'):>8} {fmt(r.p99_ms, '.2f'):>8} "
            f"{r.ok:>8} {r.errors:>7}  {cpu}"
        )
        if r.note:
            lines.append(f"{'':<36}{r.note}")
        for sample in r.error_samples:
            lines.append(f"{'':<36}! {sample}")
    lines.append("")
    for key, value in extra.items():
        lines.append(f"{key}: {value}")
    return "\n".join(lines)


@contextlib.contextmanager
def databases(admin_url: str, names: list[str]) -> Iterator[None]:
    try:
        yield
    finally:
        for name in names:
            with contextlib.suppress(Exception):
                asyncio.run(drop_database(admin_url, name))


def main() -> int:
    if len(sys.argv) >= 3 and sys.argv[1] == "_bare":
        serve_bare(int(sys.argv[2]))
        return 0
    if len(sys.argv) >= 3 and sys.argv[1] == "_load":
        run_generator(json.loads(sys.argv[2]))
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=int, default=10, help="measured seconds per scenario")
    p.add_argument("--warmup", type=int, default=2, help="unmeasured seconds before each")
    p.add_argument("--concurrency", type=int, default=50, help="concurrent connections")
    p.add_argument("--clients", type=int, default=1, help="load generator processes")
    p.add_argument(
        "--prepare",
        type=int,
        default=60_000,
        help="webhook requests built before the clock starts (0: build each on the fly)",
    )
    p.add_argument("--db-pool-max", type=int, default=0, help="DONATE_DB_POOL_MAX (0: default)")
    p.add_argument(
        "--only",
        default="bare,pgbench,webhook,checkout",
        help="comma-separated scenarios to run (ratios need bare, pgbench and webhook)",
    )
    p.add_argument("--profile", action="store_true", help="py-spy the webhook server")
    args = p.parse_args()

    admin_url = os.environ.get("DONATE_BENCH_DATABASE_URL", DEFAULT_DB)
    redis_url = os.environ.get("DONATE_BENCH_REDIS_URL", DEFAULT_REDIS)
    base = f"donate_bench_{os.getpid()}"
    app_db, demo_db, pgb_db = base, f"{base}_demo", f"{base}_pgbench"
    sys.path.insert(0, str(ROOT))  # donate.db.migrate, when run from elsewhere

    results: list[Result] = []
    with databases(admin_url, [app_db, demo_db, pgb_db]):
        asyncio.run(flush_redis(redis_url))
        for name in (app_db, demo_db):
            asyncio.run(create_database(admin_url, name))
            asyncio.run(migrate_database(with_db(admin_url, name)))
        print(f"bench: {args.concurrency} connections, {args.duration}s (+{args.warmup}s warm-up)")
        print(f"  cpus={os.cpu_count()}, generator processes={args.clients}", flush=True)
        only = set(args.only.split(","))
        bare = pgb = hook = None
        if "bare" in only:
            print("  bare starlette ...", flush=True)
            bare = bench_bare(args)
            results.append(bare)
        if "pgbench" in only:
            print("  pgbench -N ...", flush=True)
            pgb = bench_pgbench(args, admin_url, pgb_db)
            results.append(pgb)
        if "webhook" in only:
            print("  stripe webhook ingest ...", flush=True)
            hook = bench_webhooks(args, with_db(admin_url, app_db), redis_url)
            results.append(hook)
        if "checkout" in only:
            print("  checkouts ...", flush=True)
            try:
                results.append(bench_checkouts(args, with_db(admin_url, demo_db), redis_url))
            except Exception as exc:  # the headline figures stand without this one
                results.append(Result("checkouts (demo)", note=f"failed: {exc}"[:300]))
        asyncio.run(flush_redis(redis_url))

    ingest_vs_pg = ratio(hook, pgb)
    extra: dict[str, Any] = {
        "webhook / pgbench -N": ingest_vs_pg,
        "webhook / bare starlette": ratio(hook, bare),
        f"target ingest >= {TARGET_RATIO:.0%} of pgbench -N": (
            "n/a" if ingest_vs_pg is None else ("MET" if ingest_vs_pg >= TARGET_RATIO else "MISSED")
        ),
        f"target p99 < {TARGET_P99_MS:.0f} ms": (
            "n/a"
            if hook is None or hook.p99_ms is None
            else ("MET" if hook.p99_ms < TARGET_P99_MS and hook.errors == 0 else "MISSED")
        ),
    }
    print()
    print(report(results, extra))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"bench-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "at": stamp,
                "args": vars(args),
                "cpus": os.cpu_count(),
                "python": sys.version.split()[0],
                "results": [asdict(r) for r in results],
                **extra,
            },
            indent=2,
        )
    )
    print(f"\nsaved {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
