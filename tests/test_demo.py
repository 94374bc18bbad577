"""``donate demo`` from an empty directory: serves, writes demo.json, Ctrl-C leaves nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from donate.embedded import free_port


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found


@pytest.mark.slow
def test_demo_comes_up_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DONATE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "donate.cli", "demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    demo_json = tmp_path / ".donate-demo" / "demo.json"
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline and proc.poll() is None:
            if demo_json.exists():
                try:
                    ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                    if ready.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
            time.sleep(0.2)
        assert ready is not None, proc.stdout.read() if proc.stdout else ""
        assert ready.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        demo = json.loads(demo_json.read_text())
        for key in ("public_url", "sandbox_url", "org_slug", "campaigns", "api_key", "admin_email",
                    "admin_password", "finance_email", "finance_password", "smtp_outbox",
                    "stripe_webhook_secret", "other_org"):  # fmt: skip
            assert key in demo, key
        assert {c["kind"] for c in demo["campaigns"]} == {"donation", "crowdfunding"}
        assert demo["other_org"]["api_key"] != demo["api_key"]
        assert _processes_mentioning(str(tmp_path)), "embedded servers should be running"
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "donate demo stopped" in out
    time.sleep(0.5)
    assert _processes_mentioning(str(tmp_path)) == []
