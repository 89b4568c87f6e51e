"""A live view reads again after its interval, or after nine times what the last read cost."""

from __future__ import annotations

import pytest

from crisiscast.read_pacing import COST_FACTOR, next_read_in_s


@pytest.mark.parametrize(
    ("interval_s", "cost_s", "expected_s"),
    [(0.5, 0.0, 0.5), (0.5, 0.05, 0.5), (0.5, 0.079, 0.711), (1.0, 8.0, 72.0), (2.0, 0.2, 2.0)],
)
def test_next_read_waits_the_interval_or_nine_times_the_cost(
    interval_s: float, cost_s: float, expected_s: float
) -> None:
    assert next_read_in_s(interval_s, cost_s) == pytest.approx(expected_s)


def test_reading_stays_about_a_tenth_of_the_time_whatever_it_costs() -> None:
    for cost_s in (0.001, 0.08, 1.0, 12.0):
        share = cost_s / (cost_s + next_read_in_s(0.5, cost_s))
        assert share <= 1 / (1 + COST_FACTOR) + 1e-9
