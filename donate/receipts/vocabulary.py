"""The fixed wording of the cerfa models: boxes for form, nature and mode of payment."""

from __future__ import annotations

# Boxes of the cerfa models; a form or nature outside them is printed next to "Autres".
GIFT_FORMS = ("Acte authentique", "Acte sous seing privé", "Déclaration de don manuel", "Autres")
NATURES = ("Numéraire", "Titres de sociétés cotés", "Autres")
DEFAULT_GIFT_FORM = "Déclaration de don manuel"
DEFAULT_NATURE = "Numéraire"
MODE_BOXES = ("Remise d'espèces", "Chèque", "Virement, prélèvement, carte bancaire")

# Provider method codes → wording on the receipt. iDEAL is an online bank transfer and
# Bancontact a debit-card scheme, so both fall in the cerfa's "virement… carte" box.
PAYMENT_METHOD_LABELS: dict[str, str] = {
    "card": "Carte bancaire",
    "bancontact": "Carte bancaire",
    "sepa_debit": "Prélèvement",
    "ideal": "Virement",
    "transfer": "Virement",
    "cheque": "Chèque",
    "cash": "Remise d'espèces",
}
PAYMENT_MODES = frozenset(PAYMENT_METHOD_LABELS.values())


def payment_mode_label(method: str) -> str:
    """``"sepa_debit"`` → ``"Prélèvement"``; raises ValueError for an unknown method code."""
    try:
        return PAYMENT_METHOD_LABELS[method]
    except KeyError:
        raise ValueError(f"no receipt wording for payment method {method!r}") from None


def mode_box(label: str) -> str:
    """The cerfa box a payment-mode label ticks (card, debit and transfer share one)."""
    return MODE_BOXES[2] if label in ("Carte bancaire", "Prélèvement", "Virement") else label
