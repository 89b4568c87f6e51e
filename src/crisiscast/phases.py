"""Phase marks for the whole-command benchmark (``bench/whole_command.py``).

Off unless ``CRISISCAST_PHASE_LOG`` names a file: then :func:`mark` notes
``(phase, time.monotonic())`` — the clock every process on Linux shares, so the benchmark
compares the marks with its own process-start time and with the fakes' arrival times — and the
marks are written to that file as one JSON list when the process exits. Nothing is logged
and nothing else changes; with the variable unset :func:`mark` is one comparison.
"""

from __future__ import annotations

import atexit
import json
import os
import time

__all__ = ["mark"]

_LOG_PATH = os.environ.get("CRISISCAST_PHASE_LOG") or None
_MARKS: list[tuple[str, float]] = []


def mark(phase: str) -> None:
    """Note that ``phase`` ended now (only when ``CRISISCAST_PHASE_LOG`` is set)."""
    if _LOG_PATH is not None:
        _MARKS.append((phase, time.monotonic()))


def _write() -> None:
    if _LOG_PATH is not None and _MARKS:
        with open(_LOG_PATH, "w", encoding="utf-8") as f:
            json.dump(_MARKS, f)


if _LOG_PATH is not None:
    atexit.register(_write)
