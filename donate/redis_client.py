"""The one place Redis clients are built: from ``DONATE_REDIS_URL``, or through Sentinel.

Through Sentinel the client asks the sentinels for the master's address whenever it opens a
connection, and drops its connections when the address changed or the server it talks to
answers READONLY (a demoted master): a failover is followed without a restart, at the cost
of the commands in flight at that moment (callers already treat Redis errors as transient;
see infra/RUNBOOK.md "Redis loss" for what that means for arq jobs).
"""

from __future__ import annotations

from typing import Any

from arq.connections import ArqRedis
from redis.asyncio.sentinel import Sentinel

from donate.settings import Settings

# The web answers within a request's time or not at all: a slow Redis must fail fast
# (``/readyz`` says so, the checkout guard lets the gift through). The worker waits.
WEB_TIMEOUTS: dict[str, Any] = {
    "socket_connect_timeout": 1,
    "socket_timeout": 2,
    "retry_on_timeout": False,
}
# Asking a sentinel is one short command; a dead one is skipped for the next in the list.
SENTINEL_TIMEOUTS: dict[str, Any] = {"socket_connect_timeout": 1, "socket_timeout": 2}


class SentinelArqRedis(ArqRedis):
    """An ArqRedis on a Sentinel-managed pool, which also closes its sentinel connections."""

    sentinel_manager: Sentinel | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        if self.sentinel_manager is not None:
            for node in self.sentinel_manager.sentinels:
                await node.aclose()


def connect(settings: Settings, *, for_web: bool) -> ArqRedis:
    """A client for the configured Redis; connections open lazily, on first use, so this
    never fails while Redis is down. The caller closes it (``aclose``)."""
    options = dict(WEB_TIMEOUTS) if for_web else {}
    if settings.redis_sentinels:
        return _through_sentinel(settings, options)
    if settings.redis_url is None:
        raise ValueError("neither DONATE_REDIS_URL nor DONATE_REDIS_SENTINELS is set")
    client: ArqRedis = ArqRedis.from_url(settings.redis_url, **options)
    return client


def _through_sentinel(settings: Settings, options: dict[str, Any]) -> ArqRedis:
    sentinel_options = dict(SENTINEL_TIMEOUTS)
    if settings.redis_sentinel_password is not None:
        sentinel_options["password"] = settings.redis_sentinel_password.get_secret_value()
    if settings.redis_password is not None:
        options["password"] = settings.redis_password.get_secret_value()
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        list(settings.redis_sentinels), sentinel_kwargs=sentinel_options
    )
    client: SentinelArqRedis = sentinel.master_for(
        settings.redis_sentinel_master,
        redis_class=SentinelArqRedis,
        db=settings.redis_db or 0,
        **options,
    )
    client.sentinel_manager = sentinel
    return client
