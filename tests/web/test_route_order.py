"""The hot public routes come first in the route table, and that changes no answer.

Starlette answers with the first route whose pattern matches, so moving a route ahead is
only safe if no other route could match a path it matches. Every path parameter here is a
``str`` (one segment, ``[^/]+``), so two templates can match a common path only if they
have as many segments and each pair of segments is either equal or holds a parameter
(treated as "anything": ``{id}.pdf`` is counted as overlapping ``report.csv``, which is
stricter than needed)."""

from __future__ import annotations

from starlette.routing import Route

from donate.web.app import all_routes, hot_routes


def _segments(route: Route) -> list[str]:
    return route.path.strip("/").split("/")


def _overlap(a: Route, b: Route) -> bool:
    sa, sb = _segments(a), _segments(b)
    if len(sa) != len(sb):
        return False
    return all(x == y or "{" in x or "{" in y for x, y in zip(sa, sb, strict=True))


def test_every_route_is_a_plain_route_with_one_segment_parameters() -> None:
    # The overlap rule below holds only for these: a Mount or a {x:path} needs another one.
    for route in all_routes():
        assert isinstance(route, Route), route
        assert ":path}" not in route.path, route.path


def test_hot_routes_come_first() -> None:
    hot = hot_routes()
    assert [r.path for r in all_routes()[: len(hot)]] == [r.path for r in hot]  # type: ignore[attr-defined]
    paths = {r.path for r in hot}  # type: ignore[attr-defined]
    for path in ("/c/{org_slug}/{campaign_slug}", "/embed/{campaign_id}", "/widget.js"):
        assert path in paths
    for path in ("/webhooks/stripe", "/webhooks/mollie", "/api/v1/checkouts"):
        assert path in paths


def test_no_hot_route_overlaps_another_route() -> None:
    # Nor one another: their order among themselves is free too.
    routes = all_routes()
    hot = routes[: len(hot_routes())]
    clashes = [
        (h.path, r.path)  # type: ignore[attr-defined]
        for i, h in enumerate(hot)
        for r in routes[i + 1 :]
        if r.path != h.path and _overlap(h, r)  # type: ignore[arg-type, attr-defined]
    ]
    assert clashes == []


def test_the_overlap_rule_sees_a_clash() -> None:
    # The check above must be able to fail: a literal segment against a parameter.
    admin_org = Route("/admin/{org}", lambda r: None)
    login = Route("/admin/login", lambda r: None)
    assert _overlap(admin_org, login)
    assert not _overlap(Route("/c/{a}/{b}", lambda r: None), Route("/c/{a}", lambda r: None))
    assert not _overlap(Route("/embed/{id}", lambda r: None), Route("/widget/{x}", lambda r: None))
