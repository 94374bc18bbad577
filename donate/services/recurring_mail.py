"""E-mails about recurring gifts, and the donor space's sign-in link, in French or English.

Sent through ``DONATE_SMTP_URL`` like the receipts. Each plan notice is recorded in
``recurring_notices`` when it becomes due (once per failed attempt, debit date or card), and
marked sent here: a job run twice never mails twice. An SMTP failure raises so that the
outbox retries with backoff.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import aiosmtplib

from donate.db import recurring as recurring_db
from donate.db.recurring import PlanRow
from donate.domain.money import Money
from donate.i18n import format_date, format_money
from donate.security import links
from donate.services.receipt_mail import _smtp_options
from donate.services.runtime import Runtime
from donate.settings import Settings

FIX_PURPOSE = "plan-payment-method"
FIX_VALIDITY = timedelta(days=21)  # past Stripe's last retry (about two weeks)
LOGIN_PURPOSE = "donor-login"

_FREQ = {
    "fr": {"monthly": "mensuel", "yearly": "annuel"},
    "en": {"monthly": "monthly", "yearly": "yearly"},
}
_TEXTS: dict[str, str] = {
    "fr:payment_failed:subject": "Votre don {freq} à {org} n'a pas pu être prélevé",
    "fr:payment_failed:body": (
        "Bonjour {name},\n\nLe prélèvement de votre don {freq} de {amount} à {org} a échoué "
        "(tentative n° {attempt}).{retry}\n\nPour continuer à soutenir {org}, vous pouvez "
        "mettre à jour votre moyen de paiement ici (lien valable jusqu'au {expiry}) :\n{link}\n"
        "\nAucun montant supplémentaire ne vous sera prélevé pour cette tentative.\n\n{org}\n"
    ),
    "fr:retry": " Une nouvelle tentative aura lieu le {date}.",
    "en:payment_failed:subject": "Your {freq} gift to {org} could not be collected",
    "en:payment_failed:body": (
        "Hello {name},\n\nThe payment of your {freq} gift of {amount} to {org} failed "
        "(attempt {attempt}).{retry}\n\nTo keep supporting {org}, you can update your payment "
        "method here (link valid until {expiry}):\n{link}\n\nNothing more is charged for this "
        "attempt.\n\n{org}\n"
    ),
    "en:retry": " We will try again on {date}.",
    "fr:lapsed:subject": "Votre don {freq} à {org} est interrompu",
    "fr:lapsed:body": (
        "Bonjour {name},\n\nMalgré plusieurs tentatives, votre don {freq} de {amount} à {org} "
        "n'a pas pu être prélevé : il est interrompu et plus rien ne sera prélevé. Vos dons "
        "passés et leurs reçus fiscaux restent acquis.\n\nVous pouvez retrouver vos dons et "
        "donner à nouveau depuis votre espace donateur :\n{space}\n\n{org}\n"
    ),
    "en:lapsed:subject": "Your {freq} gift to {org} has stopped",
    "en:lapsed:body": (
        "Hello {name},\n\nDespite several attempts, your {freq} gift of {amount} to {org} "
        "could not be collected: it has stopped and nothing more will be charged. Your past "
        "gifts and their tax receipts stand.\n\nYou can see your gifts and give again from your "
        "donor space:\n{space}\n\n{org}\n"
    ),
    "fr:sepa_prenotice:subject": "Prochain prélèvement SEPA de {amount} pour {org}",
    "fr:sepa_prenotice:body": (
        "Bonjour {name},\n\nConformément à votre mandat de prélèvement SEPA, votre compte "
        "se terminant par {last4} sera débité de {amount} le {date} au titre de votre don "
        "{freq} à {org}.\n\nRéférence unique du mandat (RUM) : {mandate}\nIdentifiant "
        "créancier SEPA (ICS) : {creditor}\n\nPour modifier ou arrêter ce don :\n{space}\n\n"
        "{org}\n"
    ),
    "en:sepa_prenotice:subject": "Next SEPA direct debit of {amount} for {org}",
    "en:sepa_prenotice:body": (
        "Hello {name},\n\nUnder your SEPA Direct Debit mandate, your account ending in "
        "{last4} will be debited {amount} on {date} for your {freq} gift to {org}.\n\n"
        "Mandate reference: {mandate}\nCreditor identifier: {creditor}\n\nTo change or stop "
        "this gift:\n{space}\n\n{org}\n"
    ),
    "fr:card_expiry:subject": "Votre carte expire bientôt — votre don {freq} à {org}",
    "fr:card_expiry:body": (
        "Bonjour {name},\n\nLa carte {brand} se terminant par {last4} qui règle votre don "
        "{freq} de {amount} à {org} expire fin {card_expiry}. Pour que votre soutien continue, "
        "enregistrez une nouvelle carte ici (lien valable jusqu'au {expiry}) :\n{link}\n\n{org}\n"
    ),
    "en:card_expiry:subject": "Your card expires soon — your {freq} gift to {org}",
    "en:card_expiry:body": (
        "Hello {name},\n\nThe {brand} card ending in {last4} that pays your {freq} gift of "
        "{amount} to {org} expires at the end of {card_expiry}. To keep your support going, "
        "save a new card here (link valid until {expiry}):\n{link}\n\n{org}\n"
    ),
    "fr:login:subject": "Votre lien de connexion à l'espace donateur",
    "fr:login:body": (
        "Bonjour,\n\nVoici votre lien personnel pour accéder à vos dons, vos dons réguliers et "
        "vos reçus fiscaux. Il est valable jusqu'à {expiry_time} et ne doit pas être partagé :"
        "\n{link}\n\nSi vous n'avez rien demandé, ignorez ce message.\n"
    ),
    "en:login:subject": "Your sign-in link to the donor space",
    "en:login:body": (
        "Hello,\n\nHere is your personal link to your gifts, recurring gifts and tax receipts. "
        "It is valid until {expiry_time} and must not be shared:\n{link}\n\nIf you did not ask "
        "for it, ignore this message.\n"
    ),
}


def secret(settings: Settings) -> str:
    return settings.secret_key.get_secret_value() if settings.secret_key else "donate-dev"


def _lang(locale: str | None) -> str:
    return "fr" if str(locale or "fr").startswith("fr") else "en"


def fix_url(settings: Settings, plan_id: UUID, now: datetime) -> tuple[str, datetime]:
    """A link that opens the provider's payment-method page for this plan, no sign-in."""
    expires = now + FIX_VALIDITY
    token = links.sign(secret(settings), FIX_PURPOSE, str(plan_id), expires)
    base = settings.public_url.rstrip("/")
    return f"{base}/donor/plans/{plan_id}/payment-method?token={token}", expires


def check_fix_token(settings: Settings, plan_id: UUID, token: str, now: datetime) -> bool:
    return links.verify(secret(settings), FIX_PURPOSE, str(plan_id), token, now)


def login_url(settings: Settings, email: str, expires: datetime) -> str:
    token = links.sign(secret(settings), LOGIN_PURPOSE, email.strip().lower(), expires)
    query = urlencode({"email": email.strip().lower(), "token": token})
    return f"{settings.public_url.rstrip('/')}/donor/auth?{query}"


def check_login(settings: Settings, email: str, token: str, now: datetime) -> bool:
    return links.verify(secret(settings), LOGIN_PURPOSE, email.strip().lower(), token, now)


def _message(settings: Settings, to: str, subject: str, body: str, tag: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(tag)
    msg.set_content(body)
    return msg


def compose_notice(
    settings: Settings,
    plan: PlanRow,
    donor: Any,
    org: Any,
    kind: str,
    cycle_key: str,
    now: datetime,
) -> EmailMessage:
    lang = _lang(donor["locale"] or plan.locale)
    link, expires = fix_url(settings, plan.id, now)
    base = settings.public_url.rstrip("/")
    values: dict[str, Any] = {
        "name": donor["company_name"] or donor["first_name"] or donor["last_name"] or "",
        "org": org["legal_name"],
        "freq": _FREQ[lang].get(plan.frequency, plan.frequency),
        "amount": format_money(Money(plan.charged_minor, plan.currency), lang),
        "link": link,
        "expiry": format_date(expires, lang),
        "space": f"{base}/donor?lang={lang}",
        "attempt": max(plan.failure_count, 1),
        "retry": "",
        "last4": plan.card_last4 or "····",
        "brand": plan.card_brand or "",
        "mandate": plan.mandate_reference or plan.mandate_id or "—",
        "creditor": org["sepa_creditor_id"] or plan.provider.capitalize(),
        "date": "",
        "card_expiry": f"{plan.card_exp_month or 0:02d}/{plan.card_exp_year or 0}",
    }
    if plan.next_retry_at is not None:
        values["retry"] = _TEXTS[f"{lang}:retry"].format(date=format_date(plan.next_retry_at, lang))
    if kind == "sepa_prenotice":
        values["date"] = format_date(date.fromisoformat(cycle_key), lang)
    subject = _TEXTS[f"{lang}:{kind}:subject"].format(**values)
    body = _TEXTS[f"{lang}:{kind}:body"].format(**values)
    return _message(settings, donor["email"], subject, body, f"plan-{plan.id}-{kind}")


async def _send(settings: Settings, msg: EmailMessage) -> None:
    assert settings.smtp_url is not None
    await aiosmtplib.send(msg, **_smtp_options(settings.smtp_url))


async def send_notice(
    rt: Runtime, plan_id: UUID, kind: str, cycle_key: str, *, now: datetime | None = None
) -> str:
    """Send one plan notice unless already sent; returns its status. Raises on SMTP errors."""
    now = now or datetime.now(UTC)
    async with rt.pool.acquire() as conn:
        status = await recurring_db.notice_status(conn, plan_id, kind, cycle_key)
        plan = await recurring_db.get_plan(conn, plan_id)
        if plan is None or status is None:
            return "unknown"
        if status != "pending":
            return status
        donor = await conn.fetchrow("SELECT * FROM donors WHERE id = $1", plan.donor_id)
        org = await conn.fetchrow("SELECT * FROM organizations WHERE id = $1", plan.organization_id)
        assert donor is not None and org is not None
        stale = kind in ("sepa_prenotice", "card_expiry") and plan.ended
        if donor["erased_at"] is not None or not rt.settings.smtp_url or stale:
            await recurring_db.mark_notice(conn, plan_id, kind, cycle_key, "skipped")
            return "skipped"
    await _send(rt.settings, compose_notice(rt.settings, plan, donor, org, kind, cycle_key, now))
    async with rt.pool.acquire() as conn:
        await recurring_db.mark_notice(conn, plan_id, kind, cycle_key, "sent")
    return "sent"


async def send_login_link(rt: Runtime, email: str, expires: datetime, lang: str) -> str:
    """The donor space's sign-in link (the token is made here, never stored)."""
    if not rt.settings.smtp_url:
        return "skipped"
    lang = _lang(lang)
    values = {
        "link": login_url(rt.settings, email, expires) + f"&lang={lang}",
        "expiry_time": expires.astimezone(UTC).strftime("%H:%M UTC"),
    }
    msg = _message(
        rt.settings,
        email,
        _TEXTS[f"{lang}:login:subject"],
        _TEXTS[f"{lang}:login:body"].format(**values),
        "donor-login",
    )
    await _send(rt.settings, msg)
    return "sent"
