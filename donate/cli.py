"""``donate`` command line: the composition roots (the only readers of settings)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from pydantic import ValidationError

from donate.settings import Settings


class UsageError(Exception):
    """A configuration problem reported as one line, never a traceback."""


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"])
        name = f"DONATE_{field.upper()}" if field else "settings"
        message = first["msg"].removeprefix("Value error, ")
        raise UsageError(f"{name}: {message}") from None


def require(settings: Settings, *names: str) -> None:
    for name in names:
        if getattr(settings, name) is None:
            raise UsageError(f"DONATE_{name.upper()} is not set")


def cmd_migrate(args: argparse.Namespace) -> None:
    settings = load_settings()
    require(settings, "database_url")
    assert settings.database_url is not None

    async def run() -> list[str]:
        import asyncpg

        from donate.db.migrate import migrate

        try:
            conn = await asyncpg.connect(settings.database_url, timeout=10)
        except (OSError, asyncpg.PostgresError) as exc:
            raise UsageError(f"DONATE_DATABASE_URL: cannot connect ({exc})") from None
        try:
            return await migrate(conn)
        finally:
            await conn.close()

    applied = asyncio.run(run())
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))


def require_redis(settings: Settings) -> None:
    if not settings.redis_configured:
        raise UsageError("DONATE_REDIS_URL (or DONATE_REDIS_SENTINELS) is not set")


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from donate.observability import init_sentry, setup_logging
    from donate.web.app import create_app

    settings = load_settings()
    require(settings, "database_url")
    require_redis(settings)
    setup_logging(settings.log_level, json_lines=settings.log_json)
    init_sentry(settings)
    uvicorn.run(
        create_app(settings, freeze_gc=True),
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        proxy_headers=True,
        # The same proxies the checkout guard believes (web.client_ip), not uvicorn's default.
        forwarded_allow_ips=list(settings.trusted_proxies),
        access_log=False,
        log_config=None,
    )


def cmd_worker(args: argparse.Namespace) -> None:
    from donate.jobs.process import run_worker_process

    settings = load_settings()
    require(settings, "database_url")
    require_redis(settings)
    asyncio.run(run_worker_process(settings))


def cmd_sandbox(args: argparse.Namespace) -> None:
    from donate.demo import run_sandbox_only

    settings = load_settings(sandbox_enabled=True, environment="development")
    asyncio.run(run_sandbox_only(settings, host=args.host, port=args.port))


def cmd_demo(args: argparse.Namespace) -> None:
    from donate.demo import run_demo

    asyncio.run(run_demo(host=args.host, port=args.port, fresh=args.fresh))


def cmd_receipts_annual(args: argparse.Namespace) -> None:
    from donate.bootstrap import build_runtime
    from donate.services import receipts_annual
    from donate.services.errors import ServiceError

    settings = load_settings()
    require(settings, "database_url")

    def progress(done: int, total: int) -> None:
        # A plain counter on stderr: readable in a terminal and in a log file alike.
        end = "\n" if done >= total else ""
        print(f"\rannual receipts {args.year}: {done}/{total} donors", end=end, file=sys.stderr)

    async def run() -> receipts_annual.AnnualRun:
        rt = await build_runtime(settings, pool_min=1)
        try:
            org_id = await receipts_annual.org_id_of(rt, args.org)
            return await receipts_annual.issue_annual(rt, org_id, args.year, progress=progress)
        except ServiceError as exc:
            raise UsageError(str(getattr(exc, "errors", None) or exc)) from None
        finally:
            await rt.pool.close()

    result = asyncio.run(run())
    print(
        f"{result.issued} annual receipt(s) issued for {result.donors} donor(s)"
        f" ({args.org}, {args.year})"
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="donate", description="Donation platform for associations")
    sub = p.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="everything in one process, with demo data")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--fresh", action="store_true", help="wipe ./.donate-demo first")
    demo.set_defaults(func=cmd_demo)
    serve = sub.add_parser("serve", help="production web server")
    serve.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a server listens on all interfaces
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("worker", help="job worker (arq) with the outbox relay").set_defaults(
        func=cmd_worker
    )
    sub.add_parser("migrate", help="apply pending migrations").set_defaults(func=cmd_migrate)
    sandbox = sub.add_parser("sandbox", help="the provider sandbox alone")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8001)
    sandbox.set_defaults(func=cmd_sandbox)
    receipts = sub.add_parser("receipts", help="fiscal receipts").add_subparsers(
        dest="receipts_command", required=True
    )
    annual = receipts.add_parser("annual", help="issue the annual summary receipts of a year")
    annual.add_argument("--org", required=True, help="the association's slug")
    annual.add_argument("--year", type=int, required=True)
    annual.set_defaults(func=cmd_receipts_annual)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except UsageError as exc:
        print(f"donate: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
