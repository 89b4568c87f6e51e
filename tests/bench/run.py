"""Run one ``bench/`` script as a user would (its own process, from the repository root)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_bench(script: str, *args: str, timeout_s: float = 120, env: Mapping[str, str] | None = None) -> str:
    """``bench/<script>`` with ``args``; fails the test unless it exits 0; returns its stdout."""
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=timeout_s,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout
