"""The picture shown when a campaign is shared (Open Graph / Twitter card): 1200×630 PNG."""

from __future__ import annotations

import io
import textwrap
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

_FONTS = Path(__file__).resolve().parents[1] / "fonts"
WIDTH, HEIGHT = 1200, 630
_GREEN, _INK, _MUTED, _TRACK = (22, 101, 52), (17, 24, 39), (75, 85, 99), (229, 231, 235)


@lru_cache(maxsize=8)
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(_FONTS / name), size)


def share_png(
    title: str, org_name: str, raised: str, goal: str | None, percent: int | None, caption: str
) -> bytes:
    """A pure function of its text: the same campaign state gives the same bytes."""
    image = Image.new("RGB", (WIDTH, HEIGHT), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH, 16), fill=_GREEN)
    draw.text((72, 64), org_name[:60], font=_font(34), fill=_MUTED)
    y = 130
    for line in textwrap.wrap(title, width=28)[:3]:
        draw.text((72, y), line, font=_font(64, bold=True), fill=_INK)
        y += 80
    draw.text((72, 430), raised, font=_font(56, bold=True), fill=_GREEN)
    if goal:
        left = 72 + draw.textlength(raised, font=_font(56, bold=True)) + 20
        draw.text((left, 450), f"/ {goal}", font=_font(34), fill=_MUTED)
    if percent is not None:
        draw.rounded_rectangle((72, 520, WIDTH - 72, 548), radius=14, fill=_TRACK)
        filled = 72 + (WIDTH - 144) * percent // 100
        if filled > 72 + 28:
            draw.rounded_rectangle((72, 520, filled, 548), radius=14, fill=_GREEN)
    draw.text((72, 566), caption[:80], font=_font(28), fill=_MUTED)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
