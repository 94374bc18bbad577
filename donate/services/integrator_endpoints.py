"""Managing an association's integrator webhook endpoints and their delivery log.

The API (``web.api_webhooks``) and the back-office pages call these; every function takes
the association's id from the authenticated principal and raises:
- ``NotFound``: no such endpoint/delivery in this association (another one's is the same);
- ``InvalidRequest``: a field is wrong (``errors``: field → message), e.g. an unknown event
  type or a URL refused outside development (private address, not https);
- ``Conflict``: the action is impossible now (sending to a disabled endpoint).
Sensitive actions (create, update, delete, reveal or rotate the secret) go to the audit log.
"""

from __future__ import annotations

import secrets as secrets_module
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from donate.db import webhook_deliveries as deliveries_db
from donate.db import webhook_endpoints as endpoints_db
from donate.db.webhook_deliveries import DeliveryRow
from donate.db.webhook_endpoints import EndpointRow
from donate.services import integrator_events, integrator_urls
from donate.services.errors import Conflict, InvalidRequest, NotFound
from donate.services.runtime import Runtime

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
MAX_ENDPOINTS = 20
MAX_ROTATION_GRACE_S = 7 * 86400
DEFAULT_ROTATION_GRACE_S = 86400
DELIVERY_STATUSES = ("pending", "succeeded", "failed", "retrying")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An endpoint as shown to the association (never with its secret)."""

    id: UUID
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    created_at: datetime
    updated_at: datetime
    previous_secret_expires_at: datetime | None

    @classmethod
    def of(cls, row: EndpointRow) -> Endpoint:
        return cls(
            row.id, row.url, row.description, row.event_types, row.enabled,
            row.created_at, row.updated_at, row.previous_secret_expires_at,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    items: list[DeliveryRow]
    next_cursor: str | None


def new_secret() -> str:
    return SECRET_PREFIX + secrets_module.token_urlsafe(32)


def _check_types(event_types: list[str]) -> list[str]:
    unknown = [t for t in event_types if t not in integrator_events.EVENT_TYPES]
    if unknown or not event_types:
        raise InvalidRequest(
            {"event_types": "choose among " + ", ".join(integrator_events.EVENT_TYPES)}
        )
    return sorted(set(event_types))


async def _check_url(rt: Runtime, url: str) -> str:
    url = url.strip()
    try:
        await integrator_urls.check_url(url, rt.settings)
    except integrator_urls.UnsafeUrl as exc:
        raise InvalidRequest({"url": str(exc)}) from None
    return url


async def list_endpoints(rt: Runtime, org_id: UUID) -> list[Endpoint]:
    async with rt.pool.acquire() as conn:
        return [Endpoint.of(r) for r in await endpoints_db.list_for_org(conn, org_id)]


async def get_endpoint(rt: Runtime, org_id: UUID, endpoint_id: UUID) -> Endpoint:
    async with rt.pool.acquire() as conn:
        row = await endpoints_db.get(conn, org_id, endpoint_id)
    if row is None:
        raise NotFound("No such webhook endpoint.")
    return Endpoint.of(row)


async def create_endpoint(
    rt: Runtime,
    org_id: UUID,
    *,
    url: str,
    event_types: list[str],
    description: str = "",
    enabled: bool = True,
    actor: str,
) -> tuple[Endpoint, str]:
    """Register an endpoint; returns it with its signing secret (readable again later)."""
    types = _check_types(event_types)
    url = await _check_url(rt, url)
    secret = new_secret()
    async with rt.pool.acquire() as conn, conn.transaction():
        # Serialise creations per association so the limit holds under concurrency.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1::text))", f"whe:{org_id}")
        if await endpoints_db.count_for_org(conn, org_id) >= MAX_ENDPOINTS:
            raise Conflict(f"at most {MAX_ENDPOINTS} webhook endpoints per association")
        row = await endpoints_db.insert(
            conn, org_id, url=url, description=description.strip(), event_types=types,
            secret_encrypted=rt.secrets.encrypt(secret), enabled=enabled,
        )  # fmt: skip
        await endpoints_db.audit(
            conn, org_id, actor, "webhook_endpoint.created", row.id,
            {"url": url, "event_types": types, "enabled": enabled},
        )  # fmt: skip
    return Endpoint.of(row), secret


async def update_endpoint(
    rt: Runtime,
    org_id: UUID,
    endpoint_id: UUID,
    *,
    url: str | None = None,
    event_types: list[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
    actor: str,
) -> Endpoint:
    """Change the fields given (None leaves a field as it is)."""
    values: dict[str, Any] = {}
    if event_types is not None:
        values["event_types"] = _check_types(event_types)
    if url is not None:
        values["url"] = await _check_url(rt, url)
    if description is not None:
        values["description"] = description.strip()
    if enabled is not None:
        values["enabled"] = enabled
    async with rt.pool.acquire() as conn, conn.transaction():
        if await endpoints_db.get(conn, org_id, endpoint_id, for_update=True) is None:
            raise NotFound("No such webhook endpoint.")
        await endpoints_db.update(conn, org_id, endpoint_id, values)
        await endpoints_db.audit(
            conn, org_id, actor, "webhook_endpoint.updated", endpoint_id, values
        )
        row = await endpoints_db.get(conn, org_id, endpoint_id)
    assert row is not None
    return Endpoint.of(row)


async def delete_endpoint(rt: Runtime, org_id: UUID, endpoint_id: UUID, *, actor: str) -> None:
    """Remove the endpoint and its delivery log; queued attempts then do nothing."""
    async with rt.pool.acquire() as conn, conn.transaction():
        if not await endpoints_db.delete(conn, org_id, endpoint_id):
            raise NotFound("No such webhook endpoint.")
        await endpoints_db.audit(conn, org_id, actor, "webhook_endpoint.deleted", endpoint_id, {})


async def reveal_secret(rt: Runtime, org_id: UUID, endpoint_id: UUID, *, actor: str) -> str:
    async with rt.pool.acquire() as conn, conn.transaction():
        row = await endpoints_db.get(conn, org_id, endpoint_id)
        if row is None:
            raise NotFound("No such webhook endpoint.")
        await endpoints_db.audit(
            conn, org_id, actor, "webhook_endpoint.secret_revealed", endpoint_id, {}
        )
    return rt.secrets.decrypt(row.secret_encrypted)


async def rotate_secret(
    rt: Runtime,
    org_id: UUID,
    endpoint_id: UUID,
    *,
    grace_s: int = DEFAULT_ROTATION_GRACE_S,
    actor: str,
) -> tuple[Endpoint, str]:
    """A new secret signs from now on; the old one keeps signing (a second ``v1``) for
    ``grace_s`` seconds so the receiver can switch without losing events (0: at once)."""
    if not 0 <= grace_s <= MAX_ROTATION_GRACE_S:
        raise InvalidRequest({"grace_period_s": f"between 0 and {MAX_ROTATION_GRACE_S}"})
    secret = new_secret()
    async with rt.pool.acquire() as conn, conn.transaction():
        if await endpoints_db.get(conn, org_id, endpoint_id, for_update=True) is None:
            raise NotFound("No such webhook endpoint.")
        await endpoints_db.rotate_secret(
            conn, org_id, endpoint_id, rt.secrets.encrypt(secret), grace_s
        )
        await endpoints_db.audit(
            conn, org_id, actor, "webhook_endpoint.secret_rotated", endpoint_id,
            {"grace_period_s": grace_s},
        )  # fmt: skip
        row = await endpoints_db.get(conn, org_id, endpoint_id)
    assert row is not None
    return Endpoint.of(row), secret


def _cursor(raw: str | None) -> tuple[datetime, UUID] | None:
    if not raw:
        return None
    try:
        at, _, ident = raw.partition("|")
        return datetime.fromisoformat(at), UUID(ident)
    except ValueError:
        raise InvalidRequest({"cursor": "invalid"}) from None


async def list_deliveries(
    rt: Runtime,
    org_id: UUID,
    endpoint_id: UUID,
    *,
    status: str | None = None,
    event_type: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> DeliveryPage:
    """The endpoint's deliveries, newest first, ``limit`` per page (1–200)."""
    if status is not None and status not in DELIVERY_STATUSES:
        raise InvalidRequest({"status": "one of " + ", ".join(DELIVERY_STATUSES)})
    limit = min(max(limit, 1), 200)
    before = _cursor(cursor)
    async with rt.pool.acquire() as conn:
        if await endpoints_db.get(conn, org_id, endpoint_id) is None:
            raise NotFound("No such webhook endpoint.")
        rows = await deliveries_db.list_for_endpoint(
            conn, org_id, endpoint_id, status=status, event_type=event_type,
            before=before, limit=limit + 1,
        )  # fmt: skip
    last = rows[limit - 1] if len(rows) > limit else None
    next_cursor = f"{last.created_at.isoformat()}|{last.id}" if last else None
    return DeliveryPage(rows[:limit], next_cursor)


async def get_delivery(
    rt: Runtime, org_id: UUID, endpoint_id: UUID, delivery_id: UUID
) -> DeliveryRow:
    async with rt.pool.acquire() as conn:
        row = await deliveries_db.get(conn, org_id, delivery_id)
    if row is None or row.endpoint_id != endpoint_id:
        raise NotFound("No such delivery.")
    return row


async def replay_delivery(
    rt: Runtime, org_id: UUID, endpoint_id: UUID, delivery_id: UUID, *, actor: str
) -> DeliveryRow:
    """Send the same event again (same event id and payload) as a new delivery with its
    own attempts and retry window; the original stays in the log as it was."""
    async with rt.pool.acquire() as conn, conn.transaction():
        endpoint = await endpoints_db.get(conn, org_id, endpoint_id)
        original = await deliveries_db.get(conn, org_id, delivery_id)
        if endpoint is None or original is None or original.endpoint_id != endpoint_id:
            raise NotFound("No such delivery.")
        if not endpoint.enabled:
            raise Conflict("the endpoint is disabled")
        new_id = await deliveries_db.insert_replay(conn, original)
        await integrator_events.queue_attempt(conn, org_id, new_id, attempt=1, delay_s=0)
        await endpoints_db.audit(
            conn, org_id, actor, "webhook_delivery.replayed", endpoint_id,
            {"delivery_id": str(delivery_id), "replay_id": str(new_id)},
        )  # fmt: skip
        row = await deliveries_db.get(conn, org_id, new_id)
    assert row is not None
    return row


async def send_test(rt: Runtime, org_id: UUID, endpoint_id: UUID, *, actor: str) -> DeliveryRow:
    """Queue a ``webhook.test`` event to this endpoint only (whatever it subscribes to)."""
    async with rt.pool.acquire() as conn, conn.transaction():
        endpoint = await endpoints_db.get(conn, org_id, endpoint_id)
        if endpoint is None:
            raise NotFound("No such webhook endpoint.")
        if not endpoint.enabled:
            raise Conflict("the endpoint is disabled")
        data = {"endpoint_id": str(endpoint_id), "message": "Test event sent from donate."}
        [new_id] = await integrator_events.emit(
            conn, org_id, integrator_events.TEST_EVENT, data, key=str(uuid4()),
            endpoint_ids=[endpoint_id],
        )  # fmt: skip
        row = await deliveries_db.get(conn, org_id, new_id)
    assert row is not None
    return row
