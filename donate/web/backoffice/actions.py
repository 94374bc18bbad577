"""Small helpers shared by the finance and integration pages (recurring, receipts, webhooks,
audit): path ids that answer 404 when malformed, and where an action came from."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from starlette.requests import Request

from donate.web.backoffice import session as cookies
from donate.web.backoffice.guard import PageError


def path_uuid(request: Request, name: str) -> UUID:
    """A malformed id is an unknown one: 404, like another association's."""
    try:
        return UUID(str(request.path_params[name]))
    except ValueError:
        raise PageError(404) from None


def origin(request: Request) -> dict[str, Any]:
    """What the audit log keeps about where an action came from."""
    ip = cookies.client_ip(request)
    return {"ip": ip, "via": "backoffice"} if ip else {"via": "backoffice"}
