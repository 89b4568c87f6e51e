"""Failpoints: parsing, counting, and a real SIGKILL on the armed hit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from crisiscast.dispatch import failpoints
from crisiscast.dispatch.failpoints import failpoint, parse_failpoints, reset_failpoints


def test_parse() -> None:
    """'name:n' pairs, a bare name meaning its first hit, spaces tolerated."""
    assert parse_failpoints("after_plan_stored:1, after_attempt_started:37,inside_batch_commit") == {
        "after_plan_stored": 1,
        "after_attempt_started": 37,
        "inside_batch_commit": 1,
    }
    assert parse_failpoints("") == {}


def test_malformed_entries_are_ignored_with_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    """A typo neither crashes nor silently arms something else; it is named on stderr."""
    assert parse_failpoints("a:x,b:0,:3,c:2") == {"c": 2}
    err = capsys.readouterr().err
    assert "'a:x'" in err and "'b:0'" in err and "':3'" in err


def test_unarmed_points_only_count_nothing() -> None:
    """With nothing armed, hitting a point does nothing at all (not even counting)."""
    reset_failpoints("")
    try:
        for _ in range(1000):
            failpoint("after_attempt_started")
        assert failpoints._hits == {}
    finally:
        reset_failpoints("")


def test_hits_before_the_armed_one_are_counted_and_survived() -> None:
    """Armed at hit 3: hits 1 and 2 return normally (counted); other names are ignored."""
    reset_failpoints("some_point:3")
    try:
        failpoint("some_point")
        failpoint("some_point")
        failpoint("other")
        assert failpoints._hits == {"some_point": 2}
    finally:
        reset_failpoints("")


def test_the_armed_hit_kills_the_process_with_sigkill() -> None:
    """A subprocess with CRISISCAST_FAILPOINTS=p:2 dies by SIGKILL on the second hit, not before."""
    code = (
        "from crisiscast.dispatch.failpoints import failpoint\n"
        "failpoint('p'); print('survived first', flush=True)\n"
        "failpoint('p'); print('survived second', flush=True)\n"
    )
    env = {**os.environ, "CRISISCAST_FAILPOINTS": "p:2"}
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == -signal.SIGKILL
    assert proc.stdout == "survived first\n"
