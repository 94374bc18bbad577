"""Checks on an association's identifiers and on back-office inputs (pure)."""

from __future__ import annotations

import re

_SIREN = re.compile(r"^[0-9]{9}$")
_RNA = re.compile(r"^W[0-9A-Z]{9}$")
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_COLOR = re.compile(r"^#[0-9a-f]{6}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_POSTAL_FR = re.compile(r"^[0-9]{5}$")

# Path segments of /admin that an association's slug must not shadow.
RESERVED_SLUGS = frozenset(
    {"login", "logout", "signup", "account", "password", "verify", "invitations", "static",
     "connect", "api", "admin", "new", "orgs", "sessions", "totp"}
)  # fmt: skip

PASSWORD_MIN = 10
PASSWORD_MAX = 256


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every SIREN carries (INSEE)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        n = int(char)
        if index % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def siren_valid(value: str) -> bool:
    return bool(_SIREN.match(value)) and luhn_valid(value)


def rna_valid(value: str) -> bool:
    return bool(_RNA.match(value))


def slug_valid(value: str) -> bool:
    return bool(_SLUG.match(value)) and value not in RESERVED_SLUGS


def color_valid(value: str) -> bool:
    return bool(_COLOR.match(value))


def email_valid(value: str) -> bool:
    return len(value) <= 254 and bool(_EMAIL.match(value))


def postal_code_valid(value: str, country: str) -> bool:
    if country == "FR":
        return bool(_POSTAL_FR.match(value))
    return 1 <= len(value) <= 12


def password_problem(password: str) -> str | None:
    """Why a new password is refused (an English message id), or None."""
    if len(password) < PASSWORD_MIN:
        return "Use at least 10 characters."
    if len(password) > PASSWORD_MAX:
        return "This password is too long."
    return None


def slugify(name: str) -> str:
    """A URL identifier from a name: ``Les Amis du Jardin`` → ``les-amis-du-jardin``."""
    import unicodedata

    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:63].rstrip("-")
