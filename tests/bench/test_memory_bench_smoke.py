"""Smoke run of ``bench/memory.py`` with tiny audiences, so the memory benchmark keeps working.

Asserts only that it finishes, delivers, verifies and prints its figures: memory and CPU are
printed, never asserted.
"""

from __future__ import annotations

import json

import pytest

from tests.bench.run import run_bench


@pytest.mark.slow  # whole processes: `make test-slow` runs it
def test_memory_benchmark_completes_and_prints_every_phase() -> None:
    stdout = run_bench("memory.py", "--sizes", "20,40", "--json", timeout_s=300)
    assert "peak RSS at 40" in stdout and "crisiscast resume of one dispatch" in stdout
    results = json.loads(stdout.strip().splitlines()[-1])
    assert [r["n"] for r in results] == [20, 40]
    for r in results:
        assert set(r["phases"]) == {"contacts", "render", "plan", "fan-out", "report", "verify"}
        assert r["peak_rss_mb"]["send"] > 0 and r["send"]["dispatch"]["cpu_us_per_recipient"] > 0
        assert set(r["resume"]) == {"nothing left", "all pending"}
        assert all(v["peak_rss_mb"] > 0 for v in r["resume"].values())
