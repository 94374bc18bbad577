"""Account e-mails (verification, password reset, invitation), sent by the ``account.email``
outbox task. The link's token is minted here, when sending: only its hash is stored, so a
retry after a failed send mints another one and the first is never usable."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any
from uuid import UUID

import aiosmtplib

from donate.db import users as users_db
from donate.security.tokens import new_token
from donate.services.receipt_mail import _smtp_options
from donate.services.runtime import Runtime

log = logging.getLogger(__name__)

VERIFY_VALIDITY = timedelta(days=2)
RESET_VALIDITY = timedelta(hours=1)

_TEXTS: dict[str, tuple[str, str]] = {
    "fr:verify": (
        "Confirmez votre adresse e-mail",
        "Bonjour {name},\n\nPour activer votre compte, ouvrez ce lien (valable 48 heures) :\n"
        "{link}\n\nSi vous n'avez pas créé de compte, ignorez ce message.\n",
    ),
    "en:verify": (
        "Confirm your e-mail address",
        "Hello {name},\n\nTo activate your account, open this link (valid for 48 hours):\n"
        "{link}\n\nIf you did not create an account, ignore this message.\n",
    ),
    "fr:reset": (
        "Réinitialisation de votre mot de passe",
        "Bonjour {name},\n\nPour choisir un nouveau mot de passe, ouvrez ce lien (valable une "
        "heure, une seule fois) :\n{link}\n\nSi vous n'avez rien demandé, ignorez ce message : "
        "votre mot de passe reste inchangé.\n",
    ),
    "en:reset": (
        "Resetting your password",
        "Hello {name},\n\nTo choose a new password, open this link (valid for one hour, "
        "once):\n{link}\n\nIf you did not ask for this, ignore this message: your password "
        "stays as it is.\n",
    ),
    "fr:exists": (
        "Vous avez déjà un compte",
        "Bonjour {name},\n\nQuelqu'un (sans doute vous) a voulu créer un compte avec cette "
        "adresse, qui en a déjà un. Connectez-vous : {link}\nVous pourrez y créer une autre "
        "association. Mot de passe oublié ? Choisissez « Mot de passe oublié » sur la page de "
        "connexion.\n",
    ),
    "en:exists": (
        "You already have an account",
        "Hello {name},\n\nSomeone (probably you) tried to sign up with this address, which "
        "already has an account. Log in: {link}\nYou can create another association from "
        "there. Forgot your password? Use \u201cForgot your password\u201d on the login page.\n",
    ),
    "fr:invite": (
        "Invitation à rejoindre {org}",
        "Bonjour,\n\n{inviter} vous invite à rejoindre {org} sur la plateforme de dons, avec "
        "le rôle « {role} ». Pour accepter (lien valable 7 jours) :\n{link}\n",
    ),
    "en:invite": (
        "Invitation to join {org}",
        "Hello,\n\n{inviter} invites you to join {org} on the donation platform, as "
        "\u201c{role}\u201d. To accept (link valid for 7 days):\n{link}\n",
    ),
}
ROLE_NAMES = {
    "fr": {"owner": "propriétaire", "admin": "administrateur", "campaigner": "campagnes",
           "finance": "finances"},
    "en": {"owner": "owner", "admin": "admin", "campaigner": "campaigner", "finance": "finance"},
}  # fmt: skip


def _message(rt: Runtime, to: str, lang: str, kind: str, values: dict[str, str]) -> EmailMessage:
    subject, body = _TEXTS[f"{lang}:{kind}"]
    msg = EmailMessage()
    msg["From"] = rt.settings.mail_from
    msg["To"] = to
    msg["Subject"] = subject.format(**values)
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(f"account-{kind}")
    msg.set_content(body.format(**values))
    return msg


async def _compose(rt: Runtime, payload: dict[str, Any]) -> EmailMessage | None:
    kind = str(payload["kind"])
    base = rt.settings.public_url.rstrip("/")
    now = datetime.now(UTC)
    async with rt.pool.acquire() as conn, conn.transaction():
        if kind == "invite":
            inv = await users_db.get_invitation(conn, UUID(payload["invitation_id"]))
            if inv is None or inv.accepted_at or inv.revoked_at or inv.expires_at <= now:
                return None
            inviter = await conn.fetchval(
                "SELECT coalesce(nullif(u.full_name, ''), u.email) FROM invitations i "
                "JOIN users u ON u.id = i.invited_by WHERE i.id = $1",
                inv.id,
            )
            token, digest = new_token()
            await users_db.set_invitation_token(conn, inv.id, digest)
            values = {
                "org": inv.org_name,
                "inviter": str(inviter or inv.org_name),
                "role": ROLE_NAMES["fr"][inv.role],
                "link": f"{base}/admin/invitations/accept?token={token}",
            }
            return _message(rt, inv.email, "fr", kind, values)
        user = await users_db.get_user(conn, UUID(payload["user_id"]))
        if user is None:
            return None
        lang = "en" if user.locale.startswith("en") else "fr"
        values = {"name": user.full_name or user.email, "link": f"{base}/admin/login"}
        if kind == "verify":
            if user.email_verified_at is not None:
                return None
            token, digest = new_token()
            await users_db.add_token(conn, user.id, "verify_email", digest, now + VERIFY_VALIDITY)
            values["link"] = f"{base}/admin/verify?token={token}"
        elif kind == "reset":
            token, digest = new_token()
            await users_db.add_token(conn, user.id, "reset_password", digest, now + RESET_VALIDITY)
            values["link"] = f"{base}/admin/password/reset?token={token}"
        elif kind != "exists":
            raise ValueError(f"unknown account e-mail kind {kind!r}")
        return _message(rt, user.email, lang, kind, values)


async def send_account_email(rt: Runtime, payload: dict[str, Any]) -> str:
    """Send one account e-mail; raises on an SMTP failure so the outbox retries."""
    if not rt.settings.smtp_url:
        log.warning("account e-mail %s not sent: no SMTP configured", payload.get("kind"))
        return "skipped"
    message = await _compose(rt, payload)
    if message is None:
        return "skipped"
    await aiosmtplib.send(message, **_smtp_options(rt.settings.smtp_url))
    return "sent"
