"""Errors raised by the pure domain layer (tree in ``donate.domain``)."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every domain error."""


class InvalidAmount(DomainError, ValueError):
    """An amount or currency that cannot exist."""


class CurrencyMismatch(DomainError, ValueError):
    """Two amounts of different currencies were combined."""


class InvalidTransition(DomainError):
    """A status change that the state machine forbids."""
