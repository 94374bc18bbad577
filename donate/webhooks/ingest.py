"""Webhook ingest: verify, store the raw event once, queue its processing, acknowledge.

Nothing here calls the provider: the answer must be fast (Mollie wants it within 15 s,
Stripe retries slow endpoints), and the work runs from the outbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from donate.db import events as events_db
from donate.providers.base import WebhookNotice
from donate.services.runtime import Runtime


@dataclass(frozen=True, slots=True)
class Ingested:
    event_id: str
    duplicate: bool


async def ingest(rt: Runtime, provider: str, body: bytes, headers: Mapping[str, str]) -> Ingested:
    """Verify and store a webhook. Raises ``WebhookInvalid`` (answer 400, store nothing)."""
    notice = rt.provider(provider).parse_webhook(body, headers)
    return await store_notice(rt, notice, body)


async def store_notice(rt: Runtime, notice: WebhookNotice, raw: bytes) -> Ingested:
    """Store a verified notice and its processing job atomically (deduplicated)."""
    async with rt.pool.acquire() as conn:
        stored = await events_db.store_with_job(
            conn,
            {
                "provider": notice.provider,
                "event_id": notice.event_id,
                "event_type": notice.event_type,
                "account": notice.account,
                "object_id": notice.object_id,
                "payment_ref": notice.payment_ref,
                "donation_ref": notice.donation_id,
                "payload": raw,
            },
            task="provider_event.process",
        )
    return Ingested(notice.event_id, duplicate=not stored)
