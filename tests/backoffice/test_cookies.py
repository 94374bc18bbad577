"""The session cookie is Secure exactly when the platform is served over https."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from starlette.requests import Request
from starlette.responses import Response

from donate.web.backoffice import session


@pytest.mark.parametrize(
    ("public_url", "secure"), [("https://don.example", True), ("http://127.0.0.1:8000", False)]
)
def test_session_cookie_flags(public_url: str, secure: bool) -> None:
    settings = SimpleNamespace(public_url=public_url)
    state = {"app": SimpleNamespace(runtime=SimpleNamespace(settings=settings))}
    request = Request({"type": "http", "headers": [], "state": state})
    response = Response()
    session.set_session(request, response, "token-value")
    header = response.headers["set-cookie"]
    assert header.startswith("donate_session=token-value;")
    assert "HttpOnly" in header and "SameSite=lax" in header and "Path=/admin" in header
    assert ("Secure" in header) is secure
