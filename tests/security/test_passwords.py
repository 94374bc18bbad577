"""Password hashing off the event loop: same results as the plain functions, in the one
hashing thread, and the event loop keeps serving while a hash runs."""

from __future__ import annotations

import asyncio
import threading

import pytest

from donate.security import passwords
from donate.security.passwords import (
    hash_password_async,
    verify_password,
    verify_password_async,
)


async def test_hash_and_verify_in_the_hashing_thread() -> None:
    hashed = await hash_password_async("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse battery")
    assert await verify_password_async(hashed, "correct horse battery")
    assert not await verify_password_async(hashed, "wrong horse")
    assert not await verify_password_async("not a hash", "correct horse battery")


@pytest.mark.parametrize("missing", [None, ""])
async def test_no_hash_verifies_the_dummy_and_fails(
    missing: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[tuple[str, str]] = []

    def recording_verify(password_hash: str, password: str) -> bool:
        checked.append((password_hash, threading.current_thread().name))
        return True  # even a match must not let an account without a password in

    monkeypatch.setattr(passwords, "verify_password", recording_verify)
    assert not await verify_password_async(missing, "anything")
    assert checked == [(passwords.dummy_hash(), checked[0][1])]  # as long as a wrong password
    assert checked[0][1].startswith("argon2")


async def test_the_loop_runs_while_hashes_run_one_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running: list[str] = []
    most = 0
    release = threading.Event()
    lock = threading.Lock()
    real_verify = passwords.verify_password

    def slow_verify(password_hash: str, password: str) -> bool:
        nonlocal most
        with lock:
            running.append(threading.current_thread().name)
            most = max(most, len(running))
        release.wait(10)  # holds the thread until the loop has shown it is free
        with lock:
            running.pop()
        return real_verify(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password", slow_verify)
    hashed = await hash_password_async("pw")
    checks = [asyncio.create_task(verify_password_async(hashed, "pw")) for _ in range(3)]
    # The loop keeps turning while the first check is held in its thread.
    for _ in range(1000):
        if running:
            break
        await asyncio.sleep(0.01)
    assert running and running[0].startswith("argon2")
    assert not any(check.done() for check in checks)
    release.set()
    assert await asyncio.gather(*checks) == [True, True, True]
    assert most == passwords.CONCURRENT_HASHES == 1
