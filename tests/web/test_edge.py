"""web.edge on a small app: request ids (the proxy's or ours), the security headers, the
latency metric, the log's request id during the request; and the cached language choice."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from donate.observability import request_id_var
from donate.web import templating
from donate.web.edge import EdgeMiddleware
from donate.web.request_id import new_request_id, request_id_for


async def _echo_request_id(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request_id_var.get() or "")


async def _boom(request: Request) -> PlainTextResponse:
    raise RuntimeError("boom")


def _client(*, hsts: bool = False) -> httpx.AsyncClient:
    app = Starlette(
        routes=[
            Route("/edge-test/{item}", _echo_request_id),
            Route("/embed/{item}", _echo_request_id),
            Route("/edge-test-boom", _boom),
        ],
        middleware=[Middleware(EdgeMiddleware, hsts=hsts)],
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def _count(route: str, status_class: str) -> float:
    labels = {"method": "GET", "route": route, "status_class": status_class}
    found = REGISTRY.get_sample_value("donate_http_request_duration_seconds_count", labels)
    return found or 0.0


async def test_each_answer_gets_its_own_request_id_the_log_sees() -> None:
    async with _client() as http:
        first = await http.get("/edge-test/a")
        second = await http.get("/edge-test/a")
    assert first.headers["x-request-id"] == first.text != ""
    assert second.headers["x-request-id"] == second.text != first.text
    assert request_id_var.get() is None  # reset after the request


async def test_the_proxy_request_id_is_kept_and_bounded() -> None:
    async with _client() as http:
        r = await http.get("/edge-test/a", headers={"X-Request-ID": "from-the-proxy"})
        assert r.headers["x-request-id"] == r.text == "from-the-proxy"
        long = await http.get("/edge-test/a", headers={"X-Request-ID": "x" * 200})
        assert long.headers["x-request-id"] == "x" * 64


def test_request_ids_are_distinct_and_an_empty_header_gets_a_new_one() -> None:
    ids = {new_request_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    made = request_id_for({"headers": [(b"x-request-id", b"")]})
    assert made and made not in ids


async def test_security_headers_by_path_class() -> None:
    async with _client(hsts=True) as http:
        page = await http.get("/edge-test/a")
        framed = await http.get("/embed/a")
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["content-security-policy"].endswith("frame-ancestors 'none'")
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "max-age=" in page.headers["strict-transport-security"]
    assert "x-frame-options" not in framed.headers
    assert framed.headers["content-security-policy"].endswith("frame-ancestors *")


async def test_latency_is_observed_for_answers_and_for_errors() -> None:
    ok_before = _count("/edge-test/{item}", "2xx")
    failed_before = _count("/edge-test-boom", "5xx")
    async with _client() as http:
        assert (await http.get("/edge-test/b")).status_code == 200
        assert (await http.get("/edge-test-boom")).status_code == 500
    assert _count("/edge-test/{item}", "2xx") == ok_before + 1
    assert _count("/edge-test-boom", "5xx") == failed_before + 1


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [
        (b"", None, ("fr", False)),
        (b"", "en-GB,en;q=0.9", ("en", False)),
        (b"", "de-DE, en;q=0.5, fr;q=0.8", ("fr", False)),
        (b"lang=en", "fr-FR", ("en", True)),
        (b"lang=xx", "en", ("en", False)),
        (b"", "en-GB," + "de;q=0.1, " * 40, ("en", False)),  # too long to be kept: answered
    ],
)
def test_pick_language(query: bytes, header: str | None, expected: tuple[str, bool]) -> None:
    headers = [(b"accept-language", header.encode())] if header else []
    scope = {"type": "http", "query_string": query, "headers": headers}
    for _ in range(2):  # the second answer comes from the cache
        assert templating.pick_language(Request(scope)) == expected
