"""Structured logging with request ids, and Sentry with PII scrubbing."""

from __future__ import annotations

import contextvars
import importlib.metadata
import json
import logging
import re
import sys
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from donate.settings import Settings

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

# Also percent-encoded (``ada%40example.org``), as in a URL's query string.
# The top-level domain has letters: "donate@0.1.0" (a release) is no address.
_EMAIL = re.compile(r"[\w.+-]+(?:@|%40)[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}")
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
        return {k: _scrub_item(str(k).lower(), v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return _EMAIL.sub("[email]", value)
    return value


def _scrub_item(key: str, value: Any) -> Any:
    if key in _PII_KEYS:
        return "[scrubbed]"
    if key == "query_string" and isinstance(value, str):
        # A request's "?name=…&email=…": the same keys, inside the string.
        pairs = urllib.parse.parse_qsl(value, keep_blank_values=True)
        value = urllib.parse.urlencode(
            [(k, "[scrubbed]" if k.lower() in _PII_KEYS else v) for k, v in pairs]
        )
    return scrub(value)


# Event fields we set ourselves, never personal: left as they are.
_OWN_FIELDS = ("release", "environment", "server_name")


def _before_send(event: Any, hint: dict[str, Any]) -> Any:
    cleaned = scrub(event)
    for key in _OWN_FIELDS:
        if key in event:
            cleaned[key] = event[key]
    return cleaned


def release_name(configured: str | None) -> str:
    """``DONATE_RELEASE``, else ``donate@<installed package version>``."""
    if configured:
        return configured
    try:
        return f"donate@{importlib.metadata.version('donate')}"
    except importlib.metadata.PackageNotFoundError:
        return "donate@unknown"


# Probes and scrapes: frequent, cheap, and not worth a transaction each.
_UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def _traces_sampler(rate: float) -> Callable[[dict[str, Any]], float]:
    def sample(context: dict[str, Any]) -> float:
        # An incoming sentry-trace header's decision is not followed: a public client
        # must not be able to make us trace (and pay for) every request it sends.
        scope = context.get("asgi_scope") or {}
        return 0.0 if scope.get("path") in _UNTRACED_PATHS else rate

    return sample


def sentry_options(settings: Settings) -> dict[str, Any]:
    """The ``sentry_sdk.init`` arguments: release and environment on every event,
    performance tracing of requests (Starlette), queries (asyncpg) and jobs (arq) at
    ``sentry_traces_sample_rate``, profiling of a share of traced ones, nothing personal."""
    from sentry_sdk.integrations.arq import ArqIntegration
    from sentry_sdk.integrations.asyncpg import AsyncPGIntegration
    from sentry_sdk.integrations.starlette import StarletteIntegration

    options: dict[str, Any] = {
        "dsn": settings.sentry_dsn,
        "environment": settings.environment,
        "release": release_name(settings.release),
        # send_default_pii is left unset: False by default, and deprecated in recent SDKs
        # (data_collection replaces it). Frame locals may hold donor records that the
        # scrubber cannot recognise (a name in a repr): not sent.
        "include_local_variables": False,
        "traces_sampler": _traces_sampler(settings.sentry_traces_sample_rate),
        "before_send": _before_send,
        "before_send_transaction": _before_send,
        "integrations": [
            StarletteIntegration(failed_request_status_codes={*range(500, 600)}),
            AsyncPGIntegration(),  # record_params=False: no donor data in spans
            ArqIntegration(),
        ],
    }
    if settings.sentry_profiles_sample_rate > 0:
        options["profiles_sample_rate"] = settings.sentry_profiles_sample_rate
    return options


def init_sentry(settings: Settings) -> bool:
    """Initialise Sentry when a DSN is set; expected 4xx never reach it (see web.problems)."""
    if not settings.sentry_dsn:
        return False
    import sentry_sdk

    sentry_sdk.init(**sentry_options(settings))
    return True
