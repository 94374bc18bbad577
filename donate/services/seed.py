"""The demo data: two associations, their people, keys, accounts and campaigns. Idempotent."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from donate.db import campaigns as campaigns_db
from donate.db import orgs as orgs_db
from donate.security.crypto import API_KEY_PREFIX, hash_api_key
from donate.security.passwords import hash_password_async, verify_password_async
from donate.services.runtime import Runtime


@dataclass(frozen=True)
class SeededOrg:
    slug: str
    api_key: str
    campaigns: list[dict[str, str]]


def demo_api_key(secret: str, org_slug: str) -> str:
    """Deterministic per demo installation, so re-seeding keeps the printed key valid."""
    digest = hmac.new(secret.encode(), f"api-key:{org_slug}".encode(), hashlib.sha256).hexdigest()
    return f"{API_KEY_PREFIX}{digest[:8]}_{digest[8:48]}"


_MAIN_ORG: dict[str, Any] = {
    "legal_name": "Les Amis du Jardin Partagé",
    "address_line1": "12 rue des Lilas",
    "postal_code": "75020",
    "city": "Paris",
    "country": "FR",
    "siren": "812345676",
    "rna": "W751234567",
    "object": "Créer et animer des jardins partagés ouverts à tous les habitants du quartier",
    "fiscal_qualification": "interet_general",
    "tax_reduction_bps": 6600,
    "cgi_articles": ["200", "238 bis"],
    "receipt_signatory_name": "Camille Martin",
    "receipt_signatory_role": "Présidente",
    "currency": "EUR",
    "locale": "fr",
}

_OTHER_ORG: dict[str, Any] = {
    **_MAIN_ORG,
    "legal_name": "Association Voisine",
    "siren": "823456785",
    "rna": "W752345678",
    "object": "Aide aux devoirs pour les enfants du quartier",
    "receipt_signatory_name": "Alex Durand",
    "receipt_signatory_role": "Trésorier",
}


async def seed_demo(
    rt: Runtime,
    *,
    secret: str,
    stripe_accounts: tuple[str, str],
    mollie_accounts: tuple[tuple[str, str], tuple[str, str]],
    admin_password: str,
    finance_password: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Create or refresh the demo associations; return what demo.json shows."""
    now = now or datetime.now(UTC)
    out: dict[str, Any] = {}
    async with rt.pool.acquire() as conn, conn.transaction():
        seeded = []
        for index, (slug, fields) in enumerate(
            (("jardin-partage", _MAIN_ORG), ("association-voisine", _OTHER_ORG))
        ):
            org = await orgs_db.upsert_organization(conn, slug, fields)
            key = demo_api_key(secret, slug)
            await orgs_db.upsert_api_key(
                conn, org.id, key[: len(API_KEY_PREFIX) + 8], hash_api_key(key), "demo"
            )
            await orgs_db.upsert_provider_account(
                conn, org.id, "stripe", stripe_accounts[index], None, livemode=False
            )
            mollie_profile, mollie_key = mollie_accounts[index]
            await orgs_db.upsert_provider_account(
                conn, org.id, "mollie", mollie_profile, rt.secrets.encrypt(mollie_key), False
            )
            donation_id = await campaigns_db.upsert_campaign(
                conn,
                org.id,
                "dons-2026",
                {
                    "kind": "donation",
                    "title": "Soutenez le jardin en 2026"
                    if index == 0
                    else "Soutenez l'aide aux devoirs",
                    "story_md": "Vos dons financent les graines, les outils et les ateliers.",
                    "currency": "EUR",
                    "goal_minor": 1_000_000,
                    "min_amount_minor": 100,
                    "max_amount_minor": 1_000_000,
                    "suggested_amounts_minor": [2000, 5000, 10000],
                    "frequencies": ["once", "monthly", "yearly"],
                    "receipt_eligible": True,
                    "status": "live",
                    "starts_at": now - timedelta(days=30),
                    "ends_at": None,
                },
            )
            crowd_id = await campaigns_db.upsert_campaign(
                conn,
                org.id,
                "serre-solidaire",
                {
                    "kind": "crowdfunding",
                    "title": "Une serre solidaire pour l'hiver",
                    "story_md": "Aidez-nous à construire une serre de 30 m².",
                    "currency": "EUR",
                    "goal_minor": 800_000,
                    "min_amount_minor": 500,
                    "max_amount_minor": 500_000,
                    "suggested_amounts_minor": [1500, 4000, 10000],
                    "frequencies": ["once"],
                    "receipt_eligible": True,
                    "status": "live",
                    "starts_at": now - timedelta(days=7),
                    "ends_at": now + timedelta(days=45),
                },
            )
            await campaigns_db.replace_tiers(
                conn,
                org.id,
                crowd_id,
                [
                    {
                        "title": "Merci !",
                        "amount_minor": 1500,
                        "description": "Votre nom sur le mur",
                    },
                    {
                        "title": "Sachet de graines",
                        "amount_minor": 4000,
                        "counterpart_value_minor": 500,
                        "quantity_limit": 200,
                        "description": "Des graines récoltées au jardin",
                    },
                    {
                        "title": "Atelier bouturage",
                        "amount_minor": 10000,
                        "counterpart_value_minor": 2000,
                        "quantity_limit": 20,
                        "description": "Une place à un atelier",
                    },
                ],
            )
            campaigns = [
                {"id": str(donation_id), "slug": "dons-2026", "kind": "donation"},
                {"id": str(crowd_id), "slug": "serre-solidaire", "kind": "crowdfunding"},
            ]
            seeded.append(SeededOrg(slug, key, campaigns))
            if index == 0:
                for email, name, role, password in (
                    ("admin@jardin.example", "Camille Martin", "owner", admin_password),
                    ("finance@jardin.example", "Dominique Leroy", "finance", finance_password),
                ):
                    existing = await conn.fetchval(
                        "SELECT password_hash FROM users WHERE lower(email) = lower($1)", email
                    )
                    pw_hash = (
                        existing
                        if existing and await verify_password_async(existing, password)
                        else await hash_password_async(password)
                    )
                    user_id = await orgs_db.upsert_user(conn, email, name, pw_hash)
                    await conn.execute(
                        "UPDATE users SET password_hash = $2 WHERE id = $1", user_id, pw_hash
                    )
                    await orgs_db.set_membership(conn, org.id, user_id, role)
        main, other = seeded
        out = {
            "org_slug": main.slug,
            "campaigns": main.campaigns,
            "api_key": main.api_key,
            "admin_email": "admin@jardin.example",
            "admin_password": admin_password,
            "finance_email": "finance@jardin.example",
            "finance_password": finance_password,
            "other_org": {
                "org_slug": other.slug,
                "api_key": other.api_key,
                "campaigns": other.campaigns,
            },
        }
    return out
