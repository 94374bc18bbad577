"""Request ids: the proxy's ``X-Request-ID`` when it sent one, else a new one."""

from __future__ import annotations

import itertools
import os

from starlette.types import Scope

REQUEST_ID_HEADER = b"x-request-id"
MAX_LENGTH = 64

# A random prefix per process and a counter: unique across processes and restarts for all
# practical purposes, and far cheaper than uuid4() on every request. Not a secret: it only
# ties log lines to an answer.
_prefix = os.urandom(6).hex()
_serial = itertools.count(1)


def _reseed() -> None:
    global _prefix, _serial
    _prefix, _serial = os.urandom(6).hex(), itertools.count(1)


os.register_at_fork(after_in_child=_reseed)  # a forked worker must not repeat its parent's ids


def new_request_id() -> str:
    return f"{_prefix}{next(_serial):x}"


def request_id_for(scope: Scope) -> str:
    """The request's ``X-Request-ID`` (at most 64 characters) or a new id."""
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            if value:
                return str(value[:MAX_LENGTH].decode("latin-1"))
            break
    return new_request_id()
