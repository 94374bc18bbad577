"""The donor space: sign-in by e-mailed link, the donor's session, and what they see.

No password: the donor asks for a link, which carries an HMAC-signed token for their e-mail
that expires after ``LOGIN_VALIDITY`` (an expired or altered link is refused, however often it
is reused). Opening it gives a session cookie signed the same way, and every form carries a
token tied to that session (CSRF). A donor is a person across associations: their gifts,
plans and receipts are found by e-mail in every association's records.
"""

from __future__ import annotations

from base64 import urlsafe_b64decode, urlsafe_b64encode
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from donate.db import outbox
from donate.security import links
from donate.services import receipt_mail
from donate.services.recurring_mail import secret
from donate.services.runtime import Runtime
from donate.settings import Settings

LOGIN_VALIDITY = timedelta(minutes=30)
SESSION_VALIDITY = timedelta(hours=2)
SESSION_PURPOSE = "donor-session"
CSRF_PURPOSE = "donor-csrf"


@dataclass(frozen=True, slots=True)
class Session:
    email: str
    expires: int
    cookie: str


def normalise(email: str) -> str:
    return email.strip().lower()


async def request_login(rt: Runtime, email: str, lang: str, now: datetime | None = None) -> bool:
    """Queue the sign-in link if some association knows this e-mail. The answer shown to the
    person never says which (no address probing); True when a link was queued."""
    now = now or datetime.now(UTC)
    email = normalise(email)
    async with rt.pool.acquire() as conn:
        known = await conn.fetchval(
            "SELECT 1 FROM donors WHERE lower(email) = $1 AND erased_at IS NULL LIMIT 1", email
        )
        if not known:
            return False
        expires = now + LOGIN_VALIDITY
        # At most one link a minute per address: a form submitted in a loop mails once.
        row = await outbox.add(
            conn,
            "donor.login_link",
            {"email": email, "expires_at": expires.isoformat(), "lang": lang},
            dedup_key=f"donor:login:{email}:{int(now.timestamp() // 60)}",
        )
    return row is not None


def open_session(settings: Settings, email: str, now: datetime) -> Session:
    email = normalise(email)
    expires = now + SESSION_VALIDITY
    token = links.sign(secret(settings), SESSION_PURPOSE, email, expires)
    encoded = urlsafe_b64encode(email.encode()).decode().rstrip("=")
    return Session(email, int(expires.timestamp()), f"{encoded}.{token}")


def read_session(settings: Settings, cookie: str | None, now: datetime) -> Session | None:
    if not cookie or cookie.count(".") != 2:
        return None
    encoded, _, token = cookie.partition(".")
    try:
        email = urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if not links.verify(secret(settings), SESSION_PURPOSE, email, token, now):
        return None
    return Session(email, int(token.partition(".")[0]), cookie)


def csrf_token(settings: Settings, session: Session) -> str:
    expires = datetime.fromtimestamp(session.expires, UTC)
    return links.sign(secret(settings), CSRF_PURPOSE, session.cookie, expires)


def check_csrf(settings: Settings, session: Session, token: str, now: datetime) -> bool:
    return links.verify(secret(settings), CSRF_PURPOSE, session.cookie, token, now)


async def overview(rt: Runtime, email: str, now: datetime | None = None) -> dict[str, Any]:
    """The donor's gifts, recurring plans and receipts in every association."""
    now = now or datetime.now(UTC)
    email = normalise(email)
    async with rt.pool.acquire() as conn:
        gifts = await conn.fetch(
            """SELECT d.id, d.status, d.amount_minor, d.currency, d.frequency, d.created_at,
                      d.recurring_plan_id, c.title AS campaign, o.legal_name AS org
               FROM donations d JOIN donors p ON p.id = d.donor_id
               JOIN campaigns c ON c.id = d.campaign_id
               JOIN organizations o ON o.id = d.organization_id
               WHERE lower(p.email) = $1 AND p.erased_at IS NULL
                 AND d.status NOT IN ('pending', 'canceled')
               ORDER BY d.created_at DESC LIMIT 500""",
            email,
        )
        plans = await conn.fetch(
            """SELECT r.*, c.title AS campaign, o.legal_name AS org
               FROM recurring_plans r JOIN donors p ON p.id = r.donor_id
               JOIN campaigns c ON c.id = r.campaign_id
               JOIN organizations o ON o.id = r.organization_id
               WHERE lower(p.email) = $1 AND p.erased_at IS NULL AND r.status <> 'pending'
               ORDER BY r.created_at DESC""",
            email,
        )
        receipts = await conn.fetch(
            """SELECT r.id, r.number, r.kind, r.status, r.amount_minor, r.currency, r.issued_at,
                      r.fiscal_year, o.legal_name AS org
               FROM receipts r JOIN donors p ON p.id = r.donor_id
               JOIN organizations o ON o.id = r.organization_id
               WHERE lower(p.email) = $1 AND p.erased_at IS NULL
               ORDER BY r.issued_at DESC""",
            email,
        )
    return {
        "gifts": [dict(g) for g in gifts],
        "plans": [dict(p) for p in plans],
        "receipts": [
            {**dict(r), "url": receipt_mail.download_url(rt.settings, r["id"], now)[0]}
            for r in receipts
        ],
    }
