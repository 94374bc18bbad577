"""The widget's static files, read once, served from memory with long-lived caching.

``/widget.js`` is the moving loader URL (five minutes of caching). ``/widget/v1/widget.js``
is the versioned URL hosts pin with Subresource Integrity: its hash is published in
``/widget/v1/manifest.json``. A change to the loader that hosts must not pick up silently
ships as ``v2``; the iframe document's own files are addressed by content hash.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from donate.web.state import app_state

WIDGET_VERSION = "1"
STATIC = Path(__file__).resolve().parent / "static" / "widget"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True, slots=True)
class Asset:
    name: str
    body: bytes
    gzipped: bytes
    media_type: str
    digest: str  # short content hash, for cache-busting URLs
    integrity: str  # SRI value, sha384-…


def _load(name: str) -> Asset:
    body = (STATIC / name).read_bytes()
    sri = "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()
    return Asset(
        name,
        body,
        gzip.compress(body, compresslevel=9, mtime=0),
        _TYPES[Path(name).suffix],
        hashlib.sha256(body).hexdigest()[:12],
        sri,
    )


ASSETS: dict[str, Asset] = {name: _load(name) for name in ("widget.js", "embed.js", "donate.css")}


def inline_style(name: str) -> str:
    """A stylesheet's text for a ``<style>`` element: the iframe inlines its CSS so its first
    paint waits for one response, not two (allowed by ``style_hash`` in its CSP)."""
    return ASSETS[name].body.decode()


def style_hash(name: str) -> str:
    """The CSP source that allows exactly ``inline_style(name)``."""
    digest = hashlib.sha256(ASSETS[name].body).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def asset_url(name: str) -> str:
    """Content-addressed URL of one of the files the documents link to."""
    return f"/widget/v{WIDGET_VERSION}/{ASSETS[name].digest}/{name}"


def manifest(base_url: str) -> dict[str, object]:
    loader = ASSETS["widget.js"]
    return {
        "version": WIDGET_VERSION,
        "loader": {
            "url": f"{base_url}/widget/v{WIDGET_VERSION}/widget.js",
            "integrity": loader.integrity,
            "crossorigin": "anonymous",
        },
        "csp": {"script-src": [base_url], "frame-src": [base_url]},
    }


def _serve(request: Request, asset: Asset, cache_control: str) -> Response:
    headers = {
        "Cache-Control": cache_control,
        # SRI on a cross-origin <script crossorigin="anonymous"> needs CORS.
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "X-Content-Type-Options": "nosniff",
        "ETag": f'"{asset.digest}"',
        "Vary": "Accept-Encoding",
    }
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped, headers=headers, media_type=asset.media_type)
    return Response(asset.body, headers=headers, media_type=asset.media_type)


async def loader(request: Request) -> Response:
    return _serve(request, ASSETS["widget.js"], "public, max-age=300")


async def loader_pinned(request: Request) -> Response:
    return _serve(request, ASSETS["widget.js"], _IMMUTABLE)


async def hashed(request: Request) -> Response:
    asset = ASSETS.get(request.path_params["name"])
    if asset is None or asset.digest != request.path_params["digest"]:
        return Response("Not found", 404, media_type="text/plain")
    return _serve(request, asset, _IMMUTABLE)


async def manifest_json(request: Request) -> Response:
    base = app_state(request).runtime.settings.public_url.rstrip("/")
    return Response(
        json.dumps(manifest(base), indent=2),
        media_type="application/json",
        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
    )


routes = [
    Route("/widget.js", loader, methods=["GET", "HEAD"]),
    Route(f"/widget/v{WIDGET_VERSION}/widget.js", loader_pinned, methods=["GET", "HEAD"]),
    Route(f"/widget/v{WIDGET_VERSION}/manifest.json", manifest_json, methods=["GET", "HEAD"]),
    Route(f"/widget/v{WIDGET_VERSION}/{{digest}}/{{name}}", hashed, methods=["GET", "HEAD"]),
]
