"""Webhook ingest: verify, store the raw event once, queue its processing, acknowledge.

Nothing here calls the provider: the answer must be fast (Mollie wants it within 15 s,
Stripe retries slow endpoints), and the work runs from the outbox. Under load, concurrent
webhooks are written together (``EventBatcher``): one statement and one commit for many
events, while each request still gets its answer only after its own row is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import asyncpg

from donate.db import events as events_db
from donate.providers.base import WebhookNotice
from donate.services.runtime import Runtime

TASK = "provider_event.process"


@dataclass(frozen=True, slots=True)
class Ingested:
    event_id: str
    duplicate: bool


def _row(notice: WebhookNotice, raw: bytes) -> events_db.NewEvent:
    return events_db.NewEvent(
        provider=notice.provider,
        event_id=notice.event_id,
        event_type=notice.event_type,
        account=notice.account,
        object_id=notice.object_id,
        payment_ref=notice.payment_ref,
        donation_ref=notice.donation_id,
        payload=raw,
    )


async def store_notice(rt: Runtime, notice: WebhookNotice, raw: bytes) -> Ingested:
    """Store one verified notice and its processing job atomically (deduplicated)."""
    async with rt.pool.acquire() as conn:
        new = await events_db.store_with_jobs(conn, [_row(notice, raw)], task=TASK)
    return Ingested(notice.event_id, duplicate=not new)


class EventBatcher:
    """Group-commit for webhook ingest: whatever arrived while the previous write was in
    flight goes into the next one. No timer, so a lone webhook waits for nothing."""

    def __init__(self, pool: asyncpg.Pool[Any], *, writers: int = 4, max_batch: int = 128) -> None:
        self._pool = pool
        self._queue: asyncio.Queue[tuple[events_db.NewEvent, asyncio.Future[bool]]] = (
            asyncio.Queue()
        )
        self._writers = writers
        self._max_batch = max_batch
        self._tasks: list[asyncio.Task[None]] = []

    async def store(self, notice: WebhookNotice, raw: bytes) -> Ingested:
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._write_loop()) for _ in range(self._writers)]
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        await self._queue.put((_row(notice, raw), done))
        return Ingested(notice.event_id, duplicate=not await done)

    async def _write_loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                async with self._pool.acquire() as conn:
                    new = await events_db.store_with_jobs(
                        conn, [event for event, _ in batch], task=TASK
                    )
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            claimed: set[tuple[str, str]] = set()
            for event, done in batch:
                key = (event.provider, event.event_id)
                # The same event twice in one batch: only the first is "new".
                fresh = key in new and key not in claimed
                claimed.add(key)
                if not done.done():
                    done.set_result(fresh)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        while not self._queue.empty():
            _, done = self._queue.get_nowait()
            if not done.done():
                done.set_exception(ConnectionError("webhook ingest is shutting down"))
