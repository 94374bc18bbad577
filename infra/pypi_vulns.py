"""Judge of infra/validate's dependency audit: reads pip-audit's JSON report, audits what it
skipped, and exits 1 on any known vulnerability (or when nothing could be audited at all).

pip-audit asks PyPI about each pinned version (``/pypi/NAME/VERSION/json``). Where only the
project document (``/pypi/NAME/json``) is served, as on this project's CI network, pip-audit
skips every package. The project document lists the known vulnerabilities of the latest
release: exact for a pin on the latest release; older pins are named as not audited.

usage: python infra/pypi_vulns.py REQUIREMENTS PIP_AUDIT_JSON [--ignore-vuln ID ...]
(REQUIREMENTS: the ``name==version`` pins pip-audit was given; its skips carry no version)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

PYPI = "https://pypi.org/pypi/{name}/json"


def project_document(name: str) -> dict[str, Any] | None:
    url = PYPI.format(name=name)
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - fixed https URL
            doc: dict[str, Any] = json.load(response)
            return doc
    except OSError:
        return None


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: str) -> dict[str, str]:
    with open(path, encoding="utf-8") as f:
        lines = [line.split("#")[0].strip() for line in f]
    return {canonical(n): v for n, _, v in (line.partition("==") for line in lines) if v}


def live(vulns: list[dict[str, Any]], ignored: set[str]) -> list[dict[str, Any]]:
    """Vulnerabilities neither withdrawn nor ignored (by their id or any alias)."""
    return [
        v
        for v in vulns
        if not v.get("withdrawn") and not ({v.get("id"), *v.get("aliases", [])} & ignored)
    ]


def main() -> int:
    args = argparse.ArgumentParser()
    args.add_argument("requirements")
    args.add_argument("report")
    args.add_argument("--ignore-vuln", action="append", default=[])
    opts = args.parse_args()
    ignored = set(opts.ignore_vuln)
    with open(opts.report, encoding="utf-8") as f:
        deps = json.load(f)["dependencies"]

    found: list[tuple[str, str, dict[str, Any]]] = []
    audited = [d for d in deps if "skip_reason" not in d]
    for dep in audited:
        found += [(dep["name"], dep["version"], v) for v in live(dep.get("vulns", []), ignored)]
    versions = pins(opts.requirements)
    skipped = [{**d, "version": versions[canonical(d["name"])]} for d in deps if "skip_reason" in d]
    with ThreadPoolExecutor(8) as pool:
        docs = list(pool.map(lambda d: project_document(d["name"]), skipped))
    by_latest, not_audited = 0, []
    for dep, doc in zip(skipped, docs, strict=True):
        latest = doc["info"]["version"] if doc else None
        if latest != dep["version"]:
            not_audited.append(f"{dep['name']} {dep['version']} (latest: {latest or 'unknown'})")
            continue
        by_latest += 1
        found += [(dep["name"], dep["version"], v) for v in live(doc["vulnerabilities"], ignored)]

    print(
        f"{len(deps)} packages: {len(audited)} audited by pip-audit, {by_latest} through PyPI's"
        f" project documents (pinned on the latest release), {len(not_audited)} not audited"
    )
    if not_audited:
        print("not audited (an older pin, and no per-version data here): " + ", ".join(not_audited))
    for name, version, v in found:
        # pip-audit's report and PyPI's document name two fields differently.
        fixed = ", ".join(v.get("fix_versions") or v.get("fixed_in") or []) or "none yet"
        text = v.get("description") or v.get("summary") or v.get("details") or ""
        print(f"VULNERABLE {name} {version}: {v.get('id')} {v.get('aliases', [])} fixed in {fixed}")
        print(f"    {text.strip()[:300]}")
    if found:
        return 1
    if len(audited) + by_latest == 0:
        print("nothing could be audited (is PyPI reachable?)", file=sys.stderr)
        return 1
    print("no known vulnerabilities")
    return 0


if __name__ == "__main__":
    sys.exit(main())
