"""Compare the platform's database with the provider sandbox's ledger: was anything lost?

Shared by ``scale_proof.py`` and ``fault_drill.py``; also runs alone::

    .venv/bin/python load_tests/ledger_check.py --database-url postgresql://… \\
        (--sandbox-url http://127.0.0.1:PORT | --ledger-file saved.json) [--json report.json]

The reference is what the providers hold (``GET {sandbox}/control/ledger``: every Checkout
Session and Mollie payment, its status, amount, refunds and chargebacks, and the donation
id in its metadata) and what they sent (``GET {sandbox}/control/webhooks``), never what the
load generator attempted: a donor whose checkout was refused got an error and can retry.
Checked, for every provider payment:

- payments: it is linked to exactly one donation and one payment row, with the same amount
  and currency; the donation's status and refunded amount are what the provider's state
  implies; no donation is paid without a paid provider payment, none points at a payment the
  provider does not have;
- totals: each campaign's ``raised_minor`` is the sum of what the association keeps of its
  gifts (gift minus refunds and chargebacks, from the provider's figures), ``donors_count``
  the number of gifts that count, and both agree with the donations' ``counted_minor``;
- receipts: every gift due a receipt (paid, wanted, eligible campaign, one-off, per-gift
  association) has exactly one live receipt for exactly what it keeps; no other gift has one;
  per association and year the numbers run 1..N without gap or repeat and the sequence row
  says N; an issued receipt's amount is the sum of its live gifts; a canceled one has none;
- webhooks: every delivered Stripe event is stored once, every Mollie payment a webhook was
  delivered for has its stored notices, every stored event is processed, no status change
  was recorded twice;
- the outbox: nothing failed for good, nothing still due.

Prints what was lost or duplicated (must be nothing); exit status 1 on any discrepancy.
Nothing here imports the platform: the rules are restated, so the check is independent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Provider payment status → the donation status it implies before refunds and disputes.
_STATUS = {
    "open": "pending",  # a declined Stripe attempt leaves the session open for another try
    "pending": "pending",
    "paid": "paid",
    "failed": "failed",
    "canceled": "canceled",
    "expired": "canceled",
}
SETTLED = {"paid", "partially_refunded", "refunded", "disputed"}
SHOW = 10  # discrepancies printed per kind (the JSON report has them all)


@dataclass
class Report:
    checked: dict[str, int] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=lambda: defaultdict(int))
    problems: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def bad(self, kind: str, detail: str) -> None:
        self.problems[kind].append(detail)

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "info": self.info,
            "discrepancies": {k: v for k, v in self.problems.items() if v},
        }

    def text(self) -> str:
        lines = ["ledger check: database against the provider sandbox's ledger", "checked:"]
        lines += [f"  {k:<44} {v}" for k, v in self.checked.items()]
        if self.info:
            lines.append("info:")
            lines += [f"  {k:<44} {v}" for k, v in self.info.items()]
        problems = {k: v for k, v in self.problems.items() if v}
        if not problems:
            lines.append("lost: nothing. duplicated: nothing. totals: exact.")
            return "\n".join(lines)
        lines.append(f"DISCREPANCIES ({sum(len(v) for v in problems.values())}):")
        for kind, items in sorted(problems.items()):
            lines.append(f"  {kind}: {len(items)}")
            lines += [f"    - {item}" for item in items[:SHOW]]
            if len(items) > SHOW:
                lines.append(f"    … {len(items) - SHOW} more in the JSON report")
        return "\n".join(lines)


# --------------------------------------------------------------------------- expectations


def kept_minor(gift_minor: int, refunded: int, charged_back: int, status: str) -> int:
    """What the association keeps of the gift: the tip and covered fees never count, and
    refunds and chargebacks come out of the gift (clamped at zero)."""
    if _STATUS[status] != "paid":
        return 0
    return max(0, gift_minor - min(refunded, gift_minor) - min(charged_back, gift_minor))


def expected_status(p: dict[str, Any], charged_minor: int) -> str:
    base = _STATUS[p["status"]]
    if base != "paid":
        return base
    if p["charged_back_minor"] > 0 or any(d["status"] != "won" for d in p.get("disputes", [])):
        return "disputed"
    if p["refunded_minor"] >= charged_minor:
        return "refunded"
    return "partially_refunded" if p["refunded_minor"] > 0 else "paid"


# --------------------------------------------------------------------------- database


async def load_db(database_url: str) -> dict[str, list[dict[str, Any]]]:
    import asyncpg

    queries = {
        "donations": """
            SELECT d.id::text, d.organization_id::text AS org, d.campaign_id::text AS campaign,
                   d.status, d.amount_minor, d.tip_minor, d.fee_cover_minor, d.counted_minor,
                   d.currency, d.wants_receipt, d.frequency, c.receipt_eligible,
                   o.receipt_schedule
            FROM donations d JOIN campaigns c ON c.id = d.campaign_id
            JOIN organizations o ON o.id = d.organization_id""",
        "payments": """
            SELECT id::text, donation_id::text, provider, checkout_id, provider_payment_id,
                   status, amount_minor, currency, refunded_minor, disputed_minor
            FROM payments""",
        "campaigns": """
            SELECT id::text, organization_id::text AS org, slug, raised_minor, donors_count
            FROM campaigns""",
        "receipts": """
            SELECT id::text, organization_id::text AS org, year, seq, number, status, kind,
                   amount_minor
            FROM receipts""",
        "links": """
            SELECT receipt_id::text, donation_id::text, amount_minor, active
            FROM receipt_donations""",
        "sequences": """
            SELECT organization_id::text AS org, year, last_number FROM receipt_sequences""",
        "events": """
            SELECT provider, event_id, object_id, payment_ref, processed_at IS NOT NULL AS done
            FROM provider_events""",
        "history_repeats": """
            SELECT donation_id::text, from_status, to_status, count(*) AS n
            FROM donation_status_history
            GROUP BY donation_id, from_status, to_status HAVING count(*) > 1""",
        "outbox": """
            SELECT id, task, status, attempts, last_error, payload->>'donation_id' AS donation_id,
                   available_at < now() + interval '10 minutes' AS due_soon
            FROM outbox WHERE status <> 'done'""",
    }
    conn = await asyncpg.connect(database_url)
    try:
        return {name: [dict(r) for r in await conn.fetch(sql)] for name, sql in queries.items()}
    finally:
        await conn.close()


# --------------------------------------------------------------------------- checks


def check(
    db: dict[str, list[dict[str, Any]]], ledger: dict[str, Any], hooks: dict[str, Any]
) -> Report:
    report = Report()
    donations = {d["id"]: d for d in db["donations"]}
    payments_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in db["payments"]:
        payments_of[p["donation_id"]].append(p)
    expected_kept: dict[str, int] = {}  # donation id → what it keeps, per the provider
    provider_ids: set[tuple[str, str]] = set()
    _check_payments(report, ledger["payments"], donations, payments_of, expected_kept, provider_ids)
    _check_orphans(report, db["outbox"], donations, payments_of, expected_kept, provider_ids)
    _check_totals(report, db["campaigns"], donations, expected_kept)
    _check_receipts(report, db, donations, expected_kept)
    _check_webhooks(report, db, hooks)
    _check_outbox(report, db["outbox"])
    return report


def _check_payments(
    report: Report,
    ledger_payments: list[dict[str, Any]],
    donations: dict[str, dict[str, Any]],
    payments_of: dict[str, list[dict[str, Any]]],
    expected_kept: dict[str, int],
    provider_ids: set[tuple[str, str]],
) -> None:
    statuses: Counter[str] = Counter()
    for p in ledger_payments:
        provider, pid = p["provider"], p["id"]
        provider_ids.add((provider, pid))
        statuses[p["status"]] += 1
        did = (p.get("metadata") or {}).get("donation_id")
        d = donations.get(did or "")
        if d is None:
            report.bad("provider payment with no donation (lost)", f"{provider} {pid} ({did})")
            continue
        rows = [r for r in payments_of[d["id"]] if r["checkout_id"] == pid]
        if (
            not rows
            and len(payments_of[d["id"]]) == 1
            and not payments_of[d["id"]][0]["checkout_id"]
        ):
            # The provider opened the checkout but its answer was never stored (the database
            # went away meanwhile): the donor got an error; a webhook finds the gift by the
            # donation id in the metadata, and the expiry check closes it if nobody pays.
            rows = payments_of[d["id"]]
            report.info["checkout answers lost (donor got an error)"] += 1
        if len(rows) != 1:
            kind = "duplicated payment rows" if rows else "provider payment not linked (lost)"
            report.bad(kind, f"{provider} {pid}: donation {d['id']} has {len(rows)} rows")
            if not rows:
                continue
        row = rows[0]
        if (row["amount_minor"], row["currency"]) != (p["amount_minor"], p["currency"]):
            report.bad(
                "amount differs from the provider",
                f"{pid}: ours {row['amount_minor']} {row['currency']}, "
                f"provider {p['amount_minor']} {p['currency']}",
            )
        want = expected_status(p, row["amount_minor"])
        if d["status"] != want:
            report.bad(
                "donation status differs from the provider",
                f"{d['id']} ({pid}, provider {p['status']}, refunded {p['refunded_minor']}):"
                f" ours {d['status']}, expected {want}",
            )
        if p["status"] == "paid" and row["refunded_minor"] != min(
            p["refunded_minor"], row["amount_minor"]
        ):
            report.bad(
                "refunded amount differs from the provider",
                f"{pid}: ours {row['refunded_minor']}, provider {p['refunded_minor']}",
            )
        if d["id"] in expected_kept:
            report.bad("donation named by two provider payments", f"{d['id']} ({pid})")
        expected_kept[d["id"]] = expected_kept.get(d["id"], 0) + kept_minor(
            d["amount_minor"], p["refunded_minor"], p["charged_back_minor"], p["status"]
        )
    report.checked["provider payments (sandbox ledger)"] = len(ledger_payments)
    report.info["provider payments by status"] = dict(sorted(statuses.items()))


def _check_orphans(
    report: Report,
    outbox: list[dict[str, Any]],
    donations: dict[str, dict[str, Any]],
    payments_of: dict[str, list[dict[str, Any]]],
    expected_kept: dict[str, int],
    provider_ids: set[tuple[str, str]],
) -> None:
    refused = 0
    expiry_checks = {r["donation_id"] for r in outbox if r["task"] == "donation.refresh"}
    for did, d in donations.items():
        rows = payments_of[did]
        for r in rows:
            if r["checkout_id"] and (r["provider"], r["checkout_id"]) not in provider_ids:
                report.bad("payment unknown to the provider", f"{did}: {r['checkout_id']}")
        if did in expected_kept:
            continue
        # No provider payment names this donation: its checkout was never opened.
        if d["status"] in SETTLED or d["counted_minor"]:
            report.bad("paid donation with no provider payment", f"{did} ({d['status']})")
        elif d["status"] == "canceled" and not any(r["checkout_id"] for r in rows):
            refused += 1
        elif d["status"] == "pending" and did in expiry_checks:
            # The provider call failed and so did the cancel (the database was away): the
            # donor got an error; the donation's expiry check will cancel it.
            report.info["checkouts interrupted, canceled at expiry"] += 1
        else:
            report.bad("donation with no provider payment left open", f"{did} ({d['status']})")
        expected_kept[did] = 0
    report.checked["donations"] = len(donations)
    report.info["checkouts refused (donor got an error)"] = refused


def _check_totals(
    report: Report,
    campaigns: list[dict[str, Any]],
    donations: dict[str, dict[str, Any]],
    expected_kept: dict[str, int],
) -> None:
    raised: Counter[str] = Counter()
    donors: Counter[str] = Counter()
    counted: Counter[str] = Counter()
    for did, d in donations.items():
        kept = expected_kept[did]
        raised[d["campaign"]] += kept
        donors[d["campaign"]] += int(kept > 0)
        counted[d["campaign"]] += d["counted_minor"]
        if d["counted_minor"] != kept:
            report.bad(
                "gift counted differs from the provider",
                f"{did}: counted {d['counted_minor']}, provider says {kept}",
            )
    total = 0
    for c in campaigns:
        cid = c["id"]
        total += c["raised_minor"]
        if (c["raised_minor"], c["donors_count"]) != (raised[cid], donors[cid]):
            report.bad(
                "campaign total differs from the provider",
                f"{c['slug']} ({cid}): raised {c['raised_minor']} / {c['donors_count']} donors,"
                f" provider says {raised[cid]} / {donors[cid]}",
            )
        if c["raised_minor"] != counted[cid]:
            report.bad(
                "campaign total differs from its gifts",
                f"{c['slug']} ({cid}): raised {c['raised_minor']}, sum of gifts {counted[cid]}",
            )
    report.checked["campaign totals"] = len(campaigns)
    report.info["raised, all campaigns (minor units)"] = total


def _due(d: dict[str, Any], kept: int) -> bool:
    return (
        kept > 0
        and d["status"] in SETTLED
        and d["wants_receipt"]
        and d["receipt_eligible"]
        and d["frequency"] == "once"
        and d["receipt_schedule"] == "per_gift"
    )


def _check_receipts(
    report: Report,
    db: dict[str, list[dict[str, Any]]],
    donations: dict[str, dict[str, Any]],
    expected_kept: dict[str, int],
) -> None:
    receipts = {r["id"]: r for r in db["receipts"]}
    live: dict[str, list[dict[str, Any]]] = defaultdict(list)
    live_sum: Counter[str] = Counter()
    for link in db["links"]:
        if link["active"]:
            live[link["donation_id"]].append(link)
            live_sum[link["receipt_id"]] += link["amount_minor"] or 0
    due = 0
    for did, d in donations.items():
        kept = expected_kept[did]
        links = live.get(did, [])
        if _due(d, kept):
            due += 1
            if not links:
                report.bad("receipt due but not issued (lost)", f"{did}: keeps {kept}")
            elif len(links) > 1:
                report.bad("gift on two live receipts", f"{did}: {len(links)} receipts")
            elif (
                links[0]["amount_minor"] != kept
                or receipts[links[0]["receipt_id"]]["status"] != "issued"
            ):
                r = receipts[links[0]["receipt_id"]]
                report.bad(
                    "receipt for the wrong amount",
                    f"{did}: receipt {r['number']} ({r['status']}) for {links[0]['amount_minor']},"
                    f" gift keeps {kept}",
                )
        elif links:
            numbers = [receipts[x["receipt_id"]]["number"] for x in links]
            report.bad("receipt issued but not due", f"{did} ({d['status']}): {numbers}")
    for r in receipts.values():
        if r["status"] == "issued" and live_sum[r["id"]] != r["amount_minor"]:
            report.bad(
                "receipt amount differs from its gifts",
                f"{r['number']}: {r['amount_minor']}, live gifts {live_sum[r['id']]}",
            )
        if r["status"] == "canceled" and live_sum[r["id"]]:
            report.bad("canceled receipt still covers gifts", r["number"])
    _check_numbering(report, db["receipts"], db["sequences"])
    kinds = Counter(f"{r['kind']} {r['status']}" for r in receipts.values())
    report.checked["gifts due a receipt"] = due
    report.checked["receipts"] = len(receipts)
    report.info["receipts by kind and status"] = dict(sorted(kinds.items()))


def _check_numbering(
    report: Report, receipts: list[dict[str, Any]], sequences: list[dict[str, Any]]
) -> None:
    seqs: dict[tuple[str, int], list[int]] = defaultdict(list)
    numbers: Counter[tuple[str, str]] = Counter()
    for r in receipts:
        seqs[(r["org"], r["year"])].append(r["seq"])
        numbers[(r["org"], r["number"])] += 1
    last = {(s["org"], s["year"]): s["last_number"] for s in sequences}
    for (org, year), values in sorted(seqs.items()):
        values.sort()
        if values != list(range(1, len(values) + 1)):
            missing = sorted(set(range(1, max(values) + 1)) - set(values))
            repeated = sorted(v for v, n in Counter(values).items() if n > 1)
            report.bad(
                "receipt numbering gap or repeat",
                f"org {org} {year}: missing {missing[:20]}, repeated {repeated[:20]}",
            )
        if last.get((org, year)) != len(values):
            report.bad(
                "receipt sequence out of step",
                f"org {org} {year}: sequence says {last.get((org, year))}, {len(values)} issued",
            )
    for (org, number), n in numbers.items():
        if n > 1:
            report.bad("receipt number used twice", f"org {org}: {number} × {n}")
    report.checked["receipt number sequences (association × year)"] = len(seqs)


def _check_webhooks(
    report: Report, db: dict[str, list[dict[str, Any]]], hooks: dict[str, Any]
) -> None:
    events = db["events"]
    stored = Counter((e["provider"], e["event_id"]) for e in events)
    for (provider, event_id), n in stored.items():
        if n > 1:
            report.bad("webhook event stored twice", f"{provider} {event_id} × {n}")
    for e in events:
        if not e["done"]:
            report.bad("stored webhook event never processed", f"{e['provider']} {e['event_id']}")
    mollie_objects = {e["object_id"] for e in events if e["provider"] == "mollie"}
    deliveries = hooks.get("deliveries", [])
    outcome: Counter[str] = Counter()
    emitted = {"stripe": set(), "mollie": set()}  # type: dict[str, set[str]]
    for dl in deliveries:
        outcome[f"{dl['provider']} {'copy' if dl['duplicate'] else 'original'} {dl['status']}"] += 1
        emitted[dl["provider"]].add(dl["object_id"])
        if dl["status"] != "delivered":
            continue
        if dl["provider"] == "stripe" and ("stripe", dl["object_id"]) not in stored:
            report.bad("delivered Stripe event not stored (lost)", dl["object_id"])
        elif dl["provider"] == "mollie" and dl["object_id"] not in mollie_objects:
            report.bad("delivered Mollie notice not stored (lost)", dl["object_id"])
    for e in events:
        if e["provider"] == "stripe" and e["event_id"] not in emitted["stripe"] and deliveries:
            report.bad("stored Stripe event the provider never sent", e["event_id"])
    for r in db["history_repeats"]:
        report.bad(
            "status change recorded twice",
            f"{r['donation_id']}: {r['from_status']}->{r['to_status']} × {r['n']}",
        )
    report.checked["webhook deliveries (sandbox log)"] = len(deliveries)
    report.checked["webhook events stored"] = len(events)
    report.info["webhook deliveries"] = dict(sorted(outcome.items()))
    report.info["webhook attempts answered with an error (retried)"] = sum(
        1
        for dl in deliveries
        for a in dl["attempts"]
        if not (a["status_code"] and 200 <= a["status_code"] < 300)
    )


def _check_outbox(report: Report, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        if r["status"] == "failed":
            report.bad(
                "outbox work failed for good",
                f"#{r['id']} {r['task']} after {r['attempts']} attempts: {r['last_error']}",
            )
        elif r["status"] == "enqueued" or r["due_soon"]:
            report.bad(
                "outbox work still due (not drained)", f"#{r['id']} {r['task']} {r['status']}"
            )
    later = Counter(r["task"] for r in rows if r["status"] == "pending" and not r["due_soon"])
    report.info["outbox rows scheduled later (expiry checks)"] = dict(later)


# --------------------------------------------------------------------------- entry points


async def fetch_sandbox(sandbox_url: str) -> dict[str, Any]:
    """The provider side: ``{"ledger": …, "webhooks": …}`` (what ``--ledger-file`` holds)."""
    import httpx

    async with httpx.AsyncClient(base_url=sandbox_url, timeout=120) as client:
        ledger = await client.get("/control/ledger")
        hooks = await client.get("/control/webhooks")
    ledger.raise_for_status()
    hooks.raise_for_status()
    return {"ledger": ledger.json(), "webhooks": hooks.json()}


async def run_check(database_url: str, sandbox: dict[str, Any]) -> Report:
    db = await load_db(database_url)
    return check(db, sandbox["ledger"], sandbox["webhooks"])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--database-url", required=True)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--sandbox-url", help="a running sandbox: read its ledger now")
    source.add_argument("--ledger-file", type=Path, help="a ledger saved by scale_proof.py")
    p.add_argument("--json", type=Path, help="write the report here as JSON")
    args = p.parse_args()
    if args.sandbox_url:
        sandbox = asyncio.run(fetch_sandbox(args.sandbox_url))
    else:
        sandbox = json.loads(args.ledger_file.read_text())
    report = asyncio.run(run_check(args.database_url, sandbox))
    print(report.text())
    if args.json:
        args.json.write_text(json.dumps(report.to_json(), indent=2, default=str))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
