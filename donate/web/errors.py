"""Service errors → problem documents (the one place they are mapped to HTTP)."""

from __future__ import annotations

from donate.services.errors import Conflict, InvalidRequest, NotFound, ProviderDown, ServiceError
from donate.web.problems import Problem


def to_problem(exc: ServiceError) -> Problem:
    if isinstance(exc, InvalidRequest):
        return Problem(422, "validation", "Invalid request", exc.detail, exc.errors)
    if isinstance(exc, NotFound):
        return Problem(404, "not-found", "Not found", str(exc))
    if isinstance(exc, Conflict):
        return Problem(409, "conflict", "Conflict", str(exc))
    if isinstance(exc, ProviderDown):
        if exc.rejected:
            return Problem(502, "provider-error", "Payment provider error", str(exc))
        return Problem(
            503, "provider-unavailable", "Payment provider unavailable", str(exc),
            headers={"Retry-After": "5"},
        )  # fmt: skip
    return Problem(500, "internal", "Internal error", str(exc))
