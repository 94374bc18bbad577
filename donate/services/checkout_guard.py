"""Checkout limits and the card-testing defence, kept in Redis.

Two fixed-window counters (per client IP and per campaign, one minute from the first
checkout) shed bursts. Card testing — trying stolen card numbers with small gifts — shows up
as small payments that fail: each small checkout remembers which client made it (a keyed
hash of the IP, never the IP, for at most the checkout's life plus the window), and each
failed attempt to pay it (``record_failure``) is counted per client and per campaign over a
sliding window. Reaching a threshold blocks further *small* checkouts from that client (or,
at a higher threshold, on that campaign from anyone) for a cool-down; larger gifts still go
through.

Two sources of failed attempts, both from outbox jobs and both idempotent:

- a payment that failed for good (Mollie marks a declined payment failed at once; a SEPA
  debit returned): the donation becomes ``failed``, and that counts once per donation;
- a declined card on a Stripe Checkout Session, which stays open for another card, so the
  donation stays pending: each ``payment_intent.payment_failed`` counts once per declined
  charge (``webhooks.declines``), so many cards tried on one session count many times.

What this cannot do: refuse the card itself. Stripe's hosted page takes the card numbers, so
a tester already on an open session can keep trying there; the defence only refuses *new*
small checkouts from that client or campaign (and a session expires with our checkout's
expiry). On real Stripe, Radar remains the first line: it scores every attempt and blocks
card testing it recognises, on the session itself; this guard adds what only we see, the
client behind our checkouts and the campaign being targeted, across sessions.

Redis is an aid, not a gate: callers treat a Redis error as "allowed" (and log it).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import time
from dataclasses import dataclass
from uuid import UUID

from redis.asyncio import Redis
from redis.exceptions import RedisError

from donate import redis_client
from donate.settings import Settings

log = logging.getLogger(__name__)

PREFIX = "donate:guard:"
RATE_WINDOW_S = 60

# KEYS: ip counter, campaign counter, ip block, campaign block.
# ARGV: ip limit, campaign limit, window (s), "1" if the gift is small.
# A refused client does not use up the campaign's budget (one IP cannot starve a campaign).
_ADMIT = """
if ARGV[4] == '1' then
  local ttl = redis.call('PTTL', KEYS[3])
  if ttl > 0 then return {'ip_card_testing', ttl} end
  ttl = redis.call('PTTL', KEYS[4])
  if ttl > 0 then return {'campaign_card_testing', ttl} end
end
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
if n > tonumber(ARGV[1]) then return {'ip_rate', redis.call('PTTL', KEYS[1])} end
n = redis.call('INCR', KEYS[2])
if n == 1 then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
if n > tonumber(ARGV[2]) then return {'campaign_rate', redis.call('PTTL', KEYS[2])} end
return false
"""

# KEYS: ip failures, campaign failures (sorted sets), ip block, campaign block.
# ARGV: now (ms), window (ms), attempt, ip threshold, campaign threshold, cool-down (s).
# The attempt (a declined charge, else the donation) is the member: a job that runs twice,
# or an event delivered twice, counts the failure once.
_FAILED = """
local counts = {}
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], ARGV[1], ARGV[3])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
  local n = redis.call('ZCARD', KEYS[i])
  counts[i] = n
  if n >= tonumber(ARGV[3 + i]) then redis.call('SET', KEYS[i + 2], '1', 'EX', ARGV[6]) end
end
return counts
"""


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str  # ip_rate | campaign_rate | ip_card_testing | campaign_card_testing
    retry_after_s: int

    @property
    def card_testing(self) -> bool:
        return self.reason.endswith("card_testing")


def client_key(settings: Settings, ip: str) -> str:
    """A keyed hash of the client's address (IPv6 by /64: one subscriber's whole prefix),
    so Redis never holds an IP and the hash cannot be reversed by trying all addresses."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        text = ip
    else:
        net = ipaddress.ip_network(f"{addr}/64", strict=False) if addr.version == 6 else None
        text = str(net) if net else str(addr)
    secret = settings.secret_key.get_secret_value() if settings.secret_key else "donate-dev"
    key = hmac.new(("checkout-guard:" + secret).encode(), text.encode(), hashlib.sha256)
    return key.hexdigest()[:32]


def is_small(settings: Settings, amount_minor: int) -> bool:
    return amount_minor <= settings.card_testing_small_amount_minor


async def admit(
    redis: Redis, settings: Settings, *, client: str, campaign_id: UUID, amount_minor: int
) -> Refusal | None:
    """Count this checkout; a ``Refusal`` when it must wait. Raises ``RedisError``."""
    keys = [
        f"{PREFIX}rate:ip:{client}",
        f"{PREFIX}rate:campaign:{campaign_id}",
        f"{PREFIX}block:ip:{client}",
        f"{PREFIX}block:campaign:{campaign_id}",
    ]
    args = [
        str(settings.checkout_limit_per_ip),
        str(settings.checkout_limit_per_campaign),
        str(RATE_WINDOW_S),
        "1" if is_small(settings, amount_minor) else "0",
    ]
    found = await redis.eval(_ADMIT, len(keys), *keys, *args)  # type: ignore[misc]
    if not found:
        return None
    reason, ttl_ms = found
    reason = reason.decode() if isinstance(reason, bytes) else str(reason)
    return Refusal(reason, max(1, -(-int(ttl_ms) // 1000)))


async def note_checkout(
    redis: Redis,
    settings: Settings,
    *,
    client: str,
    campaign_id: UUID,
    donation_id: UUID,
    amount_minor: int,
) -> None:
    """Remember who started a small checkout, until its payment can no longer fail."""
    if not is_small(settings, amount_minor):
        return
    ttl = settings.checkout_expiry_minutes * 60 + settings.card_testing_window_s
    await redis.set(f"{PREFIX}checkout:{donation_id}", f"{client} {campaign_id}", ex=ttl)


async def record_failure(
    redis: Redis, settings: Settings, donation_id: UUID, attempt: str | None = None
) -> bool:
    """Count a failed payment against its checkout's client and campaign (a small gift
    started by ``note_checkout`` only). True when it was counted. Raises ``RedisError``.

    ``attempt`` names one try at paying the checkout (a declined Stripe charge): each counts
    once, however often it is reported. Without it the donation itself is the attempt (a
    payment that failed for good counts once per donation)."""
    found = await redis.get(f"{PREFIX}checkout:{donation_id}")
    if found is None:
        return False
    client, campaign_id = (found.decode() if isinstance(found, bytes) else found).split(" ", 1)
    keys = [
        f"{PREFIX}failed:ip:{client}",
        f"{PREFIX}failed:campaign:{campaign_id}",
        f"{PREFIX}block:ip:{client}",
        f"{PREFIX}block:campaign:{campaign_id}",
    ]
    args = [
        str(int(time.time() * 1000)),
        str(settings.card_testing_window_s * 1000),
        attempt or str(donation_id),
        str(settings.card_testing_max_failures_per_ip),
        str(settings.card_testing_max_failures_per_campaign),
        str(settings.card_testing_cooldown_s),
    ]
    per_ip, per_campaign = await redis.eval(_FAILED, len(keys), *keys, *args)  # type: ignore[misc]
    if per_ip >= settings.card_testing_max_failures_per_ip:
        log.warning(
            "checkout guard: card testing suspected from client %s (%d small failed payments)",
            client[:12], per_ip,
        )  # fmt: skip
    if per_campaign >= settings.card_testing_max_failures_per_campaign:
        log.warning(
            "checkout guard: card testing suspected on campaign %s (%d small failed payments)",
            campaign_id, per_campaign,
        )  # fmt: skip
    return True


async def record_failed_payment(
    settings: Settings, donation_id: UUID, attempt: str | None = None
) -> bool:
    """``record_failure`` over a short-lived connection (the outbox job has no Redis of its
    own; failures are few next to checkouts). A Redis outage loses this count, never the
    job. True when it was counted."""
    if not settings.checkout_rate_limits or not settings.redis_configured:
        return False
    redis = redis_client.connect(settings, for_web=True)  # fail fast, as in a request
    try:
        return await record_failure(redis, settings, donation_id, attempt)
    except (RedisError, OSError) as exc:
        log.warning("checkout guard: failure of %s not counted (Redis: %s)", donation_id, exc)
        return False
    finally:
        await redis.aclose()
