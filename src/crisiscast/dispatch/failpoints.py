"""Failpoints: kill the process with SIGKILL at a named point, for crash tests.

``CRISISCAST_FAILPOINTS=after_plan_stored:1,after_attempt_started:37`` makes the 37th call of
``failpoint("after_attempt_started")`` in this process send SIGKILL to itself — exactly what
``kill -9`` or a power cut does, with no ``finally`` blocks, no flushes, no goodbye.

Named points (callers):

- ``after_plan_stored``        dispatcher, after the plan and approval are committed (a plan of
                               several chunks: after its first chunk)
- ``between_plan_chunks``      plan writer, after a chunk is committed, before the next is written
- ``after_attempt_started``    dispatcher, after ``attempt_started`` is durable, before the request
- ``after_provider_answered``  dispatcher, after the provider answered, before the outcome is recorded
- ``inside_batch_commit``      audit store, inside a group commit, before it is committed
- ``after_escalation_step_planned``  escalation timer, after a step is committed, before it is sent

The variable is read once, on the first call. When it is unset ``failpoint`` is one dict
lookup on an empty dict. A malformed entry is ignored with a warning on stderr (crash tests
must not be silently disarmed, nor production broken, by a typo).
"""

from __future__ import annotations

import os
import signal
import sys

__all__ = ["ENV_VAR", "failpoint", "parse_failpoints", "reset_failpoints"]

ENV_VAR = "CRISISCAST_FAILPOINTS"

_armed: dict[str, int] = {}  # filled on the first call (or by reset_failpoints)
_hits: dict[str, int] = {}
_loaded: list[bool] = []  # empty until the environment was read


def parse_failpoints(spec: str) -> dict[str, int]:
    """``"name:n,other:m"`` → ``{"name": n, "other": m}``; n ≥ 1 is the hit that kills.

    A bare ``name`` means its first hit. Malformed entries are skipped with a warning.
    """
    armed: dict[str, int] = {}
    for raw in spec.split(","):
        entry = raw.strip()
        if not entry:
            continue
        name, _, count = entry.partition(":")
        name = name.strip()
        try:
            nth = int(count) if count.strip() else 1
        except ValueError:
            nth = 0
        if not name or nth < 1:
            print(f"crisiscast: ignoring malformed failpoint {entry!r} in {ENV_VAR}", file=sys.stderr)
            continue
        armed[name] = nth
    return armed


def reset_failpoints(spec: str | None = None) -> None:
    """Re-read the armed failpoints (from ``spec``, else the environment) and zero the hit counts."""
    _armed.clear()
    _armed.update(parse_failpoints(spec if spec is not None else os.environ.get(ENV_VAR, "")))
    _hits.clear()
    _loaded[:] = [True]


def failpoint(name: str) -> None:
    """Count a hit of ``name``; SIGKILL this process when it is the armed hit."""
    if not _loaded:
        reset_failpoints()
    nth = _armed.get(name)
    if nth is None:
        return
    hits = _hits.get(name, 0) + 1
    _hits[name] = hits
    if hits == nth:
        sys.stdout.flush()
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
