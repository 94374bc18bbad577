"""Idempotency-Key replay, shared by both emulators.

Only successful answers are kept: like Stripe, a request refused before it ran (bad
params, injected outage) can be retried with the same key and then really run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Stored:
    fingerprint: str
    status: int
    body: bytes
    media_type: str


class KeyReused(Exception):
    """The key was first used with other parameters or on another endpoint."""


def fingerprint(method: str, path: str, params: Any) -> str:
    canonical = json.dumps([method, path, params], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyStore:
    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], Stored] = {}

    def lookup(self, scope: str, key: str, fp: str) -> Stored | None:
        """The stored answer to replay, None to run the request; raises KeyReused on mismatch."""
        stored = self._entries.get((scope, key))
        if stored is None:
            return None
        if stored.fingerprint != fp:
            raise KeyReused(key)
        return stored

    def save(self, scope: str, key: str, stored: Stored) -> None:
        if 200 <= stored.status < 300:
            self._entries[(scope, key)] = stored
