"""The reference: ``GET /`` of a one-route Starlette app (``bench_webhooks.py _bare``) under
the same uvicorn settings as ``donate serve``, driven by the same Locust setup."""

from __future__ import annotations

from locust import task

from locustfiles.common import BUDGET, LoadUser


class BareUser(LoadUser):
    @task
    def hello(self) -> None:
        BUDGET.take()
        self.client.get("/", name="bare GET /")
