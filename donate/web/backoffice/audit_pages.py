"""The association's audit log, for owners: who did what, on what, when, from where."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from donate.services import audit_trail
from donate.web.backoffice.guard import OWNERS, require_member
from donate.web.backoffice.render import render
from donate.web.state import app_state


async def audit_page(request: Request) -> Response:
    member = await require_member(request, OWNERS)
    after = request.query_params.get("after", "")[:80]
    rows, next_cursor = await audit_trail.page(
        app_state(request).runtime, member.organization_id, after
    )
    ctx = {
        "rows": rows,
        "next_url": f"?after={quote(next_cursor)}" if next_cursor else None,
        "first_url": "?" if after else None,
        "area": "audit",
    }
    return render(request, "admin/audit.html", ctx)


routes = [Route("/admin/{org}/audit", audit_page, methods=["GET"])]
