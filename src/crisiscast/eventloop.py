"""The event loop crisiscast's own processes run on (CLI commands, ``serve``, workers).

uvloop (libuv) when it is installed and the platform has it (Linux, macOS): the same
asyncio API with a cheaper loop, which lowers the CPU each provider request costs (see
docs/performance.md, P4). Otherwise, or with ``CRISISCAST_EVENT_LOOP=asyncio``, the
standard asyncio loop. Nothing in crisiscast depends on which loop runs it; tests run on
the standard loop.

``run`` is the one place a crisiscast process starts its loop. uvloop is imported only
there, so commands that never start a loop (``--help``) do not pay for it.

``run`` also sets the cyclic garbage collector's thresholds for the process
(``GC_THRESHOLDS``) when they are still Python's defaults. A large fan-out keeps its whole
plan alive (every delivery, its audit row), and with the default thresholds (700, 10, 10)
the collector walks that heap again and again: measured at 15–18 % of a 50,000-recipient
dispatch's CPU. With a first threshold of 50,000 allocations it runs a few dozen times
instead of thousands, for no measurable change in peak memory (docs/performance.md).
Only cyclic garbage waits longer; everything else is still freed at once by reference
counting. A process that set its own thresholds keeps them.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["ENV_VAR", "GC_THRESHOLDS", "loop_factory", "loop_name", "run", "tune_gc"]

T = TypeVar("T")
ENV_VAR = "CRISISCAST_EVENT_LOOP"
LoopFactory = Callable[[], asyncio.AbstractEventLoop]
GC_THRESHOLDS = (50_000, 20, 10)
_PYTHON_DEFAULT_GC = (700, 10, 10)


def loop_factory() -> LoopFactory | None:
    """uvloop's ``new_event_loop`` when available and not switched off; None: asyncio's default."""
    if os.environ.get(ENV_VAR, "").strip().lower() == "asyncio":
        return None
    try:
        import uvloop  # imported only when a loop is started
    except ImportError:  # not installed (Windows, or a minimal install): the standard loop
        return None
    factory: LoopFactory = uvloop.new_event_loop
    return factory


def loop_name() -> str:
    """``uvloop`` or ``asyncio``: which loop ``run`` would start (for benchmarks and diagnostics)."""
    return "asyncio" if loop_factory() is None else "uvloop"


def tune_gc() -> None:
    """Set ``GC_THRESHOLDS`` unless the process already chose its own (see the module docstring)."""
    if gc.get_threshold() == _PYTHON_DEFAULT_GC:
        gc.set_threshold(*GC_THRESHOLDS)


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on a fresh loop (see the module docstring), then close it."""
    tune_gc()
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
