"""Errors of the receipts package (both are ValueErrors: bad input, never a retryable fault)."""

from __future__ import annotations


class InvalidReceipt(ValueError):
    """A receipt that the law does not allow (bad amount, currency, form, dates…)."""


class ReceiptIncomplete(InvalidReceipt):
    """One or more mandatory mentions are missing; ``missing`` names them (dotted paths)."""

    def __init__(self, missing: tuple[str, ...]) -> None:
        self.missing = missing
        super().__init__("receipt is missing mandatory mentions: " + ", ".join(missing))
