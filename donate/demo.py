"""``donate demo`` and ``donate sandbox``: the whole platform in one process.

Web app, arq worker (with the outbox relay) and the provider sandbox run as tasks of one
event loop; PostgreSQL and Redis are the configured ones or embedded ones kept under
``./.donate-demo/``. Ctrl-C (or SIGTERM) stops the servers, the worker, then the embedded
databases, so nothing is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import uvicorn
from arq.connections import ArqRedis

from donate.bootstrap import build_runtime
from donate.db.migrate import migrate
from donate.embedded import EmbeddedServices
from donate.jobs.worker import build_worker
from donate.mailsink import smtp_sink
from donate.observability import setup_logging
from donate.sandbox.app import create_sandbox_app
from donate.sandbox.config import SandboxAccount, SandboxConfig, demo_accounts
from donate.services.seed import seed_demo
from donate.settings import Settings
from donate.web.app import create_app

DEMO_DIR = Path(".donate-demo")
SANDBOX_KEY = "sk_test_sandbox"


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to us (several servers share a loop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _server(app: Any, host: str, port: int) -> _Server:
    return _Server(
        uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="on")
    )


def _prepare_dir(fresh: bool) -> None:
    if fresh and DEMO_DIR.exists():
        shutil.rmtree(DEMO_DIR)
    DEMO_DIR.mkdir(exist_ok=True)


def _secret(root: Path) -> str:
    path = root / "secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _serve_until(
    stop: asyncio.Event, servers: list[_Server], tasks: list[asyncio.Task[Any]]
) -> None:
    serving = [asyncio.create_task(s.serve()) for s in servers]
    await stop.wait()
    for s in servers:
        s.should_exit = True
    for t in tasks:
        t.cancel()
    await asyncio.gather(*serving, *tasks, return_exceptions=True)


def sandbox_config(sandbox_url: str, webhook_url: str | None, webhook_secret: str) -> SandboxConfig:
    return SandboxConfig(
        public_url=sandbox_url,
        stripe_webhook_url=webhook_url,
        stripe_webhook_secret=webhook_secret,
        stripe_platform_key=SANDBOX_KEY,
        accounts=demo_accounts(),
    )


def _accounts(provider: str) -> list[SandboxAccount]:
    return [a for a in demo_accounts() if a.provider == provider]


async def run_demo(*, host: str, port: int, fresh: bool) -> None:
    started = time.monotonic()
    _prepare_dir(fresh)
    setup_logging(os.environ.get("DONATE_LOG_LEVEL", "WARNING"), json_lines=False)
    secret = _secret(DEMO_DIR)
    public_url = f"http://{host}:{port}"
    sandbox_url = f"http://{host}:{port + 1}"
    webhook_secret = "whsec_" + secret[:32]
    embedded = EmbeddedServices(DEMO_DIR)
    mail = contextlib.AsyncExitStack()
    try:
        database_url = os.environ.get("DONATE_DATABASE_URL") or embedded.start_postgres()
        redis_url = os.environ.get("DONATE_REDIS_URL") or embedded.start_redis()
        # Every e-mail (receipts…) lands as a .eml file in demo.json's smtp_outbox.
        smtp_url = await mail.enter_async_context(smtp_sink(DEMO_DIR / "mail", host))
        settings = Settings(
            environment="demo",
            database_url=database_url,
            redis_url=redis_url,
            public_url=public_url,
            secret_key=secret,
            stripe_secret_key=SANDBOX_KEY,
            stripe_api_base=f"{sandbox_url}/stripe",
            stripe_webhook_secret=webhook_secret,
            mollie_api_base=f"{sandbox_url}/mollie",
            sandbox_enabled=True,
            smtp_url=smtp_url,
        )
        conn = await asyncpg.connect(database_url)
        try:
            applied = await migrate(conn)
        finally:
            await conn.close()
        runtime = await build_runtime(settings)
        stripe_accounts = _accounts("stripe")
        mollie_accounts = _accounts("mollie")
        seeded = await seed_demo(
            runtime,
            secret=secret,
            stripe_accounts=(stripe_accounts[0].account_id, stripe_accounts[1].account_id),
            mollie_accounts=(
                (mollie_accounts[0].account_id, mollie_accounts[0].credentials[0]),
                (mollie_accounts[1].account_id, mollie_accounts[1].credentials[0]),
            ),
            admin_password="demo-admin-" + secret[:6],
            finance_password="demo-finance-" + secret[6:12],
        )
        demo = {
            "public_url": public_url,
            "sandbox_url": sandbox_url,
            **seeded,
            "smtp_outbox": str((DEMO_DIR / "mail").resolve()),
            "stripe_webhook_secret": webhook_secret,
            "database_url": database_url,
            "redis_url": redis_url,
        }
        (DEMO_DIR / "mail").mkdir(exist_ok=True)
        (DEMO_DIR / "demo.json").write_text(json.dumps(demo, indent=2, ensure_ascii=False))
        redis = ArqRedis.from_url(redis_url)
        worker = build_worker(runtime, redis)
        stop = _stop_event()
        web = _server(create_app(settings, runtime=runtime), host, port)
        sandbox = _server(
            create_sandbox_app(
                sandbox_config(sandbox_url, f"{public_url}/webhooks/stripe", webhook_secret)
            ),
            host,
            port + 1,
        )
        worker_task = asyncio.create_task(worker.async_run())

        campaign_slug = seeded["campaigns"][0]["slug"]

        async def announce() -> None:
            while not (web.started and sandbox.started):  # noqa: ASYNC110 - uvicorn exposes a flag
                await asyncio.sleep(0.05)
            took = time.monotonic() - started
            print(
                f"donate demo ready in {took:.1f}s ({len(applied)} migration(s) applied)\n"
                f"  platform  {public_url}\n  sandbox   {sandbox_url}\n"
                f"  campaign  {public_url}/c/{seeded['org_slug']}/{campaign_slug}\n"
                f"  admin     {seeded['admin_email']} / {seeded['admin_password']}\n"
                f"  API key   {seeded['api_key']}\n"
                f"  details   {(DEMO_DIR / 'demo.json').resolve()}\nCtrl-C to stop.",
                flush=True,
            )

        try:
            await _serve_until(stop, [web, sandbox], [worker_task, asyncio.create_task(announce())])
        finally:
            with contextlib.suppress(Exception):
                await worker.close()
            await runtime.pool.close()
        print("donate demo stopped", flush=True)
    finally:
        await mail.aclose()
        embedded.close()


async def run_sandbox_only(settings: Settings, *, host: str, port: int) -> None:
    """``donate sandbox``: the emulator alone (webhooks to DONATE_PUBLIC_URL/webhooks/stripe)."""
    setup_logging(settings.log_level, json_lines=False)
    secret = (
        settings.stripe_webhook_secret.get_secret_value()
        if settings.stripe_webhook_secret
        else "whsec_sandbox"
    )
    app = create_sandbox_app(
        sandbox_config(f"http://{host}:{port}", f"{settings.public_url}/webhooks/stripe", secret)
    )
    stop = _stop_event()
    await _serve_until(stop, [_server(app, host, port)], [])
