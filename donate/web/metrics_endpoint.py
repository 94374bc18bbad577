"""``GET /metrics``: this process's metrics, and the queue's state read from PostgreSQL.

The database gauges are computed here, at scrape time, with one index-only-sized query
(``db.outbox.backlog``), never per request. Every web process answers with its own request
metrics; the database gauges are the same from every process (alert on ``max``).
Not part of the public API (absent from /openapi.json): with ``DONATE_METRICS_TOKEN`` set it
asks for ``Authorization: Bearer <token>``, otherwise expose it on the internal network only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from donate.db import outbox
from donate.metrics import bearer_matches
from donate.web.problems import problem_response
from donate.web.state import app_state
from donate.webhooks.ingest import TASK as WEBHOOK_TASK

log = logging.getLogger(__name__)

QUERY_TIMEOUT_S = 2.0


class QueueCollector(Collector):
    """The outbox backlog of one scrape as gauges (``None``: the database did not answer)."""

    def __init__(self, backlog: list[outbox.Backlog] | None) -> None:
        self.backlog = backlog

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "donate_metrics_database_up",
            "1 when the scrape's database query answered; the gauges below are absent if not.",
        )
        up.add_metric([], 0 if self.backlog is None else 1)
        yield up
        if self.backlog is None:
            return
        yield from _queue_families(self.backlog)


def _queue_families(backlog: Iterable[outbox.Backlog]) -> Iterator[Metric]:
    depth = GaugeMetricFamily(
        "donate_outbox_depth",
        "Outbox rows not finished: pending (waiting or in retry backoff) or enqueued.",
        labels=["status", "task"],
    )
    age = GaugeMetricFamily(
        "donate_outbox_oldest_age_seconds",
        "Age of the oldest unfinished outbox row, by task.",
        labels=["task"],
    )
    due = GaugeMetricFamily(
        "donate_outbox_due_lag_seconds",
        "How long the most overdue pending row has been due: the relay's lag (0: on time).",
    )
    webhook = GaugeMetricFamily(
        "donate_webhook_lag_seconds",
        "Age of the oldest provider webhook stored but not processed yet (0: none waiting).",
    )
    oldest: dict[str, float] = {}
    due_lag = 0.0
    for b in backlog:
        depth.add_metric([b.status, b.task], b.count)
        oldest[b.task] = max(oldest.get(b.task, 0.0), b.oldest_s)
        due_lag = max(due_lag, b.due_lag_s)
    for task, seconds in sorted(oldest.items()):
        age.add_metric([task], seconds)
    due.add_metric([], due_lag)
    webhook.add_metric([], oldest.get(WEBHOOK_TASK, 0.0))
    yield from (depth, age, due, webhook)


async def metrics(request: Request) -> Response:
    state = app_state(request)
    token = state.runtime.settings.metrics_token
    if token is not None and not bearer_matches(
        request.headers.get("authorization"), token.get_secret_value()
    ):
        return problem_response(
            401, "unauthorized", "Unauthorized", "A bearer token is required.",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )  # fmt: skip
    backlog: list[outbox.Backlog] | None
    try:
        async with state.runtime.pool.acquire(timeout=QUERY_TIMEOUT_S) as conn:
            backlog = await outbox.backlog(conn, wait_s=QUERY_TIMEOUT_S)
    except Exception as exc:
        # The process metrics still matter (and say more) while the database is away.
        log.warning("metrics: outbox backlog unavailable: %s", type(exc).__name__)
        backlog = None
    body = generate_latest(REGISTRY) + generate_latest(QueueCollector(backlog))
    return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST})


routes = [Route("/metrics", metrics, methods=["GET"])]
