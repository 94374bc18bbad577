"""Debian's Chromium driven by Playwright, and a host web site on another origin."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from tests.support.server import serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]  # fmt: skip

# The host's own page: styles that would wreck a careless widget, and globals to watch.
HOST_CSS = """button{background:rgb(255,0,0)!important;font-family:serif}
iframe{height:900px;border:5px solid lime}*{letter-spacing:2px}"""
HOST_JS = """window.hostGlobal = 42;
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI);
});
window.__keysBefore = Object.keys(window);"""


@dataclass
class HostSite:
    url: str
    pages: dict[str, str]


def host_page(app_url: str, widget: str, title: str = "Host site") -> str:
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{title}</title><link rel="stylesheet" href="/host.css"><script src="/host.js"></script>
</head><body><h1>{title}</h1><button id="host-button" type="button">Host button</button>
{widget}
<p><a id="after" href="#after">after the widget</a></p></body></html>"""


def host_csp(app_url: str) -> str:
    """What docs/widget.md tells hosts to allow: our origin for scripts and frames."""
    return (
        f"default-src 'none'; script-src 'self' {app_url}; frame-src {app_url}; "
        "style-src 'self'; img-src 'self'"
    )


@contextlib.asynccontextmanager
async def host_site(app_url: str) -> AsyncIterator[HostSite]:
    pages: dict[str, str] = {}

    async def page(request: Request) -> Response:
        body = pages.get(request.path_params["name"])
        if body is None:
            return Response("no such page", 404)
        return HTMLResponse(body, headers={"Content-Security-Policy": host_csp(app_url)})

    async def css(request: Request) -> Response:
        return Response(HOST_CSS, media_type="text/css")

    async def js(request: Request) -> Response:
        return Response(HOST_JS, media_type="text/javascript")

    app = Starlette(
        routes=[
            Route("/host.css", css),
            Route("/host.js", js),
            Route("/p/{name}", page),
        ]
    )
    # "localhost" and "127.0.0.1" are different origins (and different sites) to the browser.
    async with serve(app) as url:
        yield HostSite(url.replace("127.0.0.1", "localhost"), pages)


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.fail("chromium is not installed: apt-get install -y chromium")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()
