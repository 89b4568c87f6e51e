"""The event loop crisiscast's own processes run on (CLI commands, ``serve``, workers).

uvloop (libuv) when it is installed and the platform has it (Linux, macOS): the same
asyncio API with a cheaper loop, which lowers the CPU each provider request costs (see
docs/performance.md, P4). Otherwise, or with ``CRISISCAST_EVENT_LOOP=asyncio``, the
standard asyncio loop. Nothing in crisiscast depends on which loop runs it; tests run on
the standard loop.

``run`` is the one place a crisiscast process starts its loop. uvloop is imported only
there, so commands that never start a loop (``--help``) do not pay for it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["ENV_VAR", "loop_factory", "loop_name", "run"]

T = TypeVar("T")
ENV_VAR = "CRISISCAST_EVENT_LOOP"
LoopFactory = Callable[[], asyncio.AbstractEventLoop]


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


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on a fresh loop (see the module docstring), then close it."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
