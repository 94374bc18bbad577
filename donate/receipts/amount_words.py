"""Euro amounts in French words and framed figures, as printed on fiscal receipts.

Spelling: traditional (pre-1990) French, as produced by num2words ``lang="fr"``: hyphens
only between tens and units below one hundred ("quatre-vingt-un", "vingt et un",
"deux cent un", "mille neuf cent quatre-vingts"). Both spellings are accepted by the
administration; we keep num2words' one everywhere so the words never mix conventions.
"""

from __future__ import annotations

from functools import lru_cache

from num2words import num2words

from donate.domain.money import Money

# "deux millions d'euros" but "deux millions cent euros": the preposition is needed only
# when the number ends on a noun (million, milliard), not on an adjective.
_NOUN_ENDINGS = ("million", "millions", "milliard", "milliards")


def _words(n: int) -> str:
    text: str = num2words(n, lang="fr")
    return text


def _euros(units: int) -> str:
    words = _words(units)
    if units <= 1:  # "zéro euro", "un euro": singular below two in French
        return f"{words} euro"
    if words.endswith(_NOUN_ENDINGS):
        return f"{words} d'euros"
    return f"{words} euros"


def _centimes(cents: int) -> str:
    return f"{_words(cents)} centime" if cents == 1 else f"{_words(cents)} centimes"


@lru_cache(maxsize=4096)  # pure, and amounts repeat a lot: a hot path of issuing
def amount_in_french_words(m: Money) -> str:
    """``Money(12000, "EUR")`` → ``"cent vingt euros"``; cents as ``"… et cinquante centimes"``.

    Zero euros with cents reads ``"cinquante centimes"``. Raises ValueError for a negative
    amount or a currency other than EUR (the words name the euro).
    """
    if m.currency != "EUR":
        raise ValueError(f"amounts in words are only spelled for EUR, not {m.currency}")
    if m.minor < 0:
        raise ValueError("a receipt amount cannot be negative")
    units, cents = divmod(m.minor, 100)
    if cents == 0:
        return _euros(units)
    if units == 0:
        return _centimes(cents)
    return f"{_euros(units)} et {_centimes(cents)}"


def format_euros(m: Money) -> str:
    """French figures as Babel's fr_FR pattern writes them: ``"1 234,56 €"``, with a narrow
    no-break space (U+202F) between thousands and a no-break space (U+00A0) before the sign
    (the bundled DejaVu fonts have both glyphs). Hand-made because it runs for every
    receipt; tests/receipts/test_amount_words.py checks it against Babel.
    """
    if m.currency != "EUR":
        raise ValueError(f"receipts are in EUR, not {m.currency}")
    units, cents = divmod(abs(m.minor), 100)
    sign = "-" if m.minor < 0 else ""
    groups = f"{units:,}".replace(",", "\u202f")
    return f"{sign}{groups},{cents:02d}\u00a0€"


def framed_figures(m: Money) -> str:
    """Figures framed in asterisks so nothing can be added by hand: ``"***120,00 €***"``."""
    return f"***{format_euros(m)}***"
