"""Errors as ``application/problem+json`` (RFC 9457), mapped in one place.

Every error answer has ``type``, ``title``, ``status``, ``detail`` and, for validation
failures, ``errors`` (field → message). Expected 4xx are not sent to Sentry.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://donate.example/problems/"


class Problem(Exception):
    """Raise anywhere in a route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str = "",
        errors: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return problem_body(self.status, self.slug, self.title, self.detail, self.errors)


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str = "",
    errors: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = problem_body(status, slug, title, detail, errors)
    return JSONResponse(body, status, headers=headers, media_type="application/problem+json")


def problem_body(
    status: int, slug: str, title: str, detail: str = "", errors: dict[str, str] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail or title,
    }
    if errors is not None:
        body["errors"] = errors
    return body


def validation_errors(exc: ValidationError) -> dict[str, str]:
    """pydantic errors as {"donor.email": "value is not a valid email address", …}."""
    out: dict[str, str] = {}
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"] if p != "__root__") or "body"
        out.setdefault(loc, err["msg"])
    return out


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc.status, exc.slug, exc.title, exc.detail, exc.errors, exc.headers)


async def _on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationError)
    return problem_response(
        422, "validation", "Invalid request", "Some fields are invalid.", validation_errors(exc)
    )


_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    429: "Too many requests",
}


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    title = _TITLES.get(exc.status_code, "Error")
    slug = title.lower().replace(" ", "-")
    return problem_response(
        exc.status_code, slug, title, str(exc.detail), headers=dict(exc.headers or {})
    )


async def _on_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(500, "internal", "Internal error", "Something went wrong on our side.")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    Problem: _on_problem,
    ValidationError: _on_validation,
    HTTPException: _on_http,
    Exception: _on_error,
}
