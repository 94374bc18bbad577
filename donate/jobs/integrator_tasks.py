"""Outbox task of the integrator webhooks: one attempt of one delivery."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from donate.jobs.tasks import task
from donate.services import integrator_delivery, integrator_events
from donate.services.runtime import Runtime


class DeliveryInFlight(RuntimeError):
    """The delivery is held by another run of the job."""


@task(integrator_events.TASK)
async def deliver_webhook(rt: Runtime, payload: dict[str, Any]) -> None:
    """POST the delivery if it is still due (a second run, or a run after success, sends
    nothing); failures of the receiver are recorded and re-queued, never raised."""
    result = await integrator_delivery.deliver(rt, UUID(payload["delivery_id"]))
    if result == "busy":
        # Another run is sending it: look again later (the outbox's backoff), so that if
        # that run dies mid-request, its hold expires and this row still sends it.
        raise DeliveryInFlight(payload["delivery_id"])
