"""Fixtures: a fresh sandbox per test, and the webhook receiver it posts to."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from donate.sandbox.app import create_sandbox_app
from tests.sandbox.support import Received, Receiver, Sandbox, ServerThread, sandbox_config


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    async def hook(request: Request) -> Response:
        body = await request.body()
        with rec.lock:
            rec.received.append(Received(request.url.path, body, dict(request.headers)))
            if rec.fail_next > 0:
                rec.fail_next -= 1
                return PlainTextResponse("boom", status_code=500)
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/{path:path}", hook, methods=["POST"])])
    with ServerThread(lambda _url: app) as server:
        rec.url = server.url
        yield rec


@pytest.fixture
async def sandbox(receiver: Receiver) -> AsyncIterator[Sandbox]:
    with ServerThread(lambda url: create_sandbox_app(sandbox_config(url, receiver))) as server:
        sb = Sandbox(server.url, server.app.state.ledger)
        yield sb
        for http in sb.http_clients:
            await http.close_async()
