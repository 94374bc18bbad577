"""Refunds asked by the association (API/back-office). Dashboard refunds arrive by webhook.

The request is recorded with its outbox row in one transaction, then executed at once; if
the provider is down, the outbox retries later with the same idempotency key
(``refund:{row id}``), so a refund is never made twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from donate.db import audit_log, outbox
from donate.db import donations as donations_db
from donate.domain.money import Money
from donate.providers.base import ProviderRejected, ProviderUnavailable
from donate.services import payments
from donate.services.errors import Conflict, InvalidRequest, NotFound
from donate.services.runtime import Runtime

log = logging.getLogger(__name__)

_REFUNDABLE = ("paid", "partially_refunded")


@dataclass(frozen=True, slots=True)
class RefundResult:
    refund_id: UUID
    amount_minor: int
    currency: str
    status: str
    donation_status: str


async def request_refund(
    rt: Runtime, org_id: UUID, donation_id: UUID, amount_minor: int | None, *, actor: str
) -> RefundResult:
    """Refund all (default) or part of a paid donation of association ``org_id``.
    Raises ``NotFound`` (not this association's), ``Conflict`` (not refundable now),
    ``InvalidRequest`` (amount)."""
    async with rt.pool.acquire() as conn, conn.transaction():
        donation = await donations_db.get_donation(conn, donation_id, for_update=True)
        if donation is None or donation.organization_id != org_id:
            raise NotFound("donation not found")
        if donation.status not in _REFUNDABLE:
            raise Conflict(f"a {donation.status} donation cannot be refunded")
        paid = [p for p in await donations_db.payments_of(conn, donation.id) if p.status == "paid"]
        if not paid or not paid[-1].provider_payment_id:
            raise Conflict("no captured payment to refund")
        payment = paid[-1]
        in_flight = await conn.fetchval(
            # sum(bigint) is numeric (a Decimal): cast back, the amount is stored as JSON.
            "SELECT coalesce(sum(amount_minor), 0)::bigint FROM refunds WHERE payment_id = $1 "
            "AND status = 'requested'",
            payment.id,
        )
        refundable = payment.amount_minor - payment.refunded_minor - in_flight
        amount = refundable if amount_minor is None else amount_minor
        if amount <= 0 or amount > refundable:
            raise InvalidRequest(
                {"amount_minor": f"must be between 1 and {refundable} (what is left to refund)"}
            )
        refund_id: UUID = await conn.fetchval(
            """INSERT INTO refunds (organization_id, donation_id, payment_id, provider,
                   amount_minor, currency, status, origin, requested_by)
               VALUES ($1, $2, $3, $4, $5, $6, 'requested', 'api', $7) RETURNING id""",
            org_id,
            donation.id,
            payment.id,
            payment.provider,
            amount,
            payment.currency,
            actor,
        )
        await outbox.add(
            conn,
            "refund.execute",
            {"refund_id": str(refund_id)},
            organization_id=org_id,
            dedup_key=f"refund:{refund_id}",
        )
        await audit_log.record(
            conn, org_id, actor, "donation.refund_requested", "donation", str(donation.id),
            {"refund_id": str(refund_id), "amount_minor": amount},
        )  # fmt: skip
    try:
        status = await execute_refund(rt, refund_id)
    except ProviderUnavailable:
        status = "requested"  # the outbox row retries it
    async with rt.pool.acquire() as conn:
        current = await donations_db.get_donation(conn, donation_id)
    assert current is not None
    return RefundResult(refund_id, amount, payment.currency, status, current.status)


async def execute_refund(rt: Runtime, refund_id: UUID) -> str:
    """Make the provider refund (idempotent), then converge the donation. Returns the status."""
    async with rt.pool.acquire() as conn:
        row = await conn.fetchrow(
            """SELECT r.*, p.provider_payment_id FROM refunds r
               JOIN payments p ON p.id = r.payment_id WHERE r.id = $1""",
            refund_id,
        )
        if row is None:
            return "missing"
        made = row["provider_refund_id"] is not None
        if not made and row["status"] != "requested":
            return str(row["status"])  # refused by the provider
        account = await payments.connected_account(
            conn, rt, row["organization_id"], row["provider"]
        )
    if made:
        # Made at the provider by an earlier run whose re-fetch failed (that is why we run
        # again): converge now. Mollie sends no webhook for an API refund, so nothing else
        # would (a no-op when the donation is already up to date).
        await payments.refresh_donation(rt, row["donation_id"], source="api")
        return str(row["status"])
    try:
        info = await rt.provider(row["provider"]).refund(
            account,
            row["provider_payment_id"],
            Money(row["amount_minor"], row["currency"]),
            idempotency_key=f"refund:{refund_id}",
        )
    except ProviderRejected as exc:
        async with rt.pool.acquire() as conn:
            await conn.execute(
                "UPDATE refunds SET status = 'failed', updated_at = now() WHERE id = $1", refund_id
            )
        log.warning("refund %s refused by %s: %s", refund_id, row["provider"], exc)
        return "failed"
    async with rt.pool.acquire() as conn, conn.transaction():
        try:
            async with conn.transaction():
                await conn.execute(
                    """UPDATE refunds SET provider_refund_id = $2, status = $3, updated_at = now()
                       WHERE id = $1""",
                    refund_id,
                    info.refund_id,
                    info.status,
                )
        except asyncpg.UniqueViolationError:
            # The webhook was faster and recorded it as seen at the provider: keep one row.
            await conn.execute(
                "UPDATE refunds SET origin = 'api', requested_by = $3 "
                "WHERE provider = $1 AND provider_refund_id = $2",
                row["provider"],
                info.refund_id,
                row["requested_by"],
            )
            await conn.execute("DELETE FROM refunds WHERE id = $1", refund_id)
    await payments.refresh_donation(rt, row["donation_id"], source="api")
    return info.status
