"""Prometheus metrics of one process (docs/metrics.md lists them all).

Every process keeps its own in-memory registry: each web process answers ``GET /metrics``
(donate.web.metrics_endpoint) and each worker serves its registry on
``DONATE_WORKER_METRICS_PORT``; Prometheus scrapes every pod and sums. No multiprocess mode:
one process per pod or per port, so nothing is shared through files.

This module sits outside the layers and imports no other module of ``donate``: the web,
the jobs, the webhooks and the services all record into it.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from prometheus_client import Counter, Histogram, start_http_server

# Request latency: the route's path template only (``/c/{org_slug}/{campaign_slug}``), so
# the number of series is bounded by the route table, never by the URLs asked for.
HTTP_REQUEST_DURATION = Histogram(
    "donate_http_request_duration_seconds",
    "Time from the request's arrival to the end of the answer, by route template.",
    ["method", "route", "status_class"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
UNMATCHED_ROUTE = "unmatched"  # 404s, slash redirects: no route template to name

# The worker: arq functions (the outbox runner, crons) and the outbox tasks they execute.
JOB_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
WORKER_JOBS = Counter(
    "donate_worker_jobs",
    "arq jobs run, by function and outcome (ok, error, cancelled: timed out or stopped).",
    ["function", "outcome"],
)
WORKER_JOB_DURATION = Histogram(
    "donate_worker_job_duration_seconds",
    "Run time of arq jobs, by function.",
    ["function"],
    buckets=JOB_BUCKETS,
)
OUTBOX_JOBS = Counter(
    "donate_outbox_jobs",
    "Outbox rows executed, by task and outcome (done, retry: failed and rescheduled, "
    "failed: given up after the last attempt, skipped: already finished).",
    ["task", "outcome"],
)
OUTBOX_JOB_DURATION = Histogram(
    "donate_outbox_job_duration_seconds",
    "Run time of outbox tasks (handler and bookkeeping), by task.",
    ["task"],
    buckets=JOB_BUCKETS,
)
WEBHOOK_PROCESSING_DELAY = Histogram(
    "donate_webhook_processing_delay_seconds",
    "From a provider webhook's arrival to the end of its processing, by provider.",
    ["provider"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0),
)

# Fiscal receipts, counted once their transaction has committed.
RECEIPTS_ISSUED = Counter(
    "donate_receipts_issued", "Fiscal receipts issued, by kind (single, annual).", ["kind"]
)
RECEIPTS_CANCELED = Counter("donate_receipts_canceled", "Fiscal receipts canceled.")


def bearer_matches(authorization: str | None, token: str) -> bool:
    """``Authorization: Bearer <token>``, compared in constant time."""
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def start_metrics_server(port: int, host: str) -> Callable[[], None]:
    """Serve this process's registry on ``host:port`` from a thread (the worker's scrape
    target); returns a function that stops it. No authentication: bind it to a port only
    the cluster network reaches (see docs/metrics.md)."""
    server, thread = start_http_server(port, addr=host)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop
