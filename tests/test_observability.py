"""Nothing personal leaves for Sentry."""

from __future__ import annotations

from donate.observability import scrub


def test_scrub_removes_donor_data_everywhere() -> None:
    event = {
        "request": {"data": {"donor": {"email": "jeanne@example.fr", "address_line1": "1 rue"}}},
        "extra": {"note": "refund asked by jeanne@example.fr", "amount_minor": 5000},
        "breadcrumbs": [{"message": "mail to paul@example.org"}],
        "user": {"name": "Jeanne"},
    }
    cleaned = scrub(event)
    text = repr(cleaned)
    assert "jeanne@example.fr" not in text
    assert "paul@example.org" not in text
    assert "1 rue" not in text
    assert "Jeanne" not in text
    assert cleaned["extra"]["amount_minor"] == 5000
