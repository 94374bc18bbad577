"""Identifier checks of the sign-up and settings forms."""

from __future__ import annotations

import pytest

from donate.domain.identity import rna_valid, siren_valid, slug_valid, slugify


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("732829320", True),  # a real SIREN (Luhn sum divisible by 10)
        ("732829321", False),  # last digit changed: checksum fails
        ("552100554", True),
        ("55210055", False),  # 8 digits
        ("55210055a", False),
        ("", False),
    ],
)
def test_siren_checksum(value: str, ok: bool) -> None:
    assert siren_valid(value) is ok


def test_rna_slug_and_slugify() -> None:
    assert rna_valid("W751234567") and not rna_valid("W75123456") and not rna_valid("X751234567")
    assert slugify("Les Amis du Jardin Partagé !") == "les-amis-du-jardin-partage"
    assert slug_valid("les-amis") and not slug_valid("login") and not slug_valid("-x")
