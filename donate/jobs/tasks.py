"""Outbox task names → handlers. Every handler is idempotent: it may run twice, never zero times."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from donate.services.runtime import Runtime

Handler = Callable[[Runtime, dict[str, Any]], Awaitable[None]]

TASKS: dict[str, Handler] = {}


def task(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        if name in TASKS:
            raise ValueError(f"outbox task {name!r} registered twice")
        TASKS[name] = fn
        return fn

    return register
