from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from donate.receipts.numbering import (
    fiscal_year_of,
    format_receipt_number,
    local_date_of,
    parse_receipt_number,
)


@pytest.mark.parametrize(
    ("year", "seq", "text"),
    [(2026, 1, "2026-000001"), (2026, 123, "2026-000123"), (2026, 1_234_567, "2026-1234567")],
)
def test_format_and_parse(year: int, seq: int, text: str) -> None:
    assert format_receipt_number(year, seq) == text
    assert parse_receipt_number(text) == (year, seq)


@given(st.integers(1000, 9999), st.integers(1, 10**9))
def test_round_trip(year: int, seq: int) -> None:
    assert parse_receipt_number(format_receipt_number(year, seq)) == (year, seq)


@pytest.mark.parametrize(
    "text",
    ["", "2026-123", "2026-0000123", "2026-000000", "26-000001", "2026_000001", " 2026-000001"],
)
def test_parse_rejects_non_canonical(text: str) -> None:
    with pytest.raises(ValueError, match="receipt number"):
        parse_receipt_number(text)


@pytest.mark.parametrize(("year", "seq"), [(2026, 0), (2026, -1), (999, 1), (10000, 1)])
def test_format_rejects_out_of_range(year: int, seq: int) -> None:
    with pytest.raises(ValueError, match="receipt"):
        format_receipt_number(year, seq)


def test_new_year_eve_in_utc_is_new_year_in_paris() -> None:
    paid = datetime(2025, 12, 31, 23, 30, tzinfo=UTC)
    assert fiscal_year_of(paid) == 2026
    assert local_date_of(paid) == date(2026, 1, 1)
    assert fiscal_year_of(paid, tz="UTC") == 2025


def test_summer_offset_is_two_hours() -> None:
    paid = datetime(2025, 6, 30, 22, 30, tzinfo=UTC)  # 00:30 CEST on 1 July
    assert local_date_of(paid) == date(2025, 7, 1)
    assert local_date_of(datetime(2025, 6, 30, 21, 30, tzinfo=UTC)) == date(2025, 6, 30)


def test_other_offsets_are_converted() -> None:
    paid = datetime(2025, 12, 31, 18, 0, tzinfo=timezone(timedelta(hours=-6)))
    assert fiscal_year_of(paid) == 2026


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        fiscal_year_of(datetime(2025, 12, 31, 23, 30))  # noqa: DTZ001
    with pytest.raises(ValueError, match="timezone-aware"):
        local_date_of(datetime(2025, 12, 31, 23, 30))  # noqa: DTZ001
