"""SEPA pre-notifications before each debit and card expiry reminders a month ahead: crons
that write through the outbox, once per debit date and once per card."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from arq.connections import ArqRedis

from donate.services import recurring_reminders
from tests.support.platform import Platform, SmtpOutbox

from .helpers import plan, start_plan


async def test_sepa_prenotification_once_per_debit(
    pf: Platform, redis: ArqRedis, smtp_outbox: SmtpOutbox
) -> None:
    email = "sepa@recurring.example"
    _, p = await start_plan(pf, redis, "stripe", 2500, email=email, method="sepa_debit")
    p = await plan(pf, p["id"])
    assert p["payment_method"]["kind"] == "sepa_debit" and p["payment_method"]["mandate_reference"]
    debit = datetime.fromisoformat(p["next_charge_date"]).date()
    async with pf.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE organizations SET sepa_creditor_id = 'FR12ZZZ123456' WHERE slug = $1", pf.org
        )
    far = datetime.combine(debit - timedelta(days=20), time(9), UTC)
    assert (await recurring_reminders.queue_reminders(pf.runtime, now=far))["sepa_prenotice"] == 0
    near = datetime.combine(debit - timedelta(days=3), time(9), UTC)
    assert (await recurring_reminders.queue_reminders(pf.runtime, now=near))["sepa_prenotice"] == 1
    again = near + timedelta(days=1)
    assert (await recurring_reminders.queue_reminders(pf.runtime, now=again))["sepa_prenotice"] == 0
    await pf.process(redis)
    [mail] = [m for m in smtp_outbox.messages(to=email) if "SEPA" in m["Subject"]]
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert p["payment_method"]["mandate_reference"] in text
    assert "FR12ZZZ123456" in text and "25,00" in text


async def test_card_expiry_reminder_once_per_card(
    pf: Platform, redis: ArqRedis, smtp_outbox: SmtpOutbox
) -> None:
    email = "expiry@recurring.example"
    _, p = await start_plan(pf, redis, "stripe", 1000, email=email, card_expiry="03/2029")
    assert (p["payment_method"]["exp_month"], p["payment_method"]["exp_year"]) == (3, 2029)
    january = datetime(2029, 1, 20, 9, tzinfo=UTC)
    february = datetime(2029, 2, 3, 9, tzinfo=UTC)
    assert (await recurring_reminders.queue_reminders(pf.runtime, now=january))["card_expiry"] == 0
    assert (await recurring_reminders.queue_reminders(pf.runtime, now=february))["card_expiry"] == 1
    february_later = february + timedelta(days=10)
    counts = await recurring_reminders.queue_reminders(pf.runtime, now=february_later)
    assert counts["card_expiry"] == 0
    await pf.process(redis)
    [mail] = [m for m in smtp_outbox.messages(to=email) if "carte expire" in m["Subject"]]
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "4242" in text and "03/2029" in text and "/payment-method?token=" in text
