"""Fault injection set by ``POST /control/faults``; a seeded RNG keeps tests reproducible."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields
from typing import Any

from donate.sandbox.util import JSON


class FaultsInvalid(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Faults:
    webhook_duplicates: int = 0  # extra copies of every webhook
    webhook_shuffle: bool = False  # deliver the webhooks of one action in random order
    webhook_drop_ratio: float = 0.0  # share of webhooks never delivered (catch-up must find them)
    webhook_delay_ms: int = 0  # wait before the first delivery attempt
    api_error_ratio: float = 0.0  # share of API calls answered 500 before doing anything
    api_latency_ms: int = 0  # added to every API call
    seed: int = 0  # seeds the RNG; every POST /control/faults re-seeds it

    @classmethod
    def from_json(cls, body: Any) -> Faults:
        if not isinstance(body, dict):
            raise FaultsInvalid("body must be a JSON object")
        known = {f.name: f.type for f in fields(cls)}
        unknown = set(body) - set(known)
        if unknown:
            raise FaultsInvalid(f"unknown fault(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name, raw in body.items():
            if name == "webhook_shuffle":
                if not isinstance(raw, bool):
                    raise FaultsInvalid("webhook_shuffle must be a boolean")
            elif name.endswith("_ratio"):
                if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw <= 1:
                    raise FaultsInvalid(f"{name} must be a number between 0 and 1")
                raw = float(raw)
            elif isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
                raise FaultsInvalid(f"{name} must be a non-negative integer")
            values[name] = raw
        return cls(**values)

    def to_json(self) -> JSON:
        return asdict(self)


class FaultState:
    """The active faults and the one RNG every random decision is drawn from."""

    def __init__(self) -> None:
        self.faults = Faults()
        self.rng = random.Random(0)

    def set(self, faults: Faults) -> None:
        self.faults = faults
        self.rng = random.Random(faults.seed)

    def api_should_fail(self) -> bool:
        ratio = self.faults.api_error_ratio
        return ratio > 0 and self.rng.random() < ratio

    def webhook_dropped(self) -> bool:
        ratio = self.faults.webhook_drop_ratio
        return ratio > 0 and self.rng.random() < ratio
