"""A multi-process platform on one machine, for the scale proof and the fault drill.

One provider sandbox (``donate sandbox``), N web processes (``donate serve``) and N workers
(``donate worker``) against one PostgreSQL database and one Redis database, seeded like
``donate demo`` (two associations, each with Stripe and Mollie sandbox accounts and two
receipt-eligible campaigns). In front of the web processes, a round-robin HTTP proxy is
the platform's public URL: the sandbox sends every webhook (Stripe's Connect endpoint,
Mollie's per-payment ``webhookUrl``) there, and the proxy hands each request to the next
web process, as a load balancer would. Donors' checkouts go to the web processes directly,
in turn (``Stack.web_urls``).

Used as a library by ``scale_proof.py`` and ``fault_drill.py``; run alone it starts the
stack on a database URL and waits for Ctrl-C::

    .venv/bin/python load_tests/stack.py --database-url postgresql://… --redis-url redis://…
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench_webhooks import ROOT, free_port, migrate_database, start_process, stop_process, wait_http

SECRET = "stack-secret-key-for-load-tests-0123456789"  # noqa: S105 - test-only
WEBHOOK_SECRET = "whsec_stack_load_tests"  # noqa: S105 - what the sandbox signs with
SANDBOX_KEY = "sk_test_sandbox"  # the sandbox's platform key (donate.demo.SANDBOX_KEY)


class Stack:
    """Start with :meth:`start`, always :meth:`stop` (a context manager does both)."""

    def __init__(
        self,
        database_url: str,
        redis_url: str,
        log_dir: Path,
        *,
        webs: int = 2,
        workers: int = 2,
        env: dict[str, str] | None = None,
    ) -> None:
        self.database_url = database_url
        self.redis_url = redis_url
        self.log_dir = log_dir
        self.web_count = webs
        self.worker_count = workers
        self.extra_env = env or {}
        self.sandbox_port = free_port()
        self.proxy_port = free_port()
        self.web_ports = [free_port() for _ in range(webs)]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.seeded: dict[str, Any] = {}
        self._worker_serial = itertools.count(1)
        self.workers: list[str] = []  # names of the live workers, in start order

    # -- addresses -----------------------------------------------------------------

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    @property
    def public_url(self) -> str:
        """The proxy: what the platform tells providers and donors."""
        return f"http://127.0.0.1:{self.proxy_port}"

    @property
    def web_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.web_ports]

    def env(self) -> dict[str, str]:
        return {
            "DONATE_ENVIRONMENT": "development",
            "DONATE_DATABASE_URL": self.database_url,
            "DONATE_REDIS_URL": self.redis_url,
            "DONATE_SECRET_KEY": SECRET,
            "DONATE_PUBLIC_URL": self.public_url,
            "DONATE_STRIPE_SECRET_KEY": SANDBOX_KEY,
            "DONATE_STRIPE_API_BASE": f"{self.sandbox_url}/stripe",
            "DONATE_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "DONATE_MOLLIE_API_BASE": f"{self.sandbox_url}/mollie",
            "DONATE_LOG_LEVEL": "WARNING",
            "DONATE_LOG_JSON": "false",
            # Every donor here comes from 127.0.0.1: per-IP checkout limits would refuse them.
            "DONATE_CHECKOUT_RATE_LIMITS": "false",
            **self.extra_env,
        }

    def settings(self) -> Any:
        """The processes' settings, for work done from this process (seed, queueing)."""
        from donate.settings import Settings

        values = {k.removeprefix("DONATE_").lower(): v for k, v in self.env().items()}
        return Settings(_env_file=None, **values)

    # -- life cycle ----------------------------------------------------------------

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        asyncio.run(migrate_database(self.database_url))
        self.seeded = asyncio.run(seed(self.settings()))
        cli = [sys.executable, "-m", "donate.cli"]
        self._spawn("sandbox", [*cli, "sandbox", "--port", str(self.sandbox_port)])
        self._spawn(
            "proxy", [sys.executable, __file__, "_proxy", str(self.proxy_port), *self.web_urls]
        )
        for i, port in enumerate(self.web_ports, 1):
            self._spawn(f"web{i}", [*cli, "serve", "--host", "127.0.0.1", "--port", str(port)])
        for _ in range(self.worker_count):
            self.start_worker()
        wait_http(f"{self.sandbox_url}/", self.procs["sandbox"], timeout=120)
        wait_http(f"{self.public_url}/_proxy/stats", self.procs["proxy"], timeout=120)
        for i, url in enumerate(self.web_urls, 1):
            wait_http(f"{url}/healthz", self.procs[f"web{i}"], timeout=120)
        self.check_alive()

    def stop(self) -> None:
        """Stop every process, last started first; one that fails to stop is killed and the
        others still get their turn."""
        failure: BaseException | None = None
        for name in reversed(list(self.procs)):
            proc = self.procs.pop(name)
            try:
                stop_process(proc, timeout=20)
            except BaseException as exc:
                proc.kill()
                failure = failure or exc
        if failure is not None:
            raise failure

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen[bytes]:
        proc = start_process(cmd, self.env(), log=self.log_dir / f"{name}.log")
        self.procs[name] = proc
        return proc

    def check_alive(self) -> None:
        dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
        if dead:
            tails = "\n".join(f"--- {n}.log\n{self.log_tail(n)}" for n in dead)
            raise RuntimeError(f"stack process(es) exited: {dead}\n{tails}")

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    # -- workers -------------------------------------------------------------------

    def start_worker(self) -> str:
        name = f"worker{next(self._worker_serial)}"
        self._spawn(name, [sys.executable, "-m", "donate.cli", "worker"])
        self.workers.append(name)
        return name

    def kill_worker(self, name: str) -> int:
        """``kill -9``: no shutdown hook runs, jobs in flight are cut mid-way."""
        proc = self.procs.pop(name)
        self.workers.remove(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return proc.pid

    # -- observation ---------------------------------------------------------------

    def proxy_stats(self) -> dict[str, int]:
        import httpx

        stats: dict[str, int] = httpx.get(f"{self.public_url}/_proxy/stats", timeout=10).json()
        return stats


async def seed(settings: Any) -> dict[str, Any]:
    """The demo seed (``donate.services.seed``) with the sandbox's demo accounts."""
    from donate.bootstrap import build_runtime
    from donate.sandbox.config import demo_accounts
    from donate.services.seed import seed_demo

    rt = await build_runtime(settings, pool_min=1)
    stripe = [a for a in demo_accounts() if a.provider == "stripe"]
    mollie = [a for a in demo_accounts() if a.provider == "mollie"]
    try:
        return await seed_demo(
            rt,
            secret=SECRET,
            stripe_accounts=(stripe[0].account_id, stripe[1].account_id),
            mollie_accounts=(
                (mollie[0].account_id, mollie[0].credentials[0]),
                (mollie[1].account_id, mollie[1].credentials[0]),
            ),
            admin_password=SECRET + "-admin",
            finance_password=SECRET + "-finance",
        )
    finally:
        await rt.pool.close()


# --------------------------------------------------------------------------- proxy


def serve_proxy(port: int, backends: list[str]) -> None:
    """Round-robin HTTP proxy, one request at a time to the next backend (a TCP proxy
    would pin the sandbox's keep-alive connection to one process). ``GET /_proxy/stats``
    counts the requests each backend answered."""
    import httpx
    import uvicorn

    turn = itertools.count()
    answered = dict.fromkeys(backends, 0)
    client = httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=256))
    hop = {b"host", b"connection", b"keep-alive", b"transfer-encoding", b"content-length"}

    async def respond(send: Any, status: int, body: bytes, headers: list[Any]) -> None:
        headers = [*headers, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await client.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if scope["path"] == "/_proxy/stats":
            await respond(send, 200, json.dumps(answered).encode(), [])
            return
        backend = backends[next(turn) % len(backends)]
        query = scope["query_string"].decode()
        url = backend + scope["path"] + (f"?{query}" if query else "")
        headers = [(k, v) for k, v in scope["headers"] if k not in hop]
        try:
            r = await client.request(scope["method"], url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            await respond(send, 502, f"proxy: {type(exc).__name__}".encode(), [])
            return
        answered[backend] += 1
        out = [
            (k.encode(), v.encode())
            for k, v in r.headers.items()
            if k.encode() not in hop and k != "content-encoding"  # httpx decoded the body
        ]
        await respond(send, r.status_code, r.content, out)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def main() -> int:
    if len(sys.argv) >= 4 and sys.argv[1] == "_proxy":
        serve_proxy(int(sys.argv[2]), sys.argv[3:])
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--database-url", required=True, help="a database (migrated and seeded here)")
    p.add_argument("--redis-url", required=True)
    p.add_argument("--webs", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--log-dir", type=Path, default=ROOT / "load_tests" / "results" / "stack")
    args = p.parse_args()
    exit_on_signals()
    with Stack(
        args.database_url, args.redis_url, args.log_dir, webs=args.webs, workers=args.workers
    ) as stack:
        print(
            json.dumps(
                {
                    "public_url": stack.public_url,
                    "web_urls": stack.web_urls,
                    "sandbox_url": stack.sandbox_url,
                    "logs": str(args.log_dir),
                    **stack.seeded,
                },
                indent=2,
            ),
            flush=True,
        )
        while True:
            time.sleep(1)
            stack.check_alive()


def exit_on_signals() -> None:
    """SIGTERM, SIGINT (Ctrl-C) and SIGHUP unwind like an exception, so ``Stack.__exit__``
    stops every child: they run in sessions of their own (a Ctrl-C in the terminal reaches
    them only through us) and would otherwise outlive us. Once stopping, further signals are
    ignored, so a second Ctrl-C cannot cut the stop short and leave children behind. If we
    are killed outright (``kill -9``), the children get SIGTERM from the kernel
    (``bench_webhooks.start_process``: ``PR_SET_PDEATHSIG``, Linux)."""
    handled = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

    def stop(signum: int, _frame: object) -> None:
        for sig in handled:
            signal.signal(sig, signal.SIG_IGN)
        print(f"stack: {signal.Signals(signum).name}, stopping ...", file=sys.stderr, flush=True)
        raise SystemExit(128 + signum)

    for sig in handled:
        signal.signal(sig, stop)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
