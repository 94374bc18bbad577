"""What a use case needs from the outside world, built once by an entry point."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from donate.providers.base import PaymentProvider
from donate.security.crypto import SecretBox
from donate.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    pool: asyncpg.Pool[Any]
    providers: Mapping[str, PaymentProvider]
    secrets: SecretBox

    def provider(self, name: str) -> PaymentProvider:
        try:
            return self.providers[name]
        except KeyError:
            raise LookupError(f"payment provider {name!r} is not configured") from None
