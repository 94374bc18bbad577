"""The CSV's movement table is rendered by PostgreSQL (a COPY) and its totals summed there:
byte for byte what the csv module writes from the reference rows (``table.row``) and the
totals Python adds up from the same lines, with hostile text (separators, quotes, line
breaks, formulas), odd whitespace, anonymous donors, unmatched lines, JPY and KWD."""

from __future__ import annotations

import contextlib
import csv
import io
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from donate.db import payout_reports as reports_db
from donate.domain.payouts import ReportLine, Totals
from donate.reports.csv_report import WHITESPACE, CsvReport, defused
from donate.reports.table import COLUMNS, row
from donate.services import payout_reports
from donate.services.report_files import Spec, csv_chunks
from donate.services.runtime import Runtime

ORG = uuid.uuid4()
AT = datetime(2026, 3, 14, 10, 30, 15, 999_999, tzinfo=UTC)  # microseconds: cut, not rounded
HOSTILE = [
    'Forêt; Nord, "Sud"',
    "Urgence\ninondations\r\nSud",
    '=HYPERLINK("http://x")',
    "+33 1 23",
    "-moins",
    "@somme",
    "\tonglet",
    "\rretour",
    "' déjà cité",
]
PAYOUTS = {"EUR": uuid.uuid4(), "JPY": uuid.uuid4(), "KWD": uuid.uuid4()}


async def _seed(conn: Any) -> None:
    """One association, campaigns and donors with hostile text, gifts in EUR, JPY and KWD,
    a payout per currency with every kind of line, and a gift still in transit."""
    await conn.execute(
        """INSERT INTO organizations (id, slug, legal_name, address_line1, postal_code, city,
               siren, object) VALUES ($1, 'csv-copy', '=Les "Amis"; du, Banc', '1 rue', '75001',
               'Paris', '123456789', 'Tests')""",
        ORG,
    )
    campaigns = []
    for i, title in enumerate([*HOSTILE, "Simple"]):
        cid = uuid.uuid4()
        campaigns.append(cid)
        crowd = i % 2 == 1
        await conn.execute(
            """INSERT INTO campaigns (id, organization_id, slug, kind, title, currency,
                   goal_minor, ends_at, status)
               VALUES ($1, $2, $3, $4, $5, 'EUR', $6, $7, 'live')""",
            cid, ORG, f"c{i}", "crowdfunding" if crowd else "donation", title,
            50_000_000 if crowd else None, AT + timedelta(days=365) if crowd else None,
        )  # fmt: skip
    names = [
        ("Zoë", "N'Diaye", None), (" \u00a0Élodie\u2003", "\t", None), ("", "Müller", ""),
        ("=1+1", "-2", None), ("Jean", 'Le "Grand"; Nord,\nSud', None), ("", "", None),
        ("Ada", "Lovelace", '=ACME "SA"; Nord'), ("@Ada", "+Lovelace", None),
    ]  # fmt: skip
    donors = []
    for i, (first, last, company) in enumerate(names):
        did = uuid.uuid4()
        donors.append(did)
        await conn.execute(
            """INSERT INTO donors (id, organization_id, email, first_name, last_name,
                   company_name, siren) VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            did, ORG, f"{'=' if i == 3 else ''}donor{i}@example.org", first, last, company,
            "552100554" if company else None,
        )  # fmt: skip
    n = 0
    for currency, payout in PAYOUTS.items():
        await conn.execute(
            """INSERT INTO payouts (id, organization_id, provider, provider_payout_id,
                   amount_minor, currency, status, arrival_date, created_at)
               VALUES ($1, $2, 'stripe', $3, 0, $4, 'paid', $5, $6)""",
            payout, ORG, f"po_{currency}", currency, date(2026, 3, 16), AT,
        )  # fmt: skip
        gifts: list[tuple[uuid.UUID, int, int]] = []
        for k in range(len(names) + 2):
            gid, amount, tip = uuid.uuid4(), 1234 + 997 * k, 200 if k % 3 == 0 else 0
            n += 1
            await conn.execute(
                """INSERT INTO donations (id, organization_id, campaign_id, donor_id,
                       amount_minor, currency, tip_minor, platform_fee_minor, provider, status,
                       anonymous, expires_at, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'stripe', $9, $10, $11, $11)""",
                gid, ORG, campaigns[n % len(campaigns)], donors[k % len(donors)], amount,
                currency, tip, 30 if k % 4 == 1 else 0,
                "partially_refunded" if k == 1 else "paid", k % 5 == 2, AT,
            )  # fmt: skip
            await conn.execute(
                """INSERT INTO payments (organization_id, donation_id, provider,
                       provider_account_id, provider_payment_id, status, amount_minor, currency,
                       fee_minor, method, paid_at, created_at)
                   VALUES ($1, $2, 'stripe', 'acct_1', $3, 'paid', $4, $5, $6, $7, $8, $8)""",
                ORG, gid, f"pi_{n}", amount + tip, currency, 25 + tip,
                "sepa_debit" if k % 2 else "card", AT + timedelta(minutes=k),
            )  # fmt: skip
            gifts.append((gid, amount, tip))
        receipt = uuid.uuid4()
        await conn.execute(
            """INSERT INTO receipts (id, organization_id, year, seq, number, kind, form,
                   donor_id, amount_minor, currency, snapshot, pdf_sha256, fiscal_year)
               VALUES ($1, $2, 2026, $3, $4, 'single', '11580', $5, $6, $7, '{}', $8, 2026)""",
            receipt, ORG, n, f"2026-{n:07d}", donors[0], gifts[0][1], currency, "0" * 64,
        )  # fmt: skip
        await conn.execute(
            """INSERT INTO receipt_donations (organization_id, receipt_id, donation_id,
                   amount_minor) VALUES ($1, $2, $3, $4)""",
            ORG, receipt, gifts[0][0], gifts[0][1],
        )  # fmt: skip
        lines: list[tuple[Any, ...]] = []
        for k, (gid, amount, tip) in enumerate(gifts[:-1]):  # the last one: in transit
            fee = 0 if k == 6 else 25 + tip  # Mollie's way: its tip is in the app fee's pool
            lines.append(("payment", f"ch_{k}", f"pi_{k}", gid, amount + tip, fee,
                          AT + timedelta(minutes=k), HOSTILE[k % len(HOSTILE)]))  # fmt: skip
        lines += [
            ("refund", "re_1", "pi_1", gifts[1][0], -600, 0, AT + timedelta(hours=2), ""),
            ("dispute", "dp_1", "pi_2", gifts[2][0], -gifts[2][1], 1500, AT, "Contestation"),
            ("payment", "ch_out", "pi_out", None, 1700, 55, AT, 'Tombola; "gâteaux"'),
            ("refund", "re_out", None, None, -300, 0, None, "=SUM(A1)"),
            ("fee", "fee_1", None, None, 0, 120, AT, "Frais, mensuels"),
            ("application_fee", "af_1", None, None, 0, 500, AT, "Application fee"),
            ("adjustment", "adj_1", None, None, 40, 0, AT, ""),
            ("payout", f"po_{currency}", None, None, 0, 0, AT, "STRIPE PAYOUT"),
        ]
        for i, (kind, source, ref, gid, gross, fee, at, text) in enumerate(lines):
            await conn.execute(
                """INSERT INTO payout_lines (organization_id, payout_id, provider_line_id, kind,
                       source_id, payment_ref, donation_id, gross_minor, fee_minor, net_minor,
                       currency, occurred_at, description)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)""",
                ORG, payout, f"txn_{i:03d}", kind, source, ref, gid, gross, fee, gross - fee,
                currency, at, text,
            )  # fmt: skip
    # The EUR payout is one cent off: the check must say so in the CSV too.
    await conn.execute(
        """UPDATE payouts po SET amount_minor = s.net + CASE WHEN po.currency = 'EUR' THEN 1
                                                           ELSE 0 END
             FROM (SELECT payout_id, sum(net_minor) AS net FROM payout_lines
                    WHERE kind <> 'payout' GROUP BY payout_id) s
            WHERE s.payout_id = po.id"""
    )


@pytest.fixture(scope="module")
async def seeded(runtime: Runtime) -> Runtime:
    async with runtime.pool.acquire() as conn, conn.transaction():
        await _seed(conn)
    return runtime


SPECS = {
    "payout-eur": Spec("report", payout_id=PAYOUTS["EUR"]),
    "payout-jpy": Spec("report", payout_id=PAYOUTS["JPY"]),
    "payout-kwd": Spec("report", payout_id=PAYOUTS["KWD"]),
    "period": Spec("period_report", start=date(2026, 3, 1), end=date(2026, 3, 31)),
    "in-transit": Spec("in_transit"),
}


def _cell(value: object, sep: str, user_text: bool) -> str:
    """``CsvReport._format`` of a reference cell; people's text defused."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        out = format(value, "f")
        return out.replace(".", ",") if sep == ";" else out
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return defused(str(value)) if user_text else str(value)


async def _reference(rt: Runtime, spec: Spec, sep: str, locale: str) -> str:
    """The report as the csv module writes it from the reference rows of the lines Python
    reads (the XLSX's and PDF's path), with the totals Python adds up."""
    report = CsvReport(sep, locale)
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=sep, lineterminator="\r\n")
    totals, lines = Totals(), list[ReportLine]()
    async with payout_reports.session(rt, ORG) as s:
        org = await s.organization()
        headers = await spec.headers(s)
        head = report.start(spec.title, org.name, headers, spec.period)
        async with contextlib.aclosing(spec.lines(s)) as chunks:
            async for chunk in chunks:
                lines += chunk
    for ln in lines:
        totals.add(ln)
        writer.writerow(
            [_cell(v, sep, c.user_text) for c, v in zip(COLUMNS, row(ln, locale), strict=True)]
        )
    # Amounts in the payouts' currency, else in that of most movements (ties: by code).
    counts = Counter(ln.currency for ln in lines)
    currency = headers[0].currency if headers else min(counts, key=lambda c: (-counts[c], c))
    return head + buf.getvalue() + report.end(totals, currency)


@pytest.mark.parametrize("sep", [",", ";", "\t"])
@pytest.mark.parametrize("locale", ["fr", "en"])
@pytest.mark.parametrize("which", list(SPECS))
async def test_the_copied_table_is_the_reference_csv(
    seeded: Runtime, which: str, sep: str, locale: str
) -> None:
    spec = SPECS[which]
    counted: list[int] = []

    async def progress(n: int) -> None:
        counted.append(n)

    got = b"".join([p async for p in csv_chunks(seeded, ORG, spec, sep, locale, progress)])
    expected = await _reference(seeded, spec, sep, locale)
    assert got.decode() == expected
    assert got.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(expected.lstrip("\ufeff")), delimiter=sep))
    at = next(i for i, r in enumerate(rows) if r and r[0] in ("Date",))
    table = rows[at + 1 : rows.index([], at)]
    assert sum(counted) == len(table) > 0  # progress counts rows, not line breaks


async def test_hostile_text_stays_in_its_cell_and_formulas_are_defused(seeded: Runtime) -> None:
    spec = SPECS["payout-eur"]
    got = b"".join([p async for p in csv_chunks(seeded, ORG, spec, ";", "fr")])
    rows = list(csv.reader(io.StringIO(got.decode("utf-8-sig")), delimiter=";"))
    at = next(i for i, r in enumerate(rows) if r and r[0] == "Date")
    head, table = rows[at], rows[at + 1 : rows.index([], at)]
    assert all(len(r) == len(head) for r in table)
    cells = [dict(zip(head, r, strict=True)) for r in table]
    assert {c["Désignation"] for c in cells} >= {
        "'=HYPERLINK(\"http://x\")", "'+33 1 23", "'-moins", "'@somme", "'\tonglet",
        "'\rretour", "' déjà cité", "Urgence\ninondations\r\nSud", 'Forêt; Nord, "Sud"',
        "'=SUM(A1)",
    }  # fmt: skip
    assert "'=1+1" in {c["Prénom"] for c in cells} and "'-2" in {c["Nom"] for c in cells}
    assert '\'=ACME "SA"; Nord' in {c["Donateur"] for c in cells}
    assert "'=donor3@example.org" in {c["E-mail"] for c in cells}
    assert "Élodie" in {c["Donateur"] for c in cells}  # Python's strip(), not just spaces
    assert rows[1] == ["Association", '\'=Les "Amis"; du, Banc']
    # Negative amounts are numbers, not formulas.
    assert "-6,00" in {c["Net"] for c in cells}
    assert not any(c[k].startswith("'") for c in cells for k in ("Net", "Débit", "Date"))
    check = [r for r in rows if r and r[0] == "Contrôle"]
    assert len(check) == 2 and all("ÉCART" in r[1] for r in check)


@pytest.mark.parametrize(
    ("currency", "shown"),
    [
        ("EUR", ["12.34", "14.34", "0.25", "0.00", "2.00", "2.25", "12.09", "12.09", "0.00"]),
        ("JPY", ["1234", "1434", "25", "0", "200", "225", "1209", "1209", "0"]),
        ("KWD", ["1.234", "1.434", "0.025", "0.000", "0.200", "0.225", "1.209", "1.209", "0.000"]),
    ],
)
async def test_amounts_have_their_currency_decimals(
    seeded: Runtime, currency: str, shown: list[str]
) -> None:
    spec = SPECS[f"payout-{currency.lower()}"]
    got = b"".join([p async for p in csv_chunks(seeded, ORG, spec, ",", "en")])
    rows = list(csv.reader(io.StringIO(got.decode("utf-8-sig"))))
    at = next(i for i, r in enumerate(rows) if r and r[0] == "Date")
    cells = [dict(zip(rows[at], r, strict=True)) for r in rows[at + 1 : rows.index([], at)]]
    gift = next(c for c in cells if c["Movement id"] == "ch_0")
    keys = [
        "Gift amount",
        "Gross",
        "Provider fee",
        "Platform fee",
        "Tip",
        "Total fee",
        "Net",
        "Credit",
        "Debit",
    ]
    assert [gift[k] for k in keys] == shown and gift["Currency"] == currency


def test_row_ends_become_crlf_wherever_pieces_split() -> None:
    text = 'a,"b\nc",d\n"x""\n",y,z\n' + "e,f,g\n" * 3 + '"\n",,\n'
    whole = CsvReport().body(text.encode())
    assert whole == text.replace(",d\n", ",d\r\n").replace(",z\n", ",z\r\n").replace(
        ",g\n", ",g\r\n").replace(",,\n", ",,\r\n").encode()  # fmt: skip
    for size in (1, 2, 3, 7):
        report = CsvReport()
        data = text.encode()
        out = b"".join(report.body(data[i : i + size]) for i in range(0, len(data), size))
        assert out == whole and report.rows == 6


def test_whitespace_is_what_str_strip_strips() -> None:
    assert set(WHITESPACE) == {chr(c) for c in range(0x110000) if chr(c).isspace()}


async def test_a_closed_download_cancels_the_copy(
    seeded: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client goes after the first piece: the COPY stops, the connection is clean."""
    cancelled: list[int] = []
    real_cancel = reports_db.cancel_backend

    async def cancel_backend(conn: Any, pid: int) -> None:
        cancelled.append(pid)
        await real_cancel(conn, pid)

    monkeypatch.setattr(reports_db, "cancel_backend", cancel_backend)
    async with seeded.pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO payout_lines (organization_id, payout_id, provider_line_id, kind,
                   gross_minor, fee_minor, net_minor, currency, occurred_at, description)
               SELECT $1, $2, 'bulk_' || i, 'payment', 1000, 30, 970, 'EUR', $3,
                      repeat('x', 200)
                 FROM generate_series(1, 5000) i""",
            ORG, PAYOUTS["EUR"], AT,
        )  # fmt: skip
    try:
        pieces = csv_chunks(seeded, ORG, SPECS["payout-eur"], ",", "fr")
        async with contextlib.aclosing(pieces):
            first = await anext(pieces)
            second = await anext(pieces)
        assert first.startswith(b"\xef\xbb\xbf") and len(second) >= 1 << 16
        assert len(cancelled) == 1
        async with seeded.pool.acquire() as conn:
            busy = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state <> 'idle'"
            )
            assert busy == 0
        # Every connection of the pool still answers, inside a transaction too.
        for _ in range(3):
            async with seeded.pool.acquire() as conn, conn.transaction():
                assert await conn.fetchval("SELECT 1") == 1
    finally:
        async with seeded.pool.acquire() as conn:
            await conn.execute("DELETE FROM payout_lines WHERE provider_line_id LIKE 'bulk_%'")


async def test_a_failing_copy_raises(seeded: Runtime) -> None:
    async with seeded.pool.acquire() as conn, conn.transaction():
        pieces = reports_db.copy_csv(conn, "SELECT 1 / (2 - $1::int)", (2,), ",")
        with pytest.raises(asyncpg.DivisionByZeroError):
            async with contextlib.aclosing(pieces):
                [p async for p in pieces]


async def test_totals_are_summed_by_postgresql_like_python(seeded: Runtime) -> None:
    async with payout_reports.session(seeded, ORG) as s:
        for spec in SPECS.values():
            summed, currencies = await spec.totals(s, await spec.headers(s))
            python = Totals()
            async with contextlib.aclosing(spec.lines(s)) as chunks:
                async for chunk in chunks:
                    for ln in chunk:
                        python.add(ln)
            assert summed.groups == python.groups
            assert sum(currencies.values()) == python.all.count
