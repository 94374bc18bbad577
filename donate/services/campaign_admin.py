"""The campaign editor's use cases: create, edit, publish, close, tiers, cover, news.

Contract: every function is scoped by ``org_id`` (another association's campaign raises
``NotFound``); a form with any invalid field raises ``InvalidRequest`` and writes nothing;
a state that forbids the action raises ``Conflict`` with an English message id. Every
change is recorded in the audit log with who did it and from where.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from donate.db import audit_log as audit_db
from donate.db import campaign_admin as db
from donate.db.campaign_admin import CampaignRecord, UpdateRecord
from donate.db.types import Conn
from donate.services.accounts import Upload
from donate.services.accounts_images import ImageRejected, reencode_png
from donate.services.campaign_admin_form import parse_campaign, parse_tiers, parse_update
from donate.services.errors import Conflict, InvalidRequest, NotFound
from donate.services.runtime import Runtime

COVER_SIDE = 1600
COVER_PREFIX = "/media/campaign-covers/"
SLUG_TAKEN = "Another campaign of the association already uses this address."


@dataclass(frozen=True, slots=True)
class Who:
    """Who acts (``user:…``) and from where (client IP), for the audit log."""

    actor: str
    ip: str | None = None

    def data(self, **extra: Any) -> dict[str, Any]:
        return {"ip": self.ip, **extra} if self.ip else dict(extra)


def receipt_problem(org: Mapping[str, Any]) -> str | None:
    """Why the association may not issue tax receipts (an English message id), or None."""
    if not org["siren"] and not org["rna"]:
        return (
            "Tax receipts need the association's SIREN or RNA number (a mandatory mention "
            "of the CERFA). Add it in the settings first."
        )
    if org["fiscal_qualification"] == "none":
        return (
            "The association's fiscal qualification does not allow tax receipts. Change it "
            "in the settings if the association is of general interest."
        )
    if not org["receipt_signatory_name"] or not org["receipt_signatory_role"]:
        return "Tax receipts need a signatory (name and role). Add one in the settings first."
    return None


async def _identity(conn: Conn, org_id: UUID) -> dict[str, Any]:
    return await db.organization_identity(conn, org_id)


async def organization(rt: Runtime, org_id: UUID) -> dict[str, Any]:
    async with rt.pool.acquire() as conn:
        return await _identity(conn, org_id)


async def list_campaigns(rt: Runtime, org_id: UUID) -> list[CampaignRecord]:
    async with rt.pool.acquire() as conn:
        return await db.list_campaigns(conn, org_id)


async def get_campaign(rt: Runtime, org_id: UUID, campaign_id: UUID) -> CampaignRecord:
    async with rt.pool.acquire() as conn:
        found = await db.get_campaign(conn, org_id, campaign_id)
    if found is None:
        raise NotFound("No such campaign.")
    return found


async def list_updates(rt: Runtime, org_id: UUID, campaign_id: UUID) -> list[UpdateRecord]:
    async with rt.pool.acquire() as conn:
        return await db.list_updates(conn, org_id, campaign_id)


async def _check_campaign(
    conn: Conn, org_id: UUID, values: dict[str, Any], errors: dict[str, str],
    current: CampaignRecord | None,
) -> None:  # fmt: skip
    if "slug" not in errors and await db.slug_taken(
        conn, org_id, values["slug"], current.id if current else None
    ):
        errors["slug"] = SLUG_TAKEN
    if values["receipt_eligible"]:
        problem = receipt_problem(await _identity(conn, org_id))
        if problem:
            errors["receipt_eligible"] = problem
    if current is None:
        return
    if current.status != "draft" and values["slug"] != current.slug:
        errors["slug"] = "The address of a published campaign cannot change: links would break."
    if values["currency"] != current.currency and await db.has_donations(conn, org_id, current.id):
        errors["currency"] = "The currency cannot change once the campaign has received gifts."
    for tier in current.tiers:
        if values["min_amount_minor"] and tier.amount_minor < values["min_amount_minor"]:
            errors["min_amount"] = "A tier costs less than this minimum."


async def create_campaign(
    rt: Runtime, org_id: UUID, raw: Mapping[str, str], lang: str, who: Who
) -> UUID:
    """A new draft campaign. Raises ``InvalidRequest``."""
    async with rt.pool.acquire() as conn, conn.transaction():
        org = await _identity(conn, org_id)
        values, errors = parse_campaign(raw, lang, default_currency=str(org["currency"]).strip())
        await _check_campaign(conn, org_id, values, errors, None)
        if errors:
            raise InvalidRequest(errors)
        try:
            async with conn.transaction():
                campaign_id = await db.insert_campaign(conn, org_id, values)
        except asyncpg.UniqueViolationError:  # the same address taken at the same moment
            raise InvalidRequest({"slug": SLUG_TAKEN}) from None
        await audit_db.record(conn, org_id, who.actor, "campaign.created", "campaign",
                       str(campaign_id), who.data(slug=values["slug"]))  # fmt: skip
    return campaign_id


async def update_campaign(
    rt: Runtime, org_id: UUID, campaign_id: UUID, raw: Mapping[str, str], lang: str, who: Who
) -> None:
    """Save the editor's form over the campaign. Raises ``NotFound``, ``InvalidRequest``."""
    async with rt.pool.acquire() as conn, conn.transaction():
        current = await db.get_campaign(conn, org_id, campaign_id, for_update=True)
        if current is None:
            raise NotFound("No such campaign.")
        values, errors = parse_campaign(raw, lang, default_currency=current.currency)
        await _check_campaign(conn, org_id, values, errors, current)
        if current.status == "live" and values["kind"] == "crowdfunding":
            ends = values["ends_at"]
            if ends is not None and ends <= datetime.now(UTC):
                errors["ends_on"] = "The end date has passed: close the campaign instead."
        if errors:
            raise InvalidRequest(errors)
        try:
            async with conn.transaction():
                await db.update_campaign(conn, org_id, campaign_id, values)
        except asyncpg.UniqueViolationError:
            raise InvalidRequest({"slug": SLUG_TAKEN}) from None
        await audit_db.record(conn, org_id, who.actor, "campaign.updated", "campaign",
                       str(campaign_id), who.data())  # fmt: skip


async def publish(rt: Runtime, org_id: UUID, campaign_id: UUID, who: Who) -> None:
    """Draft or closed → live. Raises ``NotFound``, ``Conflict`` (why it cannot go live)."""
    async with rt.pool.acquire() as conn, conn.transaction():
        current = await db.get_campaign(conn, org_id, campaign_id, for_update=True)
        if current is None:
            raise NotFound("No such campaign.")
        if current.status == "live":
            return
        if not await db.active_provider_accounts(conn, org_id):
            raise Conflict("Connect a payment account before publishing a campaign.")
        if current.ends_at is not None and current.ends_at <= datetime.now(UTC):
            raise Conflict("The end date has passed: change it before publishing.")
        if current.receipt_eligible:
            problem = receipt_problem(await _identity(conn, org_id))
            if problem:
                raise Conflict(problem)
        await db.set_status(conn, org_id, campaign_id, "live")
        await audit_db.record(conn, org_id, who.actor, "campaign.published", "campaign",
                       str(campaign_id), who.data(previous=current.status))  # fmt: skip


async def close(rt: Runtime, org_id: UUID, campaign_id: UUID, who: Who) -> None:
    """Live → closed: no new gift; the page stays, gifts and receipts are untouched."""
    async with rt.pool.acquire() as conn, conn.transaction():
        current = await db.get_campaign(conn, org_id, campaign_id, for_update=True)
        if current is None:
            raise NotFound("No such campaign.")
        if current.status != "live":
            raise Conflict("Only a published campaign can be closed.")
        await db.set_status(conn, org_id, campaign_id, "closed")
        await audit_db.record(conn, org_id, who.actor, "campaign.closed", "campaign",
                       str(campaign_id), who.data())  # fmt: skip


async def save_tiers(
    rt: Runtime, org_id: UUID, campaign_id: UUID, raw: Mapping[str, str], lang: str, who: Who
) -> None:
    """Add, change and delete tiers in one go. Stock never goes below what is already
    claimed, and a tier some donation points at is never deleted. Raises ``InvalidRequest``
    (errors keyed ``tier-{row}-{field}``) with nothing saved."""
    async with rt.pool.acquire() as conn, conn.transaction():
        current = await db.get_campaign(conn, org_id, campaign_id, for_update=True)
        if current is None:
            raise NotFound("No such campaign.")
        rows, errors = parse_tiers(
            raw, lang, current.currency, receipt_eligible=current.receipt_eligible
        )
        known = {str(t.id): t for t in current.tiers}
        for row in rows:
            prefix = f"tier-{row.key}-"
            tier = known.get(row.tier_id) if row.tier_id else None
            if row.tier_id and tier is None:
                errors[prefix + "title"] = "This tier no longer exists."
                continue
            amount = row.values["amount_minor"]
            if (
                not row.delete
                and amount is not None
                and not (current.min_amount_minor <= amount <= current.max_amount_minor)
            ):
                errors[prefix + "amount"] = "The tier must cost between the campaign's " \
                    "minimum and maximum gift."  # fmt: skip
            if tier is None:
                continue
            if row.delete and (tier.used or tier.quantity_claimed):
                errors[prefix + "delete"] = "Gifts were made for this tier: it cannot be deleted."
            limit = row.values["quantity_limit"]
            if not row.delete and limit is not None and limit < tier.quantity_claimed:
                errors[prefix + "stock"] = "The stock cannot be below what is already sold."
        if errors:
            raise InvalidRequest(errors)
        for row in rows:
            if row.tier_id and row.delete:
                await db.delete_tier(conn, org_id, UUID(row.tier_id))
            elif row.tier_id:
                # Re-checked in SQL: a gift may have claimed a unit since the form was read.
                if not await db.update_tier(conn, org_id, UUID(row.tier_id), row.values):
                    raise InvalidRequest(
                        {f"tier-{row.key}-stock": "The stock cannot be below what is already "
                         "sold."}
                    )  # fmt: skip
            elif not row.delete:
                await db.insert_tier(conn, org_id, campaign_id, row.values)
        await audit_db.record(conn, org_id, who.actor, "campaign.tiers_updated", "campaign",
                       str(campaign_id), who.data(rows=len(rows)))  # fmt: skip


async def set_cover(
    rt: Runtime, org_id: UUID, campaign_id: UUID, upload: Upload | None, who: Who
) -> None:
    """Store a new cover (checked, re-encoded to PNG) or, with ``upload=None``, remove it.
    Raises ``InvalidRequest`` (``cover``) for a file that is not an acceptable image."""
    png = None
    if upload is not None:
        if upload.too_large:
            raise InvalidRequest({"cover": "The image is too large (2 MB at most)."})
        try:
            png = reencode_png(upload.data, max_side=COVER_SIDE)
        except ImageRejected as exc:
            raise InvalidRequest({"cover": str(exc)}) from None
    async with rt.pool.acquire() as conn, conn.transaction():
        current = await db.get_campaign(conn, org_id, campaign_id, for_update=True)
        if current is None:
            raise NotFound("No such campaign.")
        url = None
        if png is not None:
            digest = hashlib.sha256(png).hexdigest()
            image_id = await db.insert_image(conn, org_id, campaign_id, png, digest)
            url = f"{COVER_PREFIX}{image_id}.png"
        await db.set_cover_url(conn, org_id, campaign_id, url)
        await audit_db.record(conn, org_id, who.actor, "campaign.cover_changed", "campaign",
                       str(campaign_id), who.data(removed=url is None))  # fmt: skip


async def cover_image(rt: Runtime, image_id: UUID) -> tuple[bytes, str] | None:
    async with rt.pool.acquire() as conn:
        return await db.image_png(conn, image_id)


async def save_update(
    rt: Runtime, org_id: UUID, campaign_id: UUID, update_id: UUID | None,
    raw: Mapping[str, str], who: Who,
) -> UUID:  # fmt: skip
    """Write a news item of the campaign; ``publish`` shows it on the page (keeping the first
    publication date), unticked takes it back to draft."""
    values, errors = parse_update(raw)
    if errors:
        raise InvalidRequest(errors)
    async with rt.pool.acquire() as conn, conn.transaction():
        if await db.get_campaign(conn, org_id, campaign_id) is None:
            raise NotFound("No such campaign.")
        published_at = None
        if update_id is not None:
            existing = await db.get_update(conn, org_id, campaign_id, update_id)
            if existing is None:
                raise NotFound("No such update.")
            published_at = existing.published_at
        published_at = (published_at or datetime.now(UTC)) if values["publish"] else None
        saved = await db.save_update(conn, org_id, campaign_id, update_id, values["title"],
                                     values["body_md"], published_at)  # fmt: skip
        await audit_db.record(conn, org_id, who.actor, "campaign.update_saved", "campaign",
                       str(campaign_id), who.data(update_id=str(saved),
                                                  published=published_at is not None))  # fmt: skip
    return saved
