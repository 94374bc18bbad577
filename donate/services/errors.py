"""Errors the use cases raise, mapped to HTTP in ``web.errors``.

ServiceError
├── NotFound            the thing does not exist, or belongs to another association
├── InvalidRequest      the request breaks a business rule (carries field → message)
├── Conflict            the thing is in a state that forbids this (already refunded…)
└── ProviderDown        the payment provider failed or timed out; retry later
"""

from __future__ import annotations


class ServiceError(Exception):
    pass


class NotFound(ServiceError):
    pass


class InvalidRequest(ServiceError):
    def __init__(self, errors: dict[str, str], detail: str = "Some fields are invalid.") -> None:
        super().__init__(detail)
        self.errors = errors
        self.detail = detail


class Conflict(ServiceError):
    pass


class ProviderDown(ServiceError):
    def __init__(self, detail: str, *, rejected: bool = False) -> None:
        super().__init__(detail)
        self.rejected = rejected  # the provider refused (502) rather than being unreachable (503)
