"""Sending one integrator webhook delivery: sign, POST, record, schedule the next attempt.

Contract (``deliver``):
- Runs one attempt of a due delivery. A delivery that succeeded, failed for good, is not
  due yet, or is held by another run is left alone: the job may run twice, a succeeded
  delivery is never sent again.
- 2xx within ``integrator_webhook_timeout_s`` is success. Anything else (other status,
  redirect, timeout, refused address) is recorded on the row, and the next attempt is
  queued through the outbox after an exponential backoff with jitter, until
  ``integrator_webhook_retry_window_s`` after the delivery was created; then it fails.
- Never raises for the receiver's failures; raises only when our database does (the
  outbox then retries the job).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx

from donate.db import webhook_deliveries as deliveries_db
from donate.services import integrator_events, integrator_urls
from donate.services.runtime import Runtime
from donate.settings import Settings

log = logging.getLogger(__name__)

USER_AGENT = "Donate-Webhooks/1 (+https://donate.example/docs/webhooks)"
BODY_EXCERPT = 1000  # characters of the receiver's answer kept in the log


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"{timestamp}.{body}"`` keyed with the whole secret string."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secrets: list[str], timestamp: int, body: bytes) -> str:
    """``t=…,v1=…`` with one ``v1`` per secret in use (two while a rotation is in grace)."""
    return ",".join([f"t={timestamp}", *(f"v1={signature(s, timestamp, body)}" for s in secrets)])


def encode_body(payload: dict[str, object]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def retry_delay_s(settings: Settings, attempt: int, rng: random.Random | None = None) -> float:
    """Wait after failed attempt number ``attempt`` (1-based): base × 2^(attempt-1), capped,
    times a jitter in [0.8, 1.2] so that receivers coming back are not hit all at once."""
    base = settings.integrator_webhook_retry_base_s * 2 ** min(attempt - 1, 30)
    capped = min(base, settings.integrator_webhook_retry_max_delay_s)
    jitter: float = (rng or random).uniform(0.8, 1.2)
    return float(capped * jitter)


def next_retry_s(settings: Settings, created_at: datetime, attempt: int) -> float | None:
    """When to try again after failed attempt ``attempt``; None once the window is over."""
    delay = retry_delay_s(settings, attempt)
    deadline = created_at + timedelta(seconds=settings.integrator_webhook_retry_window_s)
    if datetime.now(UTC) + timedelta(seconds=delay) > deadline:
        return None
    return delay


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    body: str | None = None
    error: str = ""


async def post(settings: Settings, url: str, headers: dict[str, str], body: bytes) -> Outcome:
    """One POST, the answer's start kept; never follows redirects."""
    try:
        addresses = await integrator_urls.check_url(url, settings)
    except integrator_urls.UnsafeUrl as exc:
        return Outcome(False, error=f"refused: {exc}")
    extensions: dict[str, str] = {}
    if addresses:  # production: connect to the address just vetted, not to a new lookup
        pinned = integrator_urls.pin(url, addresses[0])
        url, headers = pinned.url, {**headers, "Host": pinned.host_header}
        extensions["sni_hostname"] = pinned.sni_hostname
    timeout = httpx.Timeout(settings.integrator_webhook_timeout_s)
    try:
        async with (
            httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False) as http,
            http.stream("POST", url, content=body, headers=headers, extensions=extensions) as resp,
        ):
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.aiter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size >= BODY_EXCERPT * 4:
                    break
            text = b"".join(chunks).decode("utf-8", "replace")[:BODY_EXCERPT]
    except httpx.TimeoutException:
        return Outcome(False, error="timeout")
    except httpx.HTTPError as exc:
        return Outcome(False, error=f"{type(exc).__name__}: {exc}"[:500])
    ok = 200 <= resp.status_code < 300
    return Outcome(ok, resp.status_code, text, "" if ok else f"HTTP {resp.status_code}")


async def deliver(rt: Runtime, delivery_id: UUID) -> str:
    """One attempt of the delivery (see the module docstring). Returns what happened:
    ``succeeded``, ``retrying``, ``failed``, ``skipped`` (nothing to do), or ``busy`` (another
    run holds it right now: the caller should try again later, in case that run dies)."""
    settings = rt.settings
    async with rt.pool.acquire() as conn:
        claimed = await deliveries_db.claim(
            conn, delivery_id, hold_s=settings.integrator_webhook_timeout_s + 60
        )
        if claimed is None:
            return "busy" if await deliveries_db.in_flight(conn, delivery_id) else "skipped"
    d = claimed.delivery
    if not claimed.enabled:
        outcome = Outcome(False, error="endpoint disabled")
    else:
        secrets = [rt.secrets.decrypt(claimed.secret_encrypted)]
        if claimed.previous_secret_encrypted is not None:
            secrets.append(rt.secrets.decrypt(claimed.previous_secret_encrypted))
        body = encode_body(d.payload)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Donate-Event-Id": d.event_id,
            "Donate-Event-Type": d.event_type,
            "Donate-Delivery-Id": str(d.id),
            "Donate-Delivery-Attempt": str(d.attempts),
            "Donate-Signature": signature_header(secrets, int(time.time()), body),
        }
        outcome = await post(settings, claimed.url, headers, body)
    async with rt.pool.acquire() as conn, conn.transaction():
        if outcome.ok:
            assert outcome.status_code is not None
            await deliveries_db.record_success(
                conn, d.id, d.attempts, outcome.status_code, outcome.body or ""
            )
            return "succeeded"
        retry_in = None if not claimed.enabled else next_retry_s(settings, d.created_at, d.attempts)
        recorded = await deliveries_db.record_failure(
            conn, d.id, d.attempts, status_code=outcome.status_code, body=outcome.body,
            error=outcome.error, retry_in_s=retry_in,
        )  # fmt: skip
        if recorded and retry_in is not None:
            await integrator_events.queue_attempt(
                conn, d.organization_id, d.id, attempt=d.attempts + 1, delay_s=retry_in
            )
    log.info(
        "webhook delivery %s attempt %d to %s: %s",
        d.id, d.attempts, claimed.url, outcome.error,
    )  # fmt: skip
    return "retrying" if retry_in is not None else "failed"
