"""Pure parts of the back-office pages: form reading, the chart, retention dates."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from donate.services.campaign_admin_form import major, parse_campaign, parse_tiers, shown_day
from donate.services.dashboard import DayPoint, fill_days
from donate.services.donor_privacy import retention_end
from donate.web.backoffice.dashboard_chart import gifts_svg, nice_ceiling
from tests.backoffice_pages.helpers import campaign_form


def test_campaign_form_to_minor_units_and_dates() -> None:
    values, errors = parse_campaign(
        campaign_form(
            goal="1 500,50",
            suggested_amounts="100 20 50 20",
            ends_on="2027-03-31",
            starts_on="2027-01-01",
            title="  Été   solidaire ",
            slug="",
        ),
        "fr",
        default_currency="EUR",
    )
    assert errors == {}
    assert values["title"] == "Été solidaire" and values["slug"] == "ete-solidaire"
    assert values["goal_minor"] == 150_050
    assert values["suggested_amounts_minor"] == [2000, 5000, 10000]
    assert values["frequencies"] == ["once", "monthly"]
    # The end date is included: the campaign ends at the next midnight in Paris.
    assert values["ends_at"] == datetime(2027, 3, 31, 22, 0, tzinfo=UTC)  # CEST
    assert shown_day(values["ends_at"], end=True) == "2027-03-31"
    assert shown_day(values["starts_at"]) == "2027-01-01"


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"title": ""}, "title"),
        ({"slug": "Pas Bon"}, "slug"),
        ({"kind": "loterie"}, "kind"),
        ({"currency": "XXX"}, "currency"),
        ({"min_amount": "0"}, "min_amount"),
        ({"max_amount": "-5"}, "max_amount"),
        ({"min_amount": "50", "max_amount": "10"}, "max_amount"),
        ({"suggested_amounts": "1 2 3"}, "suggested_amounts"),
        ({"suggested_amounts": "10 20 30 40 50 60 70"}, "suggested_amounts"),
        ({"frequency_once": "", "frequency_monthly": ""}, "frequencies"),
        ({"kind": "crowdfunding", "ends_on": ""}, "ends_on"),
        ({"kind": "crowdfunding", "goal": "", "ends_on": "2030-01-01"}, "goal"),
        ({"starts_on": "2030-02-01", "ends_on": "2030-01-01"}, "ends_on"),
        ({"story_md": "x" * 50_001}, "story_md"),
    ],
)
def test_campaign_form_refusals(over: dict[str, str], field: str) -> None:
    _values, errors = parse_campaign(campaign_form(**over), "fr", default_currency="EUR")
    assert field in errors


def test_tier_rows_counterpart_rule_for_receipts() -> None:
    raw = {
        "tier-0-title": "Sac",
        "tier-0-amount": "40",
        "tier-0-counterpart": "10",
        "tier-1-title": "Dîner",
        "tier-1-amount": "400",
        "tier-1-counterpart": "80",
        "tier-2-title": "",
        "tier-2-amount": "",
        "tier-3-title": "X",
        "tier-3-amount": "5",
        "tier-3-stock": "-1",
    }
    rows, errors = parse_tiers(raw, "fr", "EUR", receipt_eligible=True)
    assert [r.key for r in rows] == ["0", "1", "3"]  # the blank row is ignored
    assert "tier-0-counterpart" not in errors  # 10 € for 40 €: a quarter
    assert "tier-1-counterpart" in errors  # above 73 €
    assert "tier-3-stock" in errors
    _rows, errors = parse_tiers(raw, "fr", "EUR", receipt_eligible=False)
    assert "tier-1-counterpart" not in errors


def test_major_units_for_the_form() -> None:
    assert major(2500, "EUR") == "25" and major(1250, "EUR") == "12.50"
    assert major(500, "JPY") == "500" and major(None, "EUR") == ""


def test_days_filled_and_chart_escaped() -> None:
    rows = [
        {"day": date(2026, 3, 2), "currency": "EUR", "total": 4200, "gifts": 2},
        {"day": date(2026, 3, 2), "currency": "USD", "total": 999, "gifts": 1},
    ]
    points = fill_days(rows, "EUR", date(2026, 3, 1), 3)
    assert points == [
        DayPoint(date(2026, 3, 1), 0, 0),
        DayPoint(date(2026, 3, 2), 4200, 2),
        DayPoint(date(2026, 3, 3), 0, 0),
    ]
    svg = gifts_svg(
        points, title="<b>", description="d", money=str, day_label=lambda p: p.day.isoformat()
    )
    assert svg.count("<rect") == 1 and "&lt;b&gt;" in svg and "<b>" not in svg
    assert nice_ceiling(4200) == 5000 and nice_ceiling(0) == 1 and nice_ceiling(100) == 100


def test_chart_dates_a_week_apart_ending_on_the_last_day() -> None:
    """30 days: labels on days 2, 9, 16, 23 and 30 — never two neighbours that overlap."""
    start = date(2026, 11, 1)
    points = fill_days([], "EUR", start, 30)
    svg = gifts_svg(
        points, title="t", description="d", money=str, day_label=lambda p: p.day.isoformat()
    )
    labelled = [p.day.day for p in points if f">{p.day.isoformat()}</text>" in svg]
    assert labelled == [2, 9, 16, 23, 30]


def test_retention_is_six_years_after_the_last_receipt() -> None:
    assert retention_end(datetime(2026, 5, 4, tzinfo=UTC)) == datetime(2032, 5, 4, tzinfo=UTC)
    assert retention_end(datetime(2028, 2, 29, tzinfo=UTC)) == datetime(2034, 2, 28, tzinfo=UTC)
