"""Pure numbering rules for fiscal receipts.

A receipt number is ``YYYY-NNNNNN``: the year of the per-association sequence and the
sequence value, zero-padded to six digits (it simply grows past 999 999). Allocation
itself (gap-free, never reusing a cancelled number) is the database's job; this module
only formats, parses and decides which year a gift belongs to.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

_NUMBER = re.compile(r"^(\d{4})-(\d{6,})$")

RECEIPT_TZ = "Europe/Paris"


def format_receipt_number(year: int, seq: int) -> str:
    """``format_receipt_number(2026, 123) == "2026-000123"``; raises ValueError out of range."""
    if not 1000 <= year <= 9999:
        raise ValueError(f"receipt year out of range: {year}")
    if seq < 1:
        raise ValueError(f"receipt sequence starts at 1, got {seq}")
    return f"{year:04d}-{seq:06d}"


def parse_receipt_number(text: str) -> tuple[int, int]:
    """Inverse of :func:`format_receipt_number`; only the canonical spelling is accepted."""
    match = _NUMBER.match(text)
    if match is None:
        raise ValueError(f"not a receipt number: {text!r}")
    year, seq = int(match.group(1)), int(match.group(2))
    # Reject "2026-0000123": two spellings of one number would defeat the unique constraint.
    if seq < 1 or format_receipt_number(year, seq) != text:
        raise ValueError(f"not a canonical receipt number: {text!r}")
    return year, seq


def fiscal_year_of(paid_at: datetime, tz: str = RECEIPT_TZ) -> int:
    """The tax year of a gift: the calendar year of its payment date *in France*.

    French income tax is assessed on the calendar year, and the date printed on the
    receipt is the Paris date, so a gift paid on 31 December at 23:30 UTC (00:30 on
    1 January in Paris) belongs to the new year. Naive datetimes are refused: guessing
    their zone is exactly the bug this function exists to prevent.
    """
    if paid_at.tzinfo is None or paid_at.utcoffset() is None:
        raise ValueError("paid_at must be timezone-aware")
    return paid_at.astimezone(ZoneInfo(tz)).year


def local_date_of(paid_at: datetime, tz: str = RECEIPT_TZ) -> date:
    """The calendar date of ``paid_at`` in France: the payment date printed on a receipt."""
    if paid_at.tzinfo is None or paid_at.utcoffset() is None:
        raise ValueError("paid_at must be timezone-aware")
    return paid_at.astimezone(ZoneInfo(tz)).date()
