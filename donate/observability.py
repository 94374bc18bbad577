"""Structured logging with request ids, and Sentry with PII scrubbing."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
# Keys whose values are personal data of donors and never leave for Sentry.
_PII_KEYS = {
    "email", "donor_email", "customer_email", "first_name", "last_name", "name", "company_name",
    "address", "address_line1", "address_line2", "postal_code", "city", "phone", "iban",
    "password", "authorization", "cookie", "api_key", "token", "secret", "siren",
}  # fmt: skip


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id_var.get()
        if rid:
            entry["request_id"] = rid
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        rid = request_id_var.get()
        prefix = f"[{rid}] " if rid else ""
        record.msg = f"{prefix}{record.msg}"
        try:
            return super().format(record)
        finally:
            record.msg = record.msg[len(prefix) :]


def setup_logging(level: str = "INFO", *, json_lines: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _JsonFormatter()
        if json_lines
        else _TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "arq.worker", "httpx", "stripe"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def scrub(value: Any) -> Any:
    """Replace personal data in a Sentry event (nested dicts/lists) by "[scrubbed]"."""
    if isinstance(value, dict):
        return {
            k: "[scrubbed]" if str(k).lower() in _PII_KEYS else scrub(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return _EMAIL.sub("[email]", value)
    return value


def _before_send(event: Any, hint: dict[str, Any]) -> Any:
    return scrub(event)


def init_sentry(dsn: str | None, *, environment: str, traces_sample_rate: float) -> bool:
    """Initialise Sentry when a DSN is set; expected 4xx never reach it (see web.problems)."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.arq import ArqIntegration
    from sentry_sdk.integrations.asyncpg import AsyncPGIntegration
    from sentry_sdk.integrations.starlette import StarletteIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        send_default_pii=False,
        traces_sample_rate=traces_sample_rate,
        before_send=_before_send,
        before_send_transaction=_before_send,
        integrations=[
            StarletteIntegration(failed_request_status_codes={*range(500, 600)}),
            AsyncPGIntegration(),
            ArqIntegration(),
        ],
    )
    return True
