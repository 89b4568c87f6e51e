"""CI smoke run of the benchmark scripts with small numbers, so ``make bench`` keeps working.

Runs ``bench/fanout.py`` (the fakes in their own process, the real Dispatcher, SQLite audit,
the real Mosquitto, the bare aiohttp floor) as a subprocess. Asserts only that it finishes
and prints its figures: timings are printed, never asserted.
"""

from __future__ import annotations

import json

import pytest

from tests.bench.run import run_bench


def test_fanout_benchmark_completes_and_prints_its_figures(mqtt_url: str) -> None:
    """The fan-out benchmark runs end to end on 30 recipients and prints both timings and a ratio."""
    stdout = run_bench(
        "fanout.py",
        *("--recipients", "30", "--runs", "1", "--json"),
        env={"CRISISCAST_BENCH_MQTT_URL": mqtt_url},
    )
    assert "crisiscast end to end" in stdout
    assert "floor (bare aiohttp)" in stdout
    figures = json.loads(stdout.strip().splitlines()[-1])
    assert figures["recipients"] == 30
    assert figures["crisiscast_s"] > 0 and figures["floor_s"] > 0 and figures["ratio"] > 0


@pytest.mark.slow  # whole processes: `make test-slow` runs it
@pytest.mark.parametrize("contacts", [(), ("--cold-contacts",), ("--via-serve",)])
def test_whole_command_benchmark_completes_and_prints_its_figures(contacts: tuple[str, ...]) -> None:
    """The whole-command benchmark runs the real send process and its floor on 20 recipients
    (with the contacts cache warm, emptied before each run, or the send handed to serve)."""
    stdout = run_bench(
        "whole_command.py",
        *("--recipients", "20", "--runs", "1", "--alerts", "0", "--latency-ms", "0", "--json"),
        *contacts,
        timeout_s=180,
    )
    assert "floor last request" in stdout
    if "--via-serve" in contacts:
        assert "serve answered -> first request" in stdout  # the request and answer marks arrived
    else:
        assert "preview built and shown" in stdout  # the phase marks arrived
    figures = json.loads(stdout.strip().splitlines()[-1])["cli"]
    assert figures["recipients"] == 20
    assert figures["first_s"] > 0 and figures["floor_last_s"] > 0 and figures["last_ratio"] > 0
