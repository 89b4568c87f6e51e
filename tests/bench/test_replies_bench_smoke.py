"""Smoke run of ``bench/replies.py`` with small numbers, so the reply benchmark keeps working.

It asserts only that the script finishes and prints its figures: timings are printed, never
asserted (the script itself checks that every reply was matched to the polled dispatch).
"""

from __future__ import annotations

from tests.bench.run import run_bench


def test_replies_benchmark_completes_and_prints_its_figures() -> None:
    stdout = run_bench("replies.py", "20", "5", "1")
    assert "Recording one reply, 20 staff polled, 5 replies one at a time (SQLite file)" in stdout
    assert "one reply (median per run):" in stdout and "a number with no poll:" in stdout
