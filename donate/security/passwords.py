"""Passwords are hashed with argon2id, with OWASP's first recommended setting (19 MiB of
memory, 2 passes, 1 lane) rather than argon2-cffi's default (RFC 9106's 64 MiB, 4 lanes):
a hash's memory is taken in the web worker that checks a login, whose budget is 150 MB of
RSS in all. Hashes made with other parameters still verify (each hash carries its own)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


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
