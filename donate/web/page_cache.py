"""A small in-process cache of rendered public documents (campaign page, widget document).

Totals on these documents may be up to ``ttl`` seconds stale, which the product accepts;
in exchange a page costs one dictionary lookup instead of five queries and a template
render. Concurrent misses for one key wait for a single build (no stampede), the number of
keys is bounded (LRU), and entries are per app instance, so tests on other databases never
see each other's pages.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response


@dataclass(frozen=True, slots=True)
class Rendered:
    status: int
    body: bytes
    media_type: str = "text/html; charset=utf-8"
    gzipped: bytes = field(default=b"", repr=False)
    etag: str = ""

    @classmethod
    def of(cls, status: int, body: bytes, media_type: str = "text/html; charset=utf-8") -> Rendered:
        # mtime=0: the same body always gives the same bytes (and ETag).
        packed = gzip.compress(body, compresslevel=6, mtime=0) if len(body) > 512 else b""
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        return cls(status, body, media_type, packed, etag)


class PageCache:
    def __init__(self, ttl: float = 1.0, max_entries: int = 1024) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[float, Rendered]] = OrderedDict()
        self._building: dict[Hashable, asyncio.Future[Rendered]] = {}

    async def get(self, key: Hashable, build: Callable[[], Awaitable[Rendered]]) -> Rendered:
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            self._entries.move_to_end(key)
            return hit[1]
        pending = self._building.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Rendered] = asyncio.get_running_loop().create_future()
        self._building[key] = future
        try:
            value = await build()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it, nobody else must
            raise
        else:
            future.set_result(value)
            self._entries[key] = (time.monotonic() + self.ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            return value
        finally:
            del self._building[key]

    def clear(self) -> None:
        self._entries.clear()


def page_cache(request: Request, name: str, ttl: float = 1.0) -> PageCache:
    """The app's cache called ``name`` (created on first use)."""
    caches: dict[str, PageCache] | None = getattr(request.app.state, "page_caches", None)
    if caches is None:
        caches = {}
        request.app.state.page_caches = caches
    cache = caches.get(name)
    if cache is None:
        cache = caches[name] = PageCache(ttl)
    return cache


def to_response(request: Request, doc: Rendered, headers: dict[str, str]) -> Response:
    """``doc`` as an answer: 304 on a matching ETag, gzip when the client takes it."""
    out = {**headers, "Vary": ", ".join(filter(None, (headers.get("Vary"), "Accept-Encoding")))}
    if doc.etag:
        out["ETag"] = doc.etag
        if request.headers.get("if-none-match") == doc.etag and doc.status == 200:
            return Response(status_code=304, headers=out)
    body = doc.body
    if doc.gzipped and "gzip" in request.headers.get("accept-encoding", ""):
        body = doc.gzipped
        out["Content-Encoding"] = "gzip"
    return Response(body, doc.status, headers=out, media_type=doc.media_type)
