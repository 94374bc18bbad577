"""Outbox task names → handlers. Every handler is idempotent: it may run twice, never zero times."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from donate.services.runtime import Runtime

Handler = Callable[[Runtime, dict[str, Any]], Awaitable[None]]

TASKS: dict[str, Handler] = {}
# Tasks that may run for minutes (report exports): the relay hands them to the arq function
# with the long timeout (``relay.LONG_JOB_NAME``), the others to the 120 s one.
LONG_TASKS: set[str] = set()


def task(name: str, *, long_running: bool = False) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        if name in TASKS:
            raise ValueError(f"outbox task {name!r} registered twice")
        TASKS[name] = fn
        if long_running:
            LONG_TASKS.add(name)
        return fn

    return register
