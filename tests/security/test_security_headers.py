"""Security headers, generated from the route table: every GET route answers with
``nosniff``, a referrer policy and a CSP; only the widget's document (``/embed/…``) may be
framed (by any site), every other answer forbids framing in both dialects
(``X-Frame-Options: DENY`` and ``frame-ancestors 'none'``). HSTS only with an https public URL.

Admin routes are fetched signed in (the demo admin), so real pages are checked, not only
the sign-in redirect. A new route is covered by adding it to the app; a path parameter this
test cannot fill fails it (add it to ``PARAMS``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.routing import Route

from donate.web.app import all_routes, create_app
from donate.web.assets import ASSETS
from donate.web.security_headers import HSTS, secure_headers
from tests.support.backoffice import demo_admin
from tests.support.platform import Platform
from tests.support.server import serve

PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def _params(pf: Platform) -> dict[str, str]:
    campaign = pf.seeded["campaigns"][0]
    unknown = str(uuid.uuid4())
    return {
        "org": pf.org, "org_slug": pf.org, "campaign_slug": str(campaign["slug"]),
        "campaign_id": str(campaign["id"]), "digest": ASSETS["donate.css"].digest,
        "name": "donate.css", "fmt": "csv", "year": "2024", "image": f"{unknown}.png",
        **{p: unknown for p in (
            "donation_id", "donor_id", "receipt_id", "payout_id", "plan_id", "endpoint_id",
            "delivery_id", "export_id",
        )},
    }  # fmt: skip


def get_paths(params: dict[str, str]) -> list[str]:
    paths, unknown = [], set()
    for route in all_routes():
        if not isinstance(route, Route) or "GET" not in (route.methods or ()):
            continue
        names = PARAM.findall(route.path)
        unknown |= {n for n in names if n not in params}
        paths.append(PARAM.sub(lambda m: params.get(m.group(1), "x"), route.path))
    if unknown:
        pytest.fail(f"path parameters to add to PARAMS of {__name__}: {sorted(unknown)}")
    return sorted(set(paths))


def frame_ancestors(csp: str) -> list[str]:
    return [d.strip() for d in csp.split(";") if d.strip().startswith("frame-ancestors")]


def assert_secure(path: str, r: httpx.Response) -> None:
    where = f"GET {path} → {r.status_code}"
    assert r.headers.get("x-content-type-options") == "nosniff", where
    assert r.headers.get("referrer-policy"), where
    csp = r.headers.get("content-security-policy")
    assert csp, where
    assert len(r.headers.get_list("content-security-policy")) == 1, where
    if path.startswith("/embed/"):
        assert "x-frame-options" not in r.headers, where
        assert frame_ancestors(csp) == ["frame-ancestors *"], where
    else:
        assert r.headers.get("x-frame-options") == "DENY", where
        assert frame_ancestors(csp) == ["frame-ancestors 'none'"], where
        assert r.headers.get("cross-origin-opener-policy") == "same-origin", where
    assert "strict-transport-security" not in r.headers, f"{where}: HSTS on an http URL"


async def test_every_get_route_has_the_headers_and_only_embed_may_be_framed(
    pf: Platform,
) -> None:
    paths = get_paths(_params(pf))
    assert any(p.startswith("/embed/") for p in paths)
    admin = await demo_admin(pf)
    statuses = {}
    for path in paths:
        client = admin if path.startswith("/admin") else pf.app
        r = await client.get(path)
        statuses[path] = r.status_code
        assert_secure(path, r)
    # The walk saw real pages, not only refusals.
    campaign = _params(pf)["campaign_id"]
    for path in (f"/embed/{campaign}", f"/admin/{pf.org}/campaigns", "/widget.js", "/healthz"):
        assert statuses[path] == 200, (path, statuses[path])
    assert statuses[f"/c/{pf.org}/{_params(pf)['campaign_slug']}"] == 200


async def test_errors_and_other_methods_carry_them_too(pf: Platform) -> None:
    campaign = _params(pf)["campaign_id"]
    for method, path in [
        ("GET", "/no/such/page"),
        ("GET", f"/embed/{uuid.uuid4()}"),  # the embed's own 404: still frameable
        ("POST", f"/embed/{campaign}"),  # 405
        ("POST", "/api/v1/checkouts"),  # 415 problem
        ("DELETE", "/healthz"),
    ]:
        r = await pf.app.request(method, path)
        assert r.status_code >= 400, (method, path)
        assert_secure(path, r)


async def test_what_routes_set_themselves_is_kept(pf: Platform) -> None:
    r = await pf.app.get("/widget.js")  # loaded cross-origin by the associations' sites
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.headers["cross-origin-resource-policy"] == "cross-origin"
    r = await pf.app.get("/donor")  # its sign-in links carry a token: no referrer at all
    assert r.headers["referrer-policy"] == "no-referrer"
    r = await pf.app.get(f"/c/{pf.org}/{_params(pf)['campaign_slug']}")
    assert "style-src 'self'" in r.headers["content-security-policy"]
    r = await pf.app.get("/openapi.json")
    assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


@pytest.fixture
async def https_app(pf: Platform) -> AsyncIterator[httpx.AsyncClient]:
    settings = pf.runtime.settings.model_copy(update={"public_url": "https://dons.example.org"})
    async with (
        serve(create_app(settings, runtime=pf.runtime)) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        yield client


async def test_hsts_only_with_an_https_public_url(
    pf: Platform, https_app: httpx.AsyncClient
) -> None:
    campaign = _params(pf)["campaign_id"]
    for path in ("/healthz", f"/embed/{campaign}", "/api/v1/campaigns/" + campaign, "/nowhere"):
        r = await https_app.get(path)
        assert r.headers["strict-transport-security"] == HSTS.decode(), path
        r = await pf.app.get(path)  # the platform's public URL is http://127.0.0.1:…
        assert "strict-transport-security" not in r.headers, path


def test_a_csp_without_frame_rule_gets_one_and_names_are_matched_in_any_case() -> None:
    got = secure_headers(
        [(b"Content-Security-Policy", b"default-src 'none'"), (b"X-Frame-Options", b"SAMEORIGIN")],
        frameable=False,
        hsts=False,
    )
    assert got.count((b"Content-Security-Policy", b"default-src 'none'; frame-ancestors 'none'"))
    assert [v for n, v in got if n.lower() == b"x-frame-options"] == [b"SAMEORIGIN"]
    assert [v for n, v in got if n.lower() == b"content-security-policy"] != []
    framed = secure_headers([], frameable=True, hsts=True)
    assert (b"x-frame-options", b"DENY") not in framed
    assert (b"strict-transport-security", HSTS) in framed
