"""Run the ``donate`` command as a user would: a fresh process with only the given settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_cli(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m donate.cli *args`` with the caller's ``DONATE_*`` variables removed, so
    only ``env`` configures it (a developer's shell or the CI's test URLs must not leak in)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DONATE_")}
    return subprocess.run(
        [sys.executable, "-m", "donate.cli", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )
