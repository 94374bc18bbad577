"""The Mollie SDK client, with a retry for a request sent on a connection that just dropped.

mollie-api-python keeps connections alive in a ``requests.Session``; its own retries cover
connect errors only (and only on ``https://``). When Mollie closes an idle connection just
as we reuse it, the request fails with "Connection reset by peer" before any answer (one
donor in 2,000 sandbox checkouts got a 503). ``MollieClient`` sends such a request once
more, on a new connection.

Writes are retried too, and that is safe: the SDK puts an ``Idempotency-Key`` header on
every POST, PATCH and DELETE it sends (ours derive from our own ids, e.g.
``donation:{id}:checkout``; a random one when we pass none), and the retry re-sends
the same headers, so if the first attempt did reach Mollie, the second gets its answer
replayed instead of creating a second payment. A read timeout is not retried: Mollie may
still be working on the first attempt, and the donor is already waiting.
"""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import requests
from mollie.api.client import Client
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util import Retry

if TYPE_CHECKING:
    from urllib3.connectionpool import ConnectionPool
    from urllib3.response import BaseHTTPResponse


class _DroppedConnectionRetry(Retry):
    """urllib3 counts a read timeout as a read error, like a dropped connection: this policy
    lets the timeout through (see the module docstring)."""

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        if isinstance(error, ReadTimeoutError):
            raise error
        return super().increment(method, url, response, error, _pool, _stacktrace)


RETRY = _DroppedConnectionRetry(
    connect=3,  # the SDK's own: nothing was sent
    read=1,  # a connection dropped before the answer ("Connection reset by peer")
    other=0,
    backoff_factor=0.5,  # the first retry is immediate, on a new connection
    # Every write carries an Idempotency-Key (see above), so every method may be repeated.
    allowed_methods=frozenset({"GET", "POST", "PATCH", "DELETE"}),
    respect_retry_after_header=False,  # answers (429, 5xx) are for the caller, as before
)


class MollieClient(Client):
    """``Client`` with ``RETRY`` on both schemes (the sandbox speaks plain HTTP), and an
    ``Idempotency-Key`` on every write."""

    def perform_http_call(
        self,
        http_method: str,
        path: str,
        data: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str = "",
    ) -> requests.Response:
        # ``RETRY`` repeats writes: each must name itself. The SDK's create, update and delete
        # draw a key when we pass none; this covers its few other writes too.
        if http_method != "GET" and not idempotency_key:
            idempotency_key = str(uuid.uuid4())
        return super().perform_http_call(http_method, path, data, params, idempotency_key)

    def _setup_retry(self) -> None:
        # The SDK's hook, called once its Session exists.
        adapter = HTTPAdapter(max_retries=RETRY)
        for name in ("_client", "_oauth_client"):
            session = getattr(self, name, None)
            if session is not None:
                session.mount("https://", adapter)
                session.mount("http://", adapter)
