"""The dashboard's chart of gifts per day: an SVG drawn on the server (no script, no style
sheet: presentation attributes only, which the back-office CSP allows)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from markupsafe import Markup

from donate.services.dashboard import DayPoint

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 80, 10, 16, 34
BAR_COLOR = "#1f6f4a"
GRID_COLOR = "#d0d5d2"
TEXT_COLOR = "#333333"


def nice_ceiling(value: int) -> int:
    """The smallest 1/2/5 × 10ⁿ at or above ``value`` (axis top), at least 1."""
    if value <= 1:
        return 1
    magnitude = 1
    while magnitude * 10 < value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def gifts_svg(
    points: Sequence[DayPoint],
    *,
    title: str,
    description: str,
    money: Callable[[int], str],
    day_label: Callable[[DayPoint], str],
) -> Markup:
    """Bars of the kept amount per day, a labelled y axis and a date every week."""
    top = nice_ceiling(max((p.total_minor for p in points), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(points), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-labelledby="chart-title chart-desc" class="chart">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">{escape(description)}</desc>',
    ]
    for i in range(5):
        value = top * i // 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID_COLOR}" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{TEXT_COLOR}">{escape(money(value))}</text>'
        )
    for i, p in enumerate(points):
        height = plot_h * p.total_minor / top
        x = LEFT + i * slot + slot * 0.15
        if p.total_minor:
            parts.append(
                f'<rect x="{x:.1f}" y="{TOP + plot_h - height:.1f}" width="{slot * 0.7:.1f}" '
                f'height="{height:.1f}" fill="{BAR_COLOR}"><title>{escape(day_label(p))} : '
                f"{escape(money(p.total_minor))} ({p.gifts})</title></rect>"
            )
        # A date every week counted back from the last day, so labels never overlap.
        if (len(points) - 1 - i) % 7 == 0:
            parts.append(
                f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - 12}" text-anchor="middle" '
                f'font-size="11" fill="{TEXT_COLOR}">{escape(day_label(p))}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped
