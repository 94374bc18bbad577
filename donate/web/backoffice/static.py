"""The back-office stylesheet, served from memory under a content-addressed URL."""

from __future__ import annotations

import hashlib
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_CSS = (Path(__file__).resolve().parents[1] / "static" / "admin" / "admin.css").read_bytes()
_DIGEST = hashlib.sha256(_CSS).hexdigest()[:12]


def admin_css_url() -> str:
    return f"/admin/static/{_DIGEST}/admin.css"


async def admin_css(request: Request) -> Response:
    if request.path_params["digest"] != _DIGEST:
        return Response(status_code=404)
    return Response(
        _CSS,
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=31536000, immutable",
                 "X-Content-Type-Options": "nosniff"},
    )  # fmt: skip


routes = [Route("/admin/static/{digest}/admin.css", admin_css, methods=["GET"])]
