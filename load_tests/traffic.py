"""Donors, the provider and the associations acting on a running ``stack.Stack``.

Each gift ``i`` is planned from a seeded RNG (reproducible): association, campaign,
provider, amount, tip, receipt wish, outcome at the provider, and for some paid gifts a
refund (asked through the association API, full or partial, or made in the provider's
dashboard). Checkouts go to the web processes in turn (gift ``i`` to ``web_urls[i % n]``),
the payer's choice goes to the sandbox (``/control/settle``), whose webhooks reach the web
processes through the stack's proxy. Nothing is asserted here: what counts is what the
provider holds, which ``ledger_check.py`` compares with the database afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

OUTCOMES = [("paid", 80), ("failed", 6), ("canceled", 5), ("expired", 3), ("open", 6)]
REFUNDS = [("api full", 4), ("api partial", 5), ("dashboard partial", 4), ("dashboard full", 2)]
CHECKOUT_TRIES = 3  # a donor who gets an error tries again, then gives up
PAID_WAIT_S = 180.0  # how long a refund waits for the gift to be seen as paid


@dataclass(frozen=True)
class Gift:
    index: int
    web: str
    org: dict[str, Any]  # {org_slug, api_key, campaigns}
    campaign: dict[str, Any]
    provider: str
    amount_minor: int
    tip_minor: int
    wants_receipt: bool
    email: str
    outcome: str
    refund: str | None


@dataclass
class Tally:
    checkouts: Counter[str] = field(default_factory=Counter)
    settles: Counter[str] = field(default_factory=Counter)
    refunds: Counter[str] = field(default_factory=Counter)
    started: int = 0
    done: int = 0
    progressed: asyncio.Event = field(default_factory=asyncio.Event)  # set at each gift done

    async def reach(self, done: int) -> None:
        """Wait until at least ``done`` gifts are done."""
        while self.done < done:
            self.progressed.clear()
            await self.progressed.wait()

    def to_json(self) -> dict[str, Any]:
        return {
            "gifts planned": self.started,
            "checkouts": dict(self.checkouts),
            "settles": dict(self.settles),
            "refunds": dict(self.refunds),
        }


def _pick(rnd: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rnd.choices([k for k, _ in weighted], [w for _, w in weighted])[0]


class Traffic:
    def __init__(
        self,
        web_urls: list[str],
        sandbox_url: str,
        seeded: dict[str, Any],
        *,
        seed: int = 1,
        concurrency: int = 16,
        donors: int = 400,
    ) -> None:
        self.web_urls = web_urls
        self.sandbox_url = sandbox_url
        self.orgs = [
            {k: seeded[k] for k in ("org_slug", "api_key", "campaigns")},
            seeded["other_org"],  # the same keys
        ]
        self.seed = seed
        self.concurrency = concurrency
        self.donors = donors
        self.tally = Tally()
        self._next = 0
        self._client = httpx.AsyncClient(
            timeout=60, limits=httpx.Limits(max_connections=4 * concurrency)
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def plan(self, i: int) -> Gift:
        rnd = random.Random(f"{self.seed}:{i}")
        org = self.orgs[rnd.randrange(len(self.orgs))]
        outcome = _pick(rnd, OUTCOMES)
        refund = None
        if outcome == "paid" and rnd.random() < sum(w for _, w in REFUNDS) / 100:
            refund = _pick(rnd, REFUNDS)
        return Gift(
            index=i,
            web=self.web_urls[i % len(self.web_urls)],
            org=org,
            campaign=org["campaigns"][rnd.randrange(len(org["campaigns"]))],
            provider=rnd.choice(["stripe", "mollie"]),
            amount_minor=rnd.randrange(500, 30_000),
            tip_minor=200 if rnd.random() < 0.1 else 0,
            wants_receipt=rnd.random() < 0.7,
            email=f"donor{rnd.randrange(self.donors)}@example.org",
            outcome=outcome,
            refund=refund,
        )

    async def run(self, *, count: int | None = None, until: float | None = None) -> Tally:
        """Run gifts until ``count`` were started or the monotonic clock passes ``until``."""

        async def lane() -> None:
            while (count is None or self._next < count) and (
                until is None or time.monotonic() < until
            ):
                i = self._next
                self._next += 1
                self.tally.started += 1
                await self.gift(self.plan(i))
                self.tally.done += 1
                self.tally.progressed.set()

        await asyncio.gather(*(lane() for _ in range(self.concurrency)))
        return self.tally

    async def gift(self, g: Gift) -> None:
        created = await self._checkout(g)
        if created is None:
            return
        donation_id, checkout_id = created
        if g.outcome == "open":  # the donor walked away from the payment page
            self.tally.settles["left open"] += 1
            return
        settled = await self._control("/control/settle", {"id": checkout_id, "outcome": g.outcome})
        self.tally.settles[g.outcome if settled is not None else "settle error"] += 1
        if settled is None or g.refund is None:
            return
        if g.refund.startswith("api"):
            await self._api_refund(g, donation_id)
        else:
            payment_id = settled.get("payment_intent") or checkout_id  # pi_… / tr_…
            body: dict[str, Any] = {"payment_id": payment_id}
            if g.refund.endswith("partial"):
                body["amount_minor"] = (g.amount_minor + g.tip_minor) // 3
            ok = await self._control("/control/refund-external", body)
            self.tally.refunds[g.refund if ok is not None else f"{g.refund} error"] += 1

    async def _checkout(self, g: Gift) -> tuple[str, str] | None:
        body = {
            "campaign_id": g.campaign["id"],
            "amount_minor": g.amount_minor,
            "currency": "EUR",
            "frequency": "once",
            "provider": g.provider,
            "donor": {
                "email": g.email,
                "first_name": "Ada",
                "last_name": f"Donor {g.email.split('@')[0]}",
                "address_line1": "1 rue de la Paix",
                "postal_code": "75002",
                "city": "Paris",
                "country": "FR",
            },
            "wants_receipt": g.wants_receipt,
            "anonymous": False,
            "tip_minor": g.tip_minor,
            "cover_fees": False,
        }
        for _ in range(CHECKOUT_TRIES):
            try:
                r = await self._client.post(f"{g.web}/api/v1/checkouts", json=body)
            except httpx.HTTPError as exc:
                self.tally.checkouts[f"transport {type(exc).__name__}"] += 1
                await asyncio.sleep(0.5)
                continue
            if r.status_code == 201:
                self.tally.checkouts["201 created"] += 1
                data = r.json()
                return str(data["donation_id"]), str(data["checkout_url"]).rsplit("/", 1)[1]
            self.tally.checkouts[f"{r.status_code} refused"] += 1
            await asyncio.sleep(0.5)
        self.tally.checkouts["donor gave up"] += 1
        return None

    async def _control(self, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        for _ in range(5):
            with contextlib.suppress(httpx.HTTPError):
                r = await self._client.post(f"{self.sandbox_url}{path}", json=body)
                if r.status_code == 200:
                    data: dict[str, Any] = r.json()
                    return data
                if r.status_code < 500:
                    return None
            await asyncio.sleep(0.5)
        return None

    async def _api_refund(self, g: Gift, donation_id: str) -> None:
        """The association refunds once the platform shows the gift as paid."""
        if not await self._wait_paid(g, donation_id):
            self.tally.refunds[f"{g.refund} skipped (not paid in time)"] += 1
            return
        body = (
            {} if g.refund == "api full" else {"amount_minor": (g.amount_minor + g.tip_minor) // 3}
        )
        url = f"{g.web}/api/v1/orgs/{g.org['org_slug']}/donations/{donation_id}/refund"
        headers = {"Authorization": f"Bearer {g.org['api_key']}"}
        for _ in range(CHECKOUT_TRIES):
            with contextlib.suppress(httpx.HTTPError):
                r = await self._client.post(url, json=body, headers=headers)
                self.tally.refunds[f"{g.refund} {r.status_code}"] += 1
                if r.status_code < 500:
                    return
            await asyncio.sleep(1)

    async def _wait_paid(self, g: Gift, donation_id: str) -> bool:
        deadline = time.monotonic() + PAID_WAIT_S
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
                r = await self._client.get(f"{g.web}/api/v1/donations/{donation_id}")
                if r.status_code == 200 and r.json()["status"] == "paid":
                    return True
            await asyncio.sleep(0.5)
        return False

    async def faults(self, **faults: Any) -> None:
        r = await self._client.post(f"{self.sandbox_url}/control/faults", json=faults)
        r.raise_for_status()


async def wait_quiet(
    sandbox_url: str, database_url: str, *, timeout_s: float, log: Any = print
) -> float:
    """Wait until the sandbox has no webhook queued or being retried and the outbox has no
    work due (rows scheduled far ahead, like checkout expiry checks, don't count), twice in
    a row. Returns the seconds waited; raises TimeoutError."""
    import asyncpg

    started = time.monotonic()
    quiet_rounds = 0
    last_note = 0.0
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=60) as client:
        while True:
            r = await client.post("/control/drain", json={"timeout_s": 5})
            pending_hooks = int(r.json()["pending"]) if r.status_code == 200 else -1
            try:
                conn = await asyncpg.connect(database_url, timeout=5)
                try:
                    due = await conn.fetchval(
                        "SELECT count(*) FROM outbox WHERE status = 'enqueued' OR (status = "
                        "'pending' AND available_at < now() + interval '10 minutes')"
                    )
                finally:
                    await conn.close()
            except (OSError, asyncpg.PostgresError):
                due = -1
            quiet_rounds = quiet_rounds + 1 if pending_hooks == 0 and due == 0 else 0
            waited = time.monotonic() - started
            if quiet_rounds >= 2:
                return waited
            if waited > timeout_s:
                raise TimeoutError(
                    f"not quiet after {waited:.0f}s: {pending_hooks} webhooks, {due} outbox rows"
                )
            if waited - last_note > 10:
                log(f"  waiting: {pending_hooks} webhook(s) queued, {due} outbox row(s) due")
                last_note = waited
            await asyncio.sleep(1)
