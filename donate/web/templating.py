"""Jinja2 environments, one per language, with Babel gettext catalogs and locale filters.

Catalogs are the ``.po`` files under ``donate/web/locale``, compiled in memory when first
used, so there is no ``.mo`` build step to forget. Message ids are English; French is the
default language of every page.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request

from donate.domain.money import Money
from donate.i18n import format_date, format_money, negotiate_locale
from donate.web.assets import asset_url, inline_style

LANGUAGES: tuple[str, ...] = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"


@lru_cache(maxsize=len(LANGUAGES))
def translations(lang: str) -> NullTranslations:
    po = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return NullTranslations()  # English message ids need no catalog
    with po.open("rb") as fp:
        catalog = read_po(fp, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def gettext_for(lang: str) -> Callable[[str], str]:
    return translations(lang).gettext


def pick_language(request: Request) -> tuple[str, bool]:
    """(language, explicit): ``?lang=`` wins over ``Accept-Language``; French by default."""
    if request.scope["query_string"]:  # most page views have none: nothing to parse
        asked = request.query_params.get("lang", "")
        if asked in LANGUAGES:
            return asked, True
    header = request.headers.get("accept-language")
    if not header:
        return DEFAULT_LANGUAGE, False
    if len(header) > _MAX_CACHED_HEADER:
        return _negotiate(header), False
    return _negotiate_cached(header), False


def _negotiate(header: str) -> str:
    return negotiate_locale(header, supported=LANGUAGES, default=DEFAULT_LANGUAGE)


# Browsers send a handful of distinct Accept-Language values, and parsing one costs more
# than the rest of a cached page view. Bounded (LRU), and long headers (hand-made, not a
# browser's) are not kept, so odd clients cannot fill memory.
_MAX_CACHED_HEADER = 200
_negotiate_cached = lru_cache(maxsize=512)(_negotiate)


@lru_cache(maxsize=len(LANGUAGES))
def environment(lang: str) -> Environment:
    env = Environment(
        loader=PackageLoader("donate.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]

    def money(minor: int, currency: str) -> str:
        return format_money(Money(minor, currency), lang)

    def date(value: datetime, fmt: str = "long") -> str:
        return format_date(value, lang, fmt)

    env.filters["money"] = money
    env.filters["date"] = date
    env.globals["asset"] = asset_url
    # Our own stylesheet, read from the package: trusted text, not user input.
    env.globals["inline_style"] = lambda name: Markup(inline_style(name))  # noqa: S704
    env.globals["lang"] = lang
    env.globals["languages"] = LANGUAGES
    return env
