"""Login throttling in Redis: failures counted per account and per IP over a window.

Blocked attempts are refused before the password is even checked, with the same answer
for existing and unknown addresses. A success clears the account's counter.
"""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

WINDOW_S = 15 * 60
MAX_PER_ACCOUNT = 5
MAX_PER_IP = 30


def _keys(scope: str, email: str, ip: str | None) -> tuple[str, str]:
    account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"throttle:{scope}:acct:{account}", f"throttle:{scope}:ip:{ip or '-'}"


async def blocked(redis: Redis, email: str, ip: str | None, scope: str = "login") -> bool:
    acct_key, ip_key = _keys(scope, email, ip)
    acct, by_ip = await redis.mget(acct_key, ip_key)
    return int(acct or 0) >= MAX_PER_ACCOUNT or int(by_ip or 0) >= MAX_PER_IP


async def failed(redis: Redis, email: str, ip: str | None, scope: str = "login") -> None:
    async with redis.pipeline(transaction=True) as pipe:
        for key in _keys(scope, email, ip):
            pipe.incr(key)
            pipe.expire(key, WINDOW_S, nx=True)
        await pipe.execute()


async def succeeded(redis: Redis, email: str, scope: str = "login") -> None:
    await redis.delete(_keys(scope, email, None)[0])
