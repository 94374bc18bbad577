"""Widget benchmark (issue 4): transfer sizes and the iframe's first render in Chromium.

Run from the repository root::

    .venv/bin/python load_tests/bench_widget.py [--runs 20]

Starts ``donate demo`` (in a temporary directory, against a scratch database) and a host site
on another origin whose page holds the one-tag embed, then loads that page ``--runs`` times in
Debian's Chromium (headless, Playwright, a fresh browser context each time, so every run is a
cold cache) and reads, inside the iframe, the browser's own ``first-contentful-paint`` entry.
Printed per run kind:

* ``iframe FCP``: from the iframe's navigation start to its first contentful paint (what the
  issue's "first render of the iframe < 150 ms" budget is about);
* ``host → iframe FCP``: from the host page's navigation start, i.e. what a donor waits for
  after the host page starts loading (includes fetching ``widget.js``).

Also the gzip sizes (level 9, as a CDN or proxy would serve them) of the loader, the iframe
document and its script and stylesheet, and whether any request left our origin before the
donor clicked. Nothing here asserts a timing; results go to ``load_tests/results/``.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_webhooks import (
    DEFAULT_DB,
    DEFAULT_REDIS,
    ROOT,
    create_database,
    drop_database,
    flush_redis,
    free_port,
    migrate_database,
    start_process,
    stop_process,
    wait_http,
    with_db,
)

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CHROMIUM = "/usr/bin/chromium"
LOADER_BUDGET = 2048
DOCUMENT_BUDGET = 25 * 1024
FCP_BUDGET_MS = 150.0

FCP_SCRIPT = """() => new Promise((resolve) => {
  const done = (entry) => resolve({fcp: entry.startTime, origin: performance.timeOrigin});
  const seen = performance.getEntriesByName('first-contentful-paint');
  if (seen.length) return done(seen[0]);
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (e.name === 'first-contentful-paint') done(e);
  }).observe({type: 'paint', buffered: true});
})"""


def host_server(app_url: str, campaign_id: str) -> tuple[ThreadingHTTPServer, str]:
    page = f"""<!doctype html><html lang="fr"><head><meta charset="utf-8">
<title>Association</title></head><body><h1>Soutenez-nous</h1>
<script src="{app_url}/widget.js" data-campaign="{campaign_id}" async></script>
</body></html>""".encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def sizes(app_url: str, campaign_id: str) -> dict[str, Any]:
    import httpx

    def gz(url: str) -> tuple[int, int, str]:
        body = httpx.get(url, timeout=10).content
        return len(body), len(gzip.compress(body, 9)), body.decode(errors="replace")

    loader_raw, loader_gz, _ = gz(f"{app_url}/widget.js")
    doc_raw, doc_gz, html = gz(f"{app_url}/embed/{campaign_id}")
    found = re.findall(r'(?:href|src)="(/[^"]+\.(?:css|js))"', html)
    assets = {path: gz(app_url + path)[:2] for path in found}
    total_gz = doc_gz + sum(g for _, g in assets.values())
    return {
        "loader": {"bytes": loader_raw, "gzip": loader_gz, "budget_gzip": LOADER_BUDGET},
        "document": {"bytes": doc_raw, "gzip": doc_gz},
        "assets": {p: {"bytes": r, "gzip": g} for p, (r, g) in assets.items()},
        "document_total_gzip": total_gz,
        "document_budget_gzip": DOCUMENT_BUDGET,
    }


async def measure(host_url: str, app_url: str, runs: int) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    iframe_fcp: list[float] = []
    host_fcp: list[float] = []
    foreign: set[str] = set()
    app_origin = app_url.rstrip("/")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            for _ in range(runs + 1):  # the first run warms the server, not the browser
                context = await browser.new_context()
                page = await context.new_page()
                page.on(
                    "request",
                    lambda r: (
                        foreign.add(r.url)
                        if not (r.url.startswith(app_origin) or r.url.startswith(host_url))
                        else None
                    ),
                )
                await page.goto(host_url)
                handle = await page.wait_for_selector("iframe", state="attached", timeout=15000)
                frame = await handle.content_frame()
                assert frame is not None
                await frame.wait_for_load_state("domcontentloaded")
                inner = await frame.evaluate(FCP_SCRIPT)
                host_origin = await page.evaluate("performance.timeOrigin")
                iframe_fcp.append(inner["fcp"])
                host_fcp.append(inner["origin"] + inner["fcp"] - host_origin)
                await context.close()
        finally:
            await browser.close()
    return {
        "iframe_fcp_ms": iframe_fcp[1:],
        "host_to_iframe_fcp_ms": host_fcp[1:],
        "foreign_requests": sorted(foreign),
    }


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": statistics.median(ordered),
        "p90": ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))],
        "min": ordered[0],
        "max": ordered[-1],
    }


def run(args: argparse.Namespace, db_url: str, redis_url: str) -> dict[str, Any]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "DONATE_DATABASE_URL": db_url,
            "DONATE_REDIS_URL": redis_url,
            "DONATE_LOG_LEVEL": "WARNING",
        }
        cmd = [sys.executable, "-m", "donate.cli", "demo", "--port", str(port)]
        server = start_process(cmd, env, cwd=Path(tmp))
        try:
            app_url = f"http://127.0.0.1:{port}"
            wait_http(f"{app_url}/healthz", server, timeout=120)
            demo_json = Path(tmp) / ".donate-demo" / "demo.json"
            while not demo_json.exists():
                time.sleep(0.1)
            demo = json.loads(demo_json.read_text())
            campaign = next(c for c in demo["campaigns"] if c["kind"] == "donation")
            host, host_url = host_server(app_url, campaign["id"])
            try:
                measured = asyncio.run(measure(host_url, app_url, args.runs))
            finally:
                host.shutdown()
            return {"sizes": sizes(app_url, campaign["id"]), **measured}
        finally:
            stop_process(server, timeout=30)


def report(result: dict[str, Any]) -> str:
    s = result["sizes"]
    lines = [
        f"{'asset':<44}{'bytes':>10}{'gzip':>10}",
        "-" * 64,
        f"{'/widget.js (loader)':<44}{s['loader']['bytes']:>10}{s['loader']['gzip']:>10}",
        f"{'/embed/{id} (document)':<44}{s['document']['bytes']:>10}{s['document']['gzip']:>10}",
    ]
    for path, v in s["assets"].items():
        lines.append(f"{'  ' + path[-40:]:<44}{v['bytes']:>10}{v['gzip']:>10}")
    lines += [
        f"{'iframe document + its CSS and JS':<44}{'':>10}{s['document_total_gzip']:>10}",
        "",
        f"{'first render (ms, cold cache)':<32}{'median':>9}{'p90':>9}{'min':>9}{'max':>9}",
        "-" * 68,
    ]
    for key, label in (
        ("iframe_fcp_ms", "iframe FCP"),
        ("host_to_iframe_fcp_ms", "host → iframe FCP"),
    ):
        v = summary(result[key])
        lines.append(
            f"{label:<32}{v['median']:>9.1f}{v['p90']:>9.1f}{v['min']:>9.1f}{v['max']:>9.1f}"
        )
    fcp = summary(result["iframe_fcp_ms"])["median"]
    lines += [
        "",
        f"loader <= {LOADER_BUDGET} B gzip: "
        + ("met" if s["loader"]["gzip"] <= LOADER_BUDGET else "MISSED"),
        f"iframe document + CSS + JS <= {DOCUMENT_BUDGET} B gzip: "
        + ("met" if s["document_total_gzip"] <= DOCUMENT_BUDGET else "MISSED"),
        f"iframe first render < {FCP_BUDGET_MS:.0f} ms (median): "
        + ("met" if fcp < FCP_BUDGET_MS else "MISSED"),
        "requests to third parties before a click: "
        + (", ".join(result["foreign_requests"]) or "none"),
    ]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=20, help="cold page loads measured")
    args = p.parse_args()
    if not Path(CHROMIUM).exists():
        print("bench_widget: needs Debian's chromium (apt-get install chromium)", file=sys.stderr)
        return 2
    admin_url = os.environ.get("DONATE_BENCH_DATABASE_URL", DEFAULT_DB)
    redis_url = os.environ.get("DONATE_BENCH_REDIS_URL", DEFAULT_REDIS)
    name = f"donate_bench_widget_{os.getpid()}"
    sys.path.insert(0, str(ROOT))
    try:
        asyncio.run(flush_redis(redis_url))
        asyncio.run(create_database(admin_url, name))
        asyncio.run(migrate_database(with_db(admin_url, name)))
        result = run(args, with_db(admin_url, name), redis_url)
    finally:
        asyncio.run(drop_database(admin_url, name))
        asyncio.run(flush_redis(redis_url))
    result["loadavg"] = os.getloadavg()
    print(report(result))
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"widget-{stamp}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"\nsaved {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
