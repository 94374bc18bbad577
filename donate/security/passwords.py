"""Passwords are hashed with argon2id, with OWASP's first recommended setting (19 MiB of
memory, 2 passes, 1 lane) rather than argon2-cffi's default (RFC 9106's 64 MiB, 4 lanes):
a hash's memory is taken in the web worker that checks a login, whose budget is 150 MB of
RSS in all. Hashes made with other parameters still verify (each hash carries its own).

A hash takes tens of milliseconds of CPU: done on the event loop it would stall every other
request of the worker meanwhile. The ``*_async`` functions, which the services use, run it
in one dedicated thread instead (argon2 releases the GIL): one hash at a time per process,
so its memory stays one 19 MiB block (each thread's malloc arena keeps its own), and a
burst of logins queues there rather than taking the worker's CPU from the pages.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
CONCURRENT_HASHES = 1
_executor: ThreadPoolExecutor | None = None


def _hashing_thread() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(CONCURRENT_HASHES, thread_name_prefix="argon2")
    return _executor


def _forget_thread() -> None:
    global _executor
    _executor = None  # a forked child has none of its parent's threads


os.register_at_fork(after_in_child=_forget_thread)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def dummy_hash() -> str:
    """A hash to verify against when there is no user, so that an unknown address takes as
    long as a wrong password. Made on first use: not at import, where it was the peak RSS of
    every process's start-up."""
    return hash_password("not a real password, only spends the same time")


async def hash_password_async(password: str) -> str:
    """``hash_password`` in the hashing thread."""
    return await asyncio.get_running_loop().run_in_executor(
        _hashing_thread(), hash_password, password
    )


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    """``verify_password`` in the hashing thread. No hash (unknown user, no password set):
    the dummy hash is verified instead, so the answer takes as long, and it is False."""
    if password_hash:
        return await asyncio.get_running_loop().run_in_executor(
            _hashing_thread(), verify_password, password_hash, password
        )
    await asyncio.get_running_loop().run_in_executor(_hashing_thread(), _verify_dummy, password)
    return False


def _verify_dummy(password: str) -> None:
    verify_password(dummy_hash(), password)
