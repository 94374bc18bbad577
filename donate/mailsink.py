"""A local SMTP sink for the demo and the tests: every message lands as a ``.eml`` file.

It runs in the caller's event loop (aiosmtpd's protocol on ``loop.create_server``), so
``donate demo`` stays one process and stops cleanly with everything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


def _write(folder: Path, name: str, content: bytes) -> None:
    tmp = folder / f".{name}.tmp"
    tmp.write_bytes(content)
    tmp.rename(folder / name)  # readers never see half a message


class _FolderHandler:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._counter = itertools.count(1)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        name = f"{time.time_ns()}-{os.getpid()}-{next(self._counter):06d}.eml"
        _write(self.folder, name, envelope.original_content or b"")
        return "250 Message accepted for delivery"


@contextlib.asynccontextmanager
async def smtp_sink(folder: Path, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve SMTP on ``host:port`` (0: any free port) and yield its ``smtp://`` URL."""
    handler = _FolderHandler(folder)
    loop = asyncio.get_running_loop()

    def protocol() -> Any:
        return SMTP(handler, hostname="donate-sink", loop=loop)

    server = await loop.create_server(protocol, host, port)
    bound = server.sockets[0].getsockname()[1]
    try:
        yield f"smtp://{host}:{bound}"
    finally:
        server.close()
        await server.wait_closed()
