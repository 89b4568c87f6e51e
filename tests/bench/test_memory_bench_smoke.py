"""Smoke run of ``bench/memory.py`` with tiny audiences, so the memory benchmark keeps working.

Asserts only that it finishes, delivers, verifies and prints its figures: memory and CPU are
printed, never asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # whole processes: `make test-slow` runs it
def test_memory_benchmark_completes_and_prints_every_phase() -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "memory.py"), "--sizes", "20,40", "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "peak RSS at 40" in out.stdout
    results = json.loads(out.stdout.strip().splitlines()[-1])
    assert [r["n"] for r in results] == [20, 40]
    for r in results:
        assert set(r["phases"]) == {"contacts", "render", "plan", "fan-out", "report", "verify"}
        assert r["peak_rss_mb"]["send"] > 0 and r["send"]["dispatch"]["cpu_us_per_recipient"] > 0
