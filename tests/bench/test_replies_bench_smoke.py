"""Smoke run of ``bench/replies.py`` with small numbers, so the reply benchmark keeps working.

It asserts only that the script finishes and prints its figures: timings are printed, never
asserted (the script itself checks that every reply was matched to the polled dispatch).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_replies_benchmark_completes_and_prints_its_figures() -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "replies.py"), "20", "5", "1"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Recording one reply, 20 staff polled, 5 replies one at a time (SQLite file)" in out.stdout
    assert "one reply (median per run):" in out.stdout and "a number with no poll:" in out.stdout
