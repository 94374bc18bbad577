"""The report builders on plain data: fee split, FEC postings, zero-decimal currencies, and
a mismatch flagged in every format."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from pypdf import PdfReader

from donate.domain.payouts import ChartOfAccounts, PayoutHeader, ReportLine, Totals, split_fee
from donate.reports.csv_report import CsvReport
from donate.reports.fec import FecWriter, fec_amount, postings
from donate.reports.pdf_report import PdfSummary
from donate.reports.xlsx_report import XlsxReport

AT = datetime(2026, 3, 14, 10, 30, tzinfo=UTC)


def line(kind: str, gross: int, fee: int, **over: object) -> ReportLine:
    base = ReportLine(
        line_id=f"txn_{kind}_{gross}", occurred_at=AT, kind=kind, source_id=f"src_{gross}",
        payment_ref="pi_1", description="", gross_minor=gross, fee_minor=fee,
        net_minor=gross - fee, currency="EUR", provider="stripe", payout_ref="po_1",
        payout_date=date(2026, 3, 16),
    )  # fmt: skip
    return replace(base, **over)  # type: ignore[arg-type]


def _totals(lines: list[ReportLine]) -> Totals:
    out = Totals()
    for ln in lines:
        out.add(ln)
    return out


def header(amount: int, net_sum: int, currency: str = "EUR") -> PayoutHeader:
    return PayoutHeader(
        id="p", organization_name="Les Amis", organization_siren="123456789", provider="stripe",
        provider_payout_id="po_1", amount_minor=amount, currency=currency, status="paid",
        arrival_date=date(2026, 3, 16), created_at=AT, lines_count=1, unmatched_count=0,
        net_sum_minor=net_sum,
    )  # fmt: skip


def test_fee_split_between_provider_platform_and_tip() -> None:
    assert split_fee("payment", 250, tip=200, platform_fee=30) == (
        split_fee("payment", 250, tip=200, platform_fee=30).__class__(20, 30, 200)
    )
    assert split_fee("payment", 0, tip=200).tip == 0  # Mollie: the tip comes as a cost line
    app = split_fee("application_fee", 500, tip_pool=300)
    assert (app.provider_fee, app.platform_fee, app.tip) == (0, 200, 300)
    assert split_fee("dispute", 1500).provider_fee == 1500


GIFT = {"donation_id": "d1", "campaign_title": "Forêt", "tip_minor": 200, "first_name": "Ada"}


@pytest.mark.parametrize(
    "ln",
    [
        line("payment", 2700, 250, **GIFT),  # Stripe: tip and fee kept on the charge
        line("payment", 2700, 0, **GIFT, provider="mollie"),
        line("application_fee", 0, 500, tip_pool_minor=300),
        line("refund", -1000, 0, donation_id="d1"),
        line("dispute", -3000, 1500, donation_id="d2", company_name="ACME"),
        line("payment", 1700, 55),  # unmatched
        line("fee", 0, 120),
        line("adjustment", 40, 0),
    ],
)
def test_every_movement_posts_a_balanced_entry(ln: ReportLine) -> None:
    posts = postings(ln)
    assert sum(p.minor for p in posts) == 0 and posts
    accounts = {p.account for p in posts}
    if ln.donation_id is None and ln.kind in ("payment", "adjustment"):
        assert "suspense" in accounts
    if ln.company_name:
        assert "gifts_company" in accounts


def test_stripe_gift_with_tip_posts_the_gift_only() -> None:
    posts = {p.account: p.minor for p in postings(line("payment", 2700, 250, **GIFT))}
    assert posts == {"clearing": 2450, "fees": 50, "gifts": -2500}


def test_zero_decimal_currency_amounts() -> None:
    jpy = line("payment", 1500, 245, currency="JPY", **GIFT)
    assert fec_amount(1500, "JPY") == "1500" and fec_amount(123456, "EUR") == "1234,56"
    writer = FecWriter(ChartOfAccounts(), "|")
    rows = [r.split("|") for r in writer.movements([jpy], date(2026, 3, 31)).splitlines()]
    assert {r[11] for r in rows} | {r[12] for r in rows} == {"0", "1255", "45", "1300"}
    assert {r[17] for r in rows} == {"JPY"}
    report = CsvReport(";")
    report.start("report", "Les Amis", [header(1255, 1255, "JPY")])
    out = report.end(_totals([jpy]), "JPY")  # the table: tests/reports/test_csv_copy.py
    assert ";1500;" in out and ";1255\r\n" in out


def test_chart_of_accounts_overrides_are_checked() -> None:
    chart = ChartOfAccounts.from_mapping(
        {"gifts": "75410", "fees": "62700", "bank": "abc", "unknown": "1", "journal_bank": "BNP"}
    )
    assert (chart.gifts, chart.fees, chart.bank, chart.journal_bank) == (
        "75410",
        "62700",
        "512",
        "BNP",
    )


def test_a_mismatch_is_flagged_in_every_format(tmp_path: Path) -> None:
    bad = [header(10000, 9990)]
    lines = [line("payment", 10000, 10, **GIFT)]
    report = CsvReport()
    text = report.start("report", "Les Amis", bad) + report.end(_totals(lines), "EUR")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    flagged = [r for r in rows if r and r[0] == "Contrôle"]
    assert len(flagged) == 2 and all("ÉCART" in r[1] and "po_1" in r[1] for r in flagged)
    assert any(r[:7] == ["stripe", "po_1", "paid", "2026-03-16", "100.00", "99.90", "-0.10"]
               for r in rows)  # fmt: skip

    path = tmp_path / "r.xlsx"
    xlsx = XlsxReport(str(path))
    xlsx.start("report", "Les Amis", bad)
    xlsx.lines(lines)
    xlsx.close()
    book = openpyxl.load_workbook(path)
    cells = [c for ws in book for row in ws.iter_rows(values_only=True) for c in row]
    assert sum(1 for c in cells if isinstance(c, str) and "ÉCART" in c) == 2

    pdf = PdfSummary()
    pdf.lines(lines)
    content = PdfReader(io.BytesIO(pdf.render("report", "Les Amis", bad))).pages[0].extract_text()
    assert "ÉCART" in content and "99.90" in content


@pytest.mark.parametrize(
    ("currency", "gross", "fee", "shown"),
    [
        ("JPY", 1500, 245, {"gross": "1500", "net": "1255", "fee": "245"}),
        ("CHF", 2500, 95, {"gross": "25.00", "net": "24.05", "fee": "0.95"}),
        ("GBP", 123456, 1234, {"gross": "1234.56", "net": "1222.22", "fee": "12.34"}),
        ("KWD", 12345, 5, {"gross": "12.345", "net": "12.340", "fee": "0.005"}),
    ],
)
def test_other_currencies_in_every_format(
    tmp_path: Path, currency: str, gross: int, fee: int, shown: dict[str, str]
) -> None:
    """Amounts in the payout's currency, with its own number of decimals, in all four."""
    net = gross - fee
    lines = [line("payment", gross, fee, **{**GIFT, "tip_minor": 0}, currency=currency)]
    head = [header(net, net, currency)]

    # The CSV's movement table is PostgreSQL's: tests/reports/test_csv_copy.py.
    report = CsvReport()
    text = report.start("report", "Les Amis", head) + report.end(_totals(lines), currency)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert [r[-1] for r in rows if r and r[0] == "Total"] == [shown["net"]] * 2
    assert [r[2] for r in rows if r and r[0] == "Total"] == [shown["gross"]] * 2
    assert rows[3][4:7] == [shown["net"]] * 2 + [fec_amount(0, currency).replace(",", ".")]
    assert any(r[:2] == ["Contrôle", "OK : la somme des nets égale le montant du versement"]
               for r in rows)  # fmt: skip

    path = tmp_path / "r.xlsx"
    xlsx = XlsxReport(str(path))
    xlsx.start("report", "Les Amis", head)
    xlsx.lines(lines)
    xlsx.close()
    book = openpyxl.load_workbook(path)
    sheet = list(book["Mouvements"].iter_rows(values_only=True))
    values = dict(zip(sheet[0], sheet[1], strict=True))
    assert Decimal(str(values["Net"])) == Decimal(shown["net"])
    assert Decimal(str(values["Brut"])) == Decimal(shown["gross"])
    digits = len(shown["net"].partition(".")[2])
    cell = book["Mouvements"].cell(row=2, column=list(sheet[0]).index("Net") + 1)
    assert cell.number_format.endswith("0" if not digits else "." + "0" * digits)

    pdf = PdfSummary()
    pdf.lines(lines)
    content = PdfReader(io.BytesIO(pdf.render("report", "Les Amis", head))).pages[0].extract_text()
    assert shown["net"] in content and shown["gross"] in content

    fec_rows = [
        r.split("\t") for r in FecWriter(ChartOfAccounts()).movements(lines, AT.date()).splitlines()
    ]
    debit = {r[4]: r[11] for r in fec_rows if r[11] != fec_amount(0, currency)}
    assert debit["58"] == shown["net"].replace(".", ",")
    assert {r[17] for r in fec_rows} == {currency}  # Idevise
    assert {r[16] for r in fec_rows} >= {shown["net"].replace(".", ",")}  # Montantdevise
