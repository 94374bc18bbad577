"""Report downloads: the payout report of a seeded payout (``bench_reports.seed``), CSV or
XLSX, with a finance API key. Each download must be a 200 with at least one line per row."""

from __future__ import annotations

from locust import task

from locustfiles.common import BUDGET, LoadUser, plan


class ReportDownloader(LoadUser):
    abstract = True
    fmt = ""
    network_timeout = 300.0

    @task
    def download(self) -> None:
        BUDGET.take()
        p = plan()
        headers = {"Authorization": f"Bearer {p['report_key']}", "Accept-Encoding": "identity"}
        with self.client.get(
            f"{p['report_path']}.{self.fmt}", headers=headers, catch_response=True,
            name=f"payout report {self.fmt.upper()}",
        ) as r:  # fmt: skip
            if r.status_code != 200:
                r.failure(f"{r.status_code}: {r.text[:120]}")
            elif self.fmt == "csv" and r.content.count(b"\n") < p["report_rows"]:
                lines = r.content.count(b"\n")
                r.failure(f"{lines} lines for {p['report_rows']} rows")
            elif not r.content:
                r.failure("empty body")
            else:
                r.success()


class CsvReportDownloader(ReportDownloader):
    fmt = "csv"


class XlsxReportDownloader(ReportDownloader):
    fmt = "xlsx"
