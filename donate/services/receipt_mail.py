"""E-mailing a receipt (or its cancellation notice) to the donor, with the PDF attached.

Sent through ``DONATE_SMTP_URL`` (``smtp://user:pass@host:port``, ``smtps://`` for
implicit TLS) in French or English after the donor's locale, with a signed link to
download the document again. A failed send raises, so the outbox retries it with backoff;
the attempt and its error are recorded on ``receipt_emails`` for the association to see.
Sending never touches numbering: a retry only re-renders the stored snapshot. A send that
succeeded is not repeated when the job runs again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any
from urllib.parse import unquote, urlsplit
from uuid import UUID

import aiosmtplib

from donate.db import receipt_batches as batch_db
from donate.db import receipts as receipts_db
from donate.db.receipts import ReceiptRow
from donate.domain.money import Money
from donate.i18n import format_date, format_money
from donate.security import links
from donate.services.receipts import cancellation_pdf, receipt_pdf
from donate.services.runtime import Runtime
from donate.settings import Settings

log = logging.getLogger(__name__)

LINK_PURPOSE = "receipt-pdf"
LINK_VALIDITY = timedelta(days=400)  # past the next spring's income tax return

_TEXTS: dict[str, str] = {
    "fr:receipt:subject": "Votre reçu fiscal n° {number} — {org}",
    "fr:receipt:body": (
        "Bonjour {name},\n\nMerci pour votre soutien à {org}. Vous trouverez ci-joint "
        "votre reçu fiscal n° {number} d'un montant de {amount}, à conserver pour votre "
        "déclaration d'impôts.\n\nVous pouvez le télécharger à nouveau jusqu'au {expiry} :\n"
        "{link}\n\n{org}\n"
    ),
    "en:receipt:subject": "Your tax receipt no. {number} — {org}",
    "en:receipt:body": (
        "Hello {name},\n\nThank you for supporting {org}. Attached is your French tax "
        "receipt no. {number} for {amount}; keep it for your tax return.\n\nYou can "
        "download it again until {expiry}:\n{link}\n\n{org}\n"
    ),
    "fr:cancellation:subject": "Annulation de votre reçu fiscal n° {number} — {org}",
    "fr:cancellation:body": (
        "Bonjour {name},\n\nLe reçu fiscal n° {number} d'un montant de {amount} que "
        "nous vous avions adressé est annulé ({reason}). Il ne peut plus être utilisé pour "
        "votre déclaration d'impôts. Si une partie de votre don reste acquise, un nouveau "
        "reçu portant un nouveau numéro vous est adressé séparément.\n\nL'avis d'annulation "
        "est joint à ce message ; vous pouvez le télécharger à nouveau jusqu'au {expiry} :\n"
        "{link}\n\n{org}\n"
    ),
    "en:cancellation:subject": "Your tax receipt no. {number} is canceled — {org}",
    "en:cancellation:body": (
        "Hello {name},\n\nThe French tax receipt no. {number} for {amount} that we sent "
        "you is canceled ({reason}). It can no longer be used for your tax return. If part "
        "of your gift remains, a new receipt with a new number is sent to you separately."
        "\n\nThe cancellation notice is attached; you can download it again until {expiry}:"
        "\n{link}\n\n{org}\n"
    ),
}


def _secret(settings: Settings) -> str:
    return settings.secret_key.get_secret_value() if settings.secret_key else "donate-dev"


def download_url(settings: Settings, receipt_id: UUID, now: datetime) -> tuple[str, datetime]:
    """The donor's link to the receipt (or its cancellation notice), valid LINK_VALIDITY."""
    expires = now + LINK_VALIDITY
    token = links.sign(_secret(settings), LINK_PURPOSE, str(receipt_id), expires)
    base = settings.public_url.rstrip("/")
    return f"{base}/receipts/{receipt_id}.pdf?token={token}", expires


def check_token(settings: Settings, receipt_id: UUID, token: str, now: datetime) -> bool:
    return links.verify(_secret(settings), LINK_PURPOSE, str(receipt_id), token, now)


def _smtp_options(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("DONATE_SMTP_URL must start with smtp:// or smtps://")
    options: dict[str, Any] = {
        "hostname": parts.hostname or "localhost",
        "port": parts.port or (465 if parts.scheme == "smtps" else 25),
        "use_tls": parts.scheme == "smtps",
        "timeout": 20,
    }
    if parts.username:
        options["username"] = unquote(parts.username)
        options["password"] = unquote(parts.password or "")
    return options


def compose(
    settings: Settings, receipt: ReceiptRow, donor: Any, kind: str, now: datetime
) -> EmailMessage:
    """The message for the donor, in French unless the donor chose another language."""
    lang = "fr" if str(donor["locale"] or "fr").startswith("fr") else "en"
    link, expires = download_url(settings, receipt.id, now)
    org = receipt.snapshot["beneficiary"]["legal_name"]
    values = {
        "name": donor["company_name"] or donor["first_name"] or donor["last_name"],
        "org": org,
        "number": receipt.number,
        "amount": format_money(Money(receipt.amount_minor, receipt.currency), lang),
        "expiry": format_date(expires, lang),
        "link": link,
        "reason": receipt.cancel_reason or "",
    }
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = donor["email"]
    msg["Subject"] = _TEXTS[f"{lang}:{kind}:subject"].format(**values)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(f"receipt-{receipt.id}-{kind}")
    msg.set_content(_TEXTS[f"{lang}:{kind}:body"].format(**values))
    if kind == "cancellation":
        pdf, name = cancellation_pdf(receipt), f"annulation-recu-{receipt.number}.pdf"
    else:
        pdf, name = receipt_pdf(receipt), f"recu-fiscal-{receipt.number}.pdf"
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=name)
    return msg


async def send(rt: Runtime, receipt_id: UUID, kind: str, *, now: datetime | None = None) -> str:
    """Send one receipt e-mail unless already sent; returns the e-mail's status.
    Raises on an SMTP failure (after recording it) so the outbox retries."""
    now = now or datetime.now(UTC)
    async with rt.pool.acquire() as conn:
        receipt = await receipts_db.get(conn, receipt_id)
        status = await receipts_db.email_status(conn, receipt_id, kind)
        if receipt is None or status is None:
            return "unknown"
        if status in ("sent", "skipped"):
            return status
        donor = await receipts_db.donor(conn, receipt.donor_id)
        assert donor is not None
        if donor["erased_at"] is not None or not rt.settings.smtp_url:
            why = "donor erased" if donor["erased_at"] is not None else "no SMTP configured"
            await receipts_db.mark_email(conn, receipt_id, kind, "skipped", why)
            return "skipped"
    message = compose(rt.settings, receipt, donor, kind, now)
    try:
        await aiosmtplib.send(message, **_smtp_options(rt.settings.smtp_url))
    except (aiosmtplib.SMTPException, OSError) as exc:
        async with rt.pool.acquire() as conn:
            await receipts_db.mark_email(
                conn, receipt_id, kind, "failed", f"{type(exc).__name__}: {exc}"
            )
        raise
    async with rt.pool.acquire() as conn:
        await receipts_db.mark_email(conn, receipt_id, kind, "sent")
    return "sent"


async def send_many(
    rt: Runtime, receipt_ids: list[UUID], kind: str, *, now: datetime | None = None
) -> int:
    """``send`` for a batch of receipts over one SMTP session; returns how many were sent.
    Already sent ones are left alone, so a retry sends only what is missing. Raises on an
    SMTP failure after recording it on every e-mail not sent, so the outbox retries."""
    now = now or datetime.now(UTC)
    async with rt.pool.acquire() as conn:
        todo = await batch_db.pending_emails(conn, receipt_ids, kind)
        if not todo:
            return 0
        if not rt.settings.smtp_url:
            await batch_db.mark_emails(conn, todo, kind, "skipped", "no SMTP configured")
            return 0
        rows = [await receipts_db.get(conn, rid) for rid in todo]
        donors = await batch_db.donors(conn, list({r.donor_id for r in rows if r}))
    sent: list[UUID] = []
    skipped: list[UUID] = []
    try:
        async with aiosmtplib.SMTP(**_smtp_options(rt.settings.smtp_url)) as smtp:
            for row in rows:
                assert row is not None
                donor = donors[row.donor_id]
                if donor["erased_at"] is not None:
                    skipped.append(row.id)
                    continue
                await smtp.send_message(compose(rt.settings, row, donor, kind, now))
                sent.append(row.id)
    except (aiosmtplib.SMTPException, OSError) as exc:
        done = set(sent) | set(skipped)
        async with rt.pool.acquire() as conn:
            await batch_db.mark_emails(conn, sent, kind, "sent")
            await batch_db.mark_emails(conn, skipped, kind, "skipped", "donor erased")
            await batch_db.mark_emails(
                conn, [r for r in todo if r not in done], kind, "failed",
                f"{type(exc).__name__}: {exc}",
            )  # fmt: skip
        raise
    async with rt.pool.acquire() as conn:
        await batch_db.mark_emails(conn, sent, kind, "sent")
        await batch_db.mark_emails(conn, skipped, kind, "skipped", "donor erased")
    return len(sent)
