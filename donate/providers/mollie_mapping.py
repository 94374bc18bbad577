"""Pure mapping of Mollie API v2 objects (plain dicts, as on the wire) to the ``base`` dataclasses.

No I/O and no SDK objects here, so every rule is testable with Mollie's own example responses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from donate.domain.money import Money, exponent
from donate.providers.base import (
    Dispute,
    DisputeStatus,
    PaymentMethodInfo,
    PaymentSnapshot,
    PaymentStatus,
    Payout,
    PayoutLine,
    RefundInfo,
    SubscriptionSnapshot,
    SubscriptionStatus,
)

JSON = dict[str, Any]

PAYMENT_STATUS: dict[str, PaymentStatus] = {
    "open": PaymentStatus.OPEN,
    "pending": PaymentStatus.PENDING,
    "authorized": PaymentStatus.PENDING,  # not captured yet: no money, no receipt
    "paid": PaymentStatus.PAID,
    "canceled": PaymentStatus.CANCELED,
    "expired": PaymentStatus.EXPIRED,
    "failed": PaymentStatus.FAILED,
}
REFUND_STATUS = {
    "queued": "pending",
    "pending": "pending",
    "processing": "pending",
    "refunded": "succeeded",
    "failed": "failed",
    "canceled": "canceled",
}
SETTLEMENT_STATUS = {
    "open": "pending",
    "pending": "in_transit",
    "paidout": "paid",
    "failed": "failed",
}
_LOCALES = {
    "fr": "fr_FR",
    "en": "en_US",
    "nl": "nl_NL",
    "de": "de_DE",
    "es": "es_ES",
    "it": "it_IT",
}
_LOCALES |= {"pt": "pt_PT", "ca": "ca_ES", "nb": "nb_NO", "sv": "sv_SE", "fi": "fi_FI"}
_LOCALES |= {"da": "da_DK", "is": "is_IS", "hu": "hu_HU", "pl": "pl_PL", "lv": "lv_LV"}
_LOCALES |= {"lt": "lt_LT"}
_FULL_LOCALE = re.compile(r"^[a-z]{2}_[A-Z]{2}$")


def mollie_locale(locale: str) -> str | None:
    """``fr`` / ``fr-FR`` → ``fr_FR``; unknown → None (Mollie then picks from the browser)."""
    normal = locale.replace("-", "_")
    if _FULL_LOCALE.match(normal) and normal.split("_")[0] in _LOCALES:
        return normal
    return _LOCALES.get(normal.split("_")[0].lower())


def amount_param(amount: Money) -> dict[str, str]:
    """Money → Mollie's ``{"currency", "value"}`` with exactly the currency's decimals."""
    return {"currency": amount.currency, "value": amount.to_decimal_text()}


def money(value: Any) -> Money:
    """Mollie ``{"currency", "value": "10.00"}`` → Money (exact: raises on extra decimals)."""
    if not isinstance(value, Mapping):
        raise ValueError(f"not a Mollie amount: {value!r}")
    return Money.from_decimal_text(str(value["value"]), str(value["currency"]))


def money_rounded(value: Mapping[str, Any]) -> tuple[Decimal, str]:
    """Settlement costs carry 4 decimals ("2.5410"): keep the exact Decimal for summing."""
    return Decimal(str(value["value"])), str(value["currency"])


def to_datetime(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    # Mollie writes both "+00:00" and "2018-03-14T17:00:52.0Z".
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _donation_id(payment: JSON) -> str | None:
    meta = payment.get("metadata")
    if isinstance(meta, Mapping) and meta.get("donation_id") is not None:
        return str(meta["donation_id"])
    return None


def refund_from(refund: JSON) -> RefundInfo:
    return RefundInfo(
        refund_id=refund["id"],
        amount=money(refund["amount"]),
        status=REFUND_STATUS.get(str(refund.get("status")), "pending"),
        created_at=to_datetime(refund.get("createdAt")),
    )


def chargeback_from(chargeback: JSON) -> Dispute:
    """Mollie has no dispute process: a chargeback is money already back with the payer,
    unless the bank reverses it (``reversedAt``)."""
    reversed_ = bool(chargeback.get("reversedAt"))
    return Dispute(
        dispute_id=chargeback["id"],
        amount=money(chargeback["amount"]),
        status=DisputeStatus.WON if reversed_ else DisputeStatus.LOST,
    )


def snapshot_from(
    payment: JSON, refunds: Sequence[JSON] = (), chargebacks: Sequence[JSON] = ()
) -> PaymentSnapshot:
    status = PAYMENT_STATUS.get(str(payment.get("status")))
    if status is None:
        raise ValueError(f"unknown Mollie payment status {payment.get('status')!r}")
    method = payment.get("method")
    return PaymentSnapshot(
        provider="mollie",
        checkout_id=payment["id"],
        payment_id=payment["id"],
        donation_id=_donation_id(payment),
        status=status,
        amount=money(payment["amount"]),
        refunds=tuple(refund_from(r) for r in refunds),
        disputes=tuple(chargeback_from(c) for c in chargebacks),
        fee=None,  # Mollie invoices its costs per settlement, not per payment
        method=str(method) if method else None,
        paid_at=to_datetime(payment.get("paidAt")),
        customer_id=payment.get("customerId"),
        subscription_id=payment.get("subscriptionId"),
        sequence_type=_SEQUENCE.get(str(payment.get("sequenceType"))),
        mandate_id=payment.get("mandateId"),
        purpose=_purpose(payment),
    )


_SEQUENCE = {"first": "first", "recurring": "recurring"}
INTERVALS = {"monthly": "1 month", "yearly": "12 months"}
_FREQUENCY = {"1 month": "monthly", "12 months": "yearly", "1 year": "yearly"}
_SUBSCRIPTION_STATUS = {
    "pending": SubscriptionStatus.ACTIVE,  # waiting for its mandate: nothing failed
    "active": SubscriptionStatus.ACTIVE,
    "suspended": SubscriptionStatus.LAPSED,  # Mollie stopped it: the mandate became invalid
    "canceled": SubscriptionStatus.CANCELED,
    "completed": SubscriptionStatus.CANCELED,
}


def _purpose(payment: JSON) -> str | None:
    meta = payment.get("metadata")
    if isinstance(meta, Mapping) and meta.get("purpose") is not None:
        return str(meta["purpose"])
    return None


def frequency(interval: str) -> str:
    return _FREQUENCY.get(interval, interval)


def payment_method_info(mandate: JSON | None) -> PaymentMethodInfo | None:
    if mandate is None:
        return None
    details = mandate.get("details") or {}
    if mandate.get("method") == "creditcard":
        expiry = str(details.get("cardExpiryDate") or "")
        year, _, rest = expiry.partition("-")
        month = rest.partition("-")[0]
        return PaymentMethodInfo(
            kind="card",
            brand=details.get("cardLabel"),
            last4=str(details.get("cardNumber") or "")[-4:] or None,
            exp_month=int(month) if month.isdigit() else None,
            exp_year=int(year) if year.isdigit() else None,
            mandate_id=mandate.get("id"),
        )
    account = str(details.get("consumerAccount") or "")
    return PaymentMethodInfo(
        kind="sepa_debit" if mandate.get("method") == "directdebit" else str(mandate.get("method")),
        last4=account[-4:] or None,
        mandate_id=mandate.get("id"),
        # Mollie debits under the custom reference when one was given, else the mandate id.
        mandate_reference=mandate.get("mandateReference") or mandate.get("id"),
    )


def consecutive_failures(payments_newest_first: Sequence[JSON]) -> int:
    count = 0
    for payment in payments_newest_first:
        if payment.get("status") != "failed":
            break
        count += 1
    return count


def subscription_from(
    sub: JSON, mandate: JSON | None, payments_newest_first: Sequence[JSON] = ()
) -> SubscriptionSnapshot:
    """Mollie never retries a failed debit: a plan whose latest payment failed is past due."""
    raw = str(sub.get("status"))
    status = _SUBSCRIPTION_STATUS.get(raw, SubscriptionStatus.ACTIVE)
    failures = consecutive_failures(payments_newest_first)
    if status is SubscriptionStatus.ACTIVE and failures:
        status = SubscriptionStatus.PAST_DUE
    raw_meta = sub.get("metadata")
    meta: Mapping[str, Any] = raw_meta if isinstance(raw_meta, Mapping) else {}
    nxt = sub.get("nextPaymentDate")
    customer = sub.get("customerId") or _customer_from_links(sub)
    return SubscriptionSnapshot(
        provider="mollie",
        subscription_id=str(sub["id"]),
        status=status,
        provider_status=raw,
        amount=money(sub["amount"]),
        interval=frequency(str(sub.get("interval"))),
        customer_id=customer,
        donation_id=str(meta["donation_id"]) if meta.get("donation_id") else None,
        next_payment_date=date.fromisoformat(nxt) if isinstance(nxt, str) and nxt else None,
        payment_method=payment_method_info(mandate),
        cancel_at_period_end=False,
        canceled_at=to_datetime(sub.get("canceledAt")),
        failed_attempts=failures,
        next_retry_at=None,
        metadata={str(k): str(v) for k, v in meta.items()},
    )


def _customer_from_links(obj: JSON) -> str | None:
    href = str(((obj.get("_links") or {}).get("customer") or {}).get("href") or "")
    found = re.search(r"/customers/(cst_[A-Za-z0-9]+)", href)
    return found.group(1) if found else None


def payout_from(settlement: JSON) -> Payout:
    settled = to_datetime(settlement.get("settledAt"))
    return Payout(
        provider="mollie",
        payout_id=settlement["id"],
        amount=money(settlement["amount"]),
        status=SETTLEMENT_STATUS.get(str(settlement.get("status")), "pending"),
        arrival_date=settled.date() if settled else None,
        created_at=to_datetime(settlement.get("createdAt")),
    )


def _settled(obj: JSON, negative: bool) -> Money:
    """What the line moved in the settlement: ``settlementAmount`` when present (settlement
    currency), else the amount itself; refunds and chargebacks always leave the balance."""
    amount = money(obj.get("settlementAmount") or obj["amount"])
    return Money(-abs(amount.minor) if negative else amount.minor, amount.currency)


def _line(stl_id: str, kind: str, obj: JSON, payment_ref: str | None, negative: bool) -> PayoutLine:
    gross = _settled(obj, negative)
    return PayoutLine(
        line_id=f"{stl_id}:{obj['id']}",
        kind=kind,
        source_id=obj["id"],
        payment_ref=payment_ref,
        gross=gross,
        fee=Money.zero(gross.currency),
        net=gross,
        created_at=to_datetime(obj.get("paidAt") or obj.get("createdAt")),
        description=str(obj.get("description") or ""),
    )


def cost_lines(settlement: JSON) -> list[PayoutLine]:
    """The settlement's costs (``periods.{year}.{month}.costs``) as fee lines.

    Costs carry 4 decimals; each line is rounded so that the running total stays rounded
    half-up, hence the lines add up to the rounded total Mollie deducted.
    """
    stl_id = str(settlement["id"])
    lines: list[PayoutLine] = []
    exact_total = Decimal(0)
    rounded_total = 0
    periods = settlement.get("periods") or {}
    for year in sorted(periods, key=int):
        for month in sorted(periods[year], key=int):
            for i, cost in enumerate(periods[year][month].get("costs") or []):
                value, currency = money_rounded(cost["amountGross"])
                exact_total += value
                quantum = Decimal(1).scaleb(-exponent(currency))
                minor_total = int(
                    exact_total.quantize(quantum, ROUND_HALF_UP).scaleb(exponent(currency))
                )
                fee = Money(minor_total - rounded_total, currency)
                rounded_total = minor_total
                lines.append(
                    PayoutLine(
                        line_id=f"{stl_id}:cost:{year}-{int(month):02d}:{i}",
                        kind="fee",
                        source_id=None,
                        payment_ref=None,
                        gross=Money.zero(currency),
                        fee=fee,
                        net=-fee,
                        created_at=to_datetime(settlement.get("settledAt")),
                        description=str(cost.get("description") or ""),
                    )
                )
    return lines


def settlement_lines(
    settlement: JSON,
    payments: Iterable[JSON],
    refunds: Iterable[JSON],
    chargebacks: Iterable[JSON],
) -> list[PayoutLine]:
    """Every movement of a settlement: payments in, refunds and chargebacks out, costs."""
    stl_id = str(settlement["id"])
    lines = [settlement_line(stl_id, "payment", p, negative=False) for p in payments]
    lines += [settlement_line(stl_id, "refund", r, negative=True) for r in refunds]
    lines += [settlement_line(stl_id, "dispute", c, negative=True) for c in chargebacks]
    return lines + cost_lines(settlement)


def settlement_line(stl_id: str, kind: str, obj: JSON, negative: bool) -> PayoutLine:
    """One payment (in), refund or chargeback (out) of a settlement."""
    ref = obj["id"] if kind == "payment" else obj.get("paymentId")
    return _line(stl_id, kind, obj, ref, negative=negative)
