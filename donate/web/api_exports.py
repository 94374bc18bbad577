"""Report exports over the association API (finance and admin keys): a large report is
requested (202), built by the worker while its progress can be read, then downloaded.

The streaming routes (``api_payouts``) stay what they are: the same report, answered at once.
An export is the same bytes, built in the background and kept a few days.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote
from uuid import UUID

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from donate.db.report_exports import ExportRow
from donate.services import report_exports
from donate.services.errors import ServiceError
from donate.web.api_public import read_json
from donate.web.auth import require_org
from donate.web.errors import to_problem
from donate.web.problems import Problem
from donate.web.state import app_state

FINANCE = ("admin", "finance")
_ORG = "/api/v1/orgs/{org}"
_NOT_FOUND = Problem(404, "not-found", "Not found", "No such export.")


def export_url(org_slug: str, export_id: UUID) -> str:
    return f"/api/v1/orgs/{quote(org_slug)}/reports/exports/{export_id}"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def export_json(org_slug: str, row: ExportRow) -> dict[str, Any]:
    url = export_url(org_slug, row.id)
    spec = row.spec
    params = {k: spec.get(k) for k in ("payout_id", "from", "to", "sep", "lang")}
    return {
        "id": str(row.id),
        "kind": spec["kind"],
        "format": spec["format"],
        "params": {k: v for k, v in params.items() if v is not None},
        "status": row.status,
        "rows_done": row.rows_done,
        "rows_total": row.rows_total,
        "percent": report_exports.percent(row),
        "file_name": row.file_name,
        "size_bytes": row.size_bytes,
        "sha256": row.sha256,
        "error": row.error,
        "created_at": _iso(row.created_at),
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
        "expires_at": _iso(row.expires_at),
        "progress_url": url,
        "download_url": f"{url}/download" if row.status == "done" else None,
    }


def _export_id(request: Request) -> UUID:
    try:
        return UUID(str(request.path_params["export_id"]))
    except ValueError:
        raise _NOT_FOUND from None


async def request_export(request: Request) -> JSONResponse:
    who = await require_org(request, roles=FINANCE)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise Problem(422, "validation", "Invalid request", errors={"body": "a JSON object"})
    try:
        row = await report_exports.request(
            app_state(request).runtime, who.organization_id, who.actor, body.get("kind"),
            body.get("format"), body.get("params"), {"via": "api"},
        )  # fmt: skip
    except ServiceError as exc:
        raise to_problem(exc) from exc
    doc = export_json(who.org_slug, row)
    return JSONResponse(doc, status_code=202, headers={"Location": doc["progress_url"]})


async def list_exports(request: Request) -> JSONResponse:
    who = await require_org(request, roles=FINANCE)
    rows = await report_exports.recent(app_state(request).runtime, who.organization_id)
    return JSONResponse({"items": [export_json(who.org_slug, r) for r in rows]})


async def get_export(request: Request) -> JSONResponse:
    who = await require_org(request, roles=FINANCE)
    try:
        row = await report_exports.get(
            app_state(request).runtime, who.organization_id, _export_id(request)
        )
    except ServiceError as exc:
        raise to_problem(exc) from exc
    return JSONResponse(export_json(who.org_slug, row))


def file_response(row: ExportRow, body: AsyncIterator[bytes]) -> StreamingResponse:
    """The stored file, streamed chunk by chunk (also the back-office's download)."""
    assert row.size_bytes is not None
    return StreamingResponse(
        body,
        media_type=row.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{row.file_name}"',
            "Content-Length": str(row.size_bytes),
            "ETag": f'"{row.sha256}"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def download_export(request: Request) -> Response:
    who = await require_org(request, roles=FINANCE)
    try:
        row, body = await report_exports.download(
            app_state(request).runtime, who.organization_id, _export_id(request)
        )
    except ServiceError as exc:
        raise to_problem(exc) from exc
    return file_response(row, body)


routes = [
    Route(f"{_ORG}/reports/exports", request_export, methods=["POST"]),
    Route(f"{_ORG}/reports/exports", list_exports, methods=["GET"]),
    Route(f"{_ORG}/reports/exports/{{export_id}}", get_export, methods=["GET"]),
    Route(f"{_ORG}/reports/exports/{{export_id}}/download", download_export, methods=["GET"]),
]


def _op(summary: str, path: tuple[str, ...], ok: str = "200") -> dict[str, Any]:
    params = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in path
    ]
    return {
        "summary": summary,
        "security": [{"apiKey": []}],
        "parameters": params,
        "responses": {
            ok: {"description": "OK"},
            "403": {"description": "Not a finance or admin key"},
            "404": {"description": "Unknown, or another association's"},
        },
    }


_EXPORT_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["kind"],
                "properties": {
                    "kind": {"enum": ["payout", "period", "in_transit", "fec"]},
                    "format": {
                        "enum": ["csv", "xlsx", "pdf", "txt"],
                        "description": "csv, xlsx or pdf; txt (the default) for fec",
                    },
                    "params": {
                        "type": "object",
                        "description": "As the streaming routes' query: payout_id (payout), "
                        "from/to or month/year (period), from/to (in_transit, fec), "
                        "sep, lang",
                        "additionalProperties": {"type": "string"},
                    },
                },
            }
        }
    },
}
_POST = _op("Request a report export, built by the worker (202)", ("org",), "202")
_POST["requestBody"] = _EXPORT_BODY
_POST["responses"]["409"] = {"description": "Too many exports in progress"}
_POST["responses"]["422"] = {"description": "Bad kind, format or parameters"}
_DOWNLOAD = _op("The export's file", ("org", "export_id"))
_DOWNLOAD["responses"]["409"] = {"description": "Not done (queued, running, failed, expired)"}
OPENAPI_PATHS: dict[str, Any] = {
    f"{_ORG}/reports/exports": {
        "post": _POST,
        "get": _op("Recent report exports, newest first", ("org",)),
    },
    f"{_ORG}/reports/exports/{{export_id}}": {
        "get": _op(
            "An export: status, rows_done, rows_total, percent, download_url",
            ("org", "export_id"),
        ),
    },
    f"{_ORG}/reports/exports/{{export_id}}/download": {"get": _DOWNLOAD},
}
