"""A Stripe payout of more lines than one listing page holds many times over: the adapter
pages to the end, the sync stores every line in batches, and the report adds up."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from arq.connections import ArqRedis

from donate.services import payments
from tests.support.platform import Platform

STRIPE_ACCT = "acct_sandboxAssoc1"
CHARGES = 2500  # 25 pages of 100 balance transactions, 3 sync batches of 1,000


async def test_a_payout_of_2500_lines_is_synced_whole(pf: Platform, redis: ArqRedis) -> None:
    r = await pf.sandbox.post(
        "/control/bulk-charges",
        json={"account": STRIPE_ACCT, "count": CHARGES, "amount_minor": 1000},
    )
    assert r.status_code == 200, r.text
    r = await pf.sandbox.post(
        "/control/payout", json={"provider": "stripe", "account": STRIPE_ACCT}
    )
    assert r.status_code == 200, r.text
    [sent] = r.json()["payouts"]
    await pf.deliver_and_process(redis)  # payout.paid → payouts.sync

    async with pf.runtime.pool.acquire() as conn:
        org = await conn.fetchval("SELECT id FROM organizations WHERE slug = $1", pf.org)
        row = await conn.fetchrow(
            "SELECT id, amount_minor, synced_at FROM payouts WHERE provider_payout_id = $1",
            sent["id"],
        )
        assert row is not None and row["synced_at"] is not None
        lines = await conn.fetchval(
            "SELECT count(*) FROM payout_lines WHERE payout_id = $1 AND kind = 'payment'",
            row["id"],
        )
        account = await payments.connected_account(conn, pf.runtime, org, "stripe")
    assert lines == CHARGES
    assert row["amount_minor"] == sent["amount"]

    adapter = pf.runtime.provider("stripe")
    sizes = [len(b) async for b in adapter.iter_payout_lines(account, sent["id"], 1000)]
    assert sum(sizes) == CHARGES + 1  # and the payout's own transfer line
    assert len(sizes) == 3 and max(sizes) == 1000

    r = await pf.app.get(f"/api/v1/orgs/{pf.org}/payouts/{row['id']}/report.csv", headers=pf.auth())
    assert r.status_code == 200, r.text
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    start = next(i for i, cells in enumerate(rows) if cells and cells[0] == "Date")
    head, table = rows[start], []
    for cells in rows[start + 1 :]:
        if not cells:
            break
        table.append(dict(zip(head, cells, strict=True)))
    assert len(table) == CHARGES
    assert sum(Decimal(t["Net"]) for t in table) * 100 == sent["amount"]
    # Charges made outside the platform: every one listed, as unmatched.
    assert {t["Rapproché"] for t in table} == {"non"}
    assert any(cells[:2] == ["Contrôle", "OK : la somme des nets égale le montant du versement"]
               for cells in rows)  # fmt: skip
