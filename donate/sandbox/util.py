"""Small helpers shared by both emulators: ids, clocks, amounts, fees."""

from __future__ import annotations

import copy
import secrets
import string
import time
from datetime import UTC, datetime
from typing import Any

from donate.domain.money import Money

JSON = dict[str, Any]

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 14) -> str:
    """A provider-looking id (``pi_3Qx…``); random so ids never repeat across restarts."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def now_ts() -> int:
    return int(time.time())


def iso(ts: float | None = None) -> str:
    """Mollie's timestamp form: ``2018-03-20T09:13:37+00:00``."""
    moment = datetime.fromtimestamp(time.time() if ts is None else ts, tz=UTC)
    return moment.replace(microsecond=0).isoformat()


def mollie_amount(minor: int, currency: str) -> JSON:
    return {"currency": currency.upper(), "value": Money(minor, currency.upper()).to_decimal_text()}


def parse_mollie_amount(value: object) -> Money:
    """``{"currency": "EUR", "value": "10.00"}`` → Money; ValueError when malformed."""
    if not isinstance(value, dict):
        raise ValueError("amount must be an object with currency and value")
    currency, text = value.get("currency"), value.get("value")
    if not isinstance(currency, str) or not isinstance(text, str):
        raise ValueError("amount needs a currency and a string value")
    return Money.from_decimal_text(text, currency.upper())


def fee_minor(amount_minor: int, bps: int, fixed_minor: int) -> int:
    """Percentage plus fixed fee, rounded half up in integer arithmetic (never floats)."""
    return (amount_minor * bps + 5_000) // 10_000 + fixed_minor


def snapshot(obj: JSON) -> JSON:
    """A deep copy, so later changes to the stored object never leak into sent events."""
    return copy.deepcopy(obj)
