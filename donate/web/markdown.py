"""Markdown written by associations, rendered safely: raw HTML is never passed through.

markdown-it-py escapes any HTML in the source (``html`` off) and refuses ``javascript:``,
``vbscript:``, ``file:`` and non-image ``data:`` links (its ``validateLink``); links get
``rel="nofollow ugc noopener"`` because the text comes from outside the platform.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

_MAX_SOURCE = 50_000  # a campaign story longer than this is cut, not rendered slowly


def _link_open(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    tokens[idx].attrSet("rel", "nofollow ugc noopener")
    rendered: str = self.renderToken(tokens, idx, options, env)
    return rendered


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.disable("image")  # images would load third-party content on our pages
    md.add_render_rule("link_open", _link_open)
    return md


def render_markdown(source: str) -> Markup:
    """Safe HTML for ``source``; the result may be inserted in a template as is."""
    return Markup(_parser().render(source[:_MAX_SOURCE]))  # noqa: S704 - escaped by the parser
