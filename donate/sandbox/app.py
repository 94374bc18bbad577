"""The provider sandbox as one Starlette app: ``create_sandbox_app(SandboxConfig(...))``.

Mounted at ``{sandbox_url}``: ``/stripe/v1/…``, ``/mollie/v2/…``, ``/pay/{id}``,
``/control/…``. State is in memory; webhooks go out from a task started in the lifespan.
Run it alone with ``run_sandbox(config, host, port)``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from donate.sandbox import control, mollie_payments, stripe_checkout, stripe_connect
from donate.sandbox.checkout_page import pay_page, pay_submit
from donate.sandbox.config import SandboxAccount, SandboxConfig, demo_accounts
from donate.sandbox.ledger import Ledger
from donate.sandbox.mollie_api import mollie_endpoint
from donate.sandbox.stripe_api import stripe_endpoint
from donate.sandbox.stripe_portal import portal_page, portal_submit

__all__ = [
    "SandboxAccount",
    "SandboxConfig",
    "create_sandbox_app",
    "demo_accounts",
    "run_sandbox",
    "sandbox_running",
]


async def _sweep(ledger: Ledger, every_s: float) -> None:
    """Expire checkouts nobody finished, like the providers do on their own."""
    while True:
        await asyncio.sleep(every_s)
        stripe_checkout.sweep_expired(ledger.stripe)
        mollie_payments.sweep_expired(ledger.mollie)
        ledger.flush()


async def _index(request: Request) -> Response:
    ledger: Ledger = request.app.state.ledger
    return JSONResponse(
        {
            "sandbox": True,
            "stripe_api": f"{ledger.config.base}/stripe",
            "mollie_api": f"{ledger.config.base}/mollie",
            "accounts": [
                {"provider": a.provider, "account_id": a.account_id, "name": a.name}
                for a in ledger.config.accounts
            ],
        }
    )


@contextlib.asynccontextmanager
async def sandbox_running(app: Starlette) -> AsyncIterator[None]:
    """Webhook delivery and expiry tasks of a sandbox app.

    Its own lifespan enters this; a parent app that *mounts* the sandbox (Starlette does not
    run a mounted app's lifespan) must enter it from its lifespan:
    ``async with sandbox_running(sandbox_app): yield``.
    """
    ledger: Ledger = app.state.ledger
    tasks = [
        asyncio.create_task(ledger.dispatcher.run(), name="sandbox-webhooks"),
        asyncio.create_task(_sweep(ledger, ledger.config.expiry_sweep_s), name="sandbox-expiry"),
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def create_sandbox_app(config: SandboxConfig) -> Starlette:
    ledger = Ledger(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with sandbox_running(app):
            yield

    methods = ["GET", "POST", "PATCH", "DELETE"]
    app = Starlette(
        routes=[
            Route("/", _index),
            Route("/stripe/{path:path}", stripe_endpoint, methods=methods),
            Route("/mollie/{path:path}", mollie_endpoint, methods=methods),
            Route("/pay/{oid}", pay_page, methods=["GET"]),
            Route("/pay/{oid}", pay_submit, methods=["POST"]),
            Route("/portal/{bid}", portal_page, methods=["GET"]),
            Route("/portal/{bid}", portal_submit, methods=["POST"]),
            Route("/connect/onboard/{link}", stripe_connect.onboard_page, methods=["GET"]),
            Route("/connect/onboard/{link}", stripe_connect.onboard_submit, methods=["POST"]),
            Mount("/control", routes=control.routes),
        ],
        exception_handlers={control.ControlError: control.error_handler},
        lifespan=lifespan,
    )
    app.state.ledger = ledger
    return app


def run_sandbox(config: SandboxConfig, host: str = "127.0.0.1", port: int = 8001) -> None:
    """Serve the sandbox alone (``donate sandbox --port P``); blocks until Ctrl-C."""
    import uvicorn

    uvicorn.run(create_sandbox_app(config), host=host, port=port, log_level="info")
