"""The loop crisiscast's own processes start (``crisiscast.eventloop``)."""

from __future__ import annotations

import asyncio

import pytest

from crisiscast import eventloop


def test_run_uses_uvloop_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """``run`` starts uvloop when it is installed and runs the coroutine to its result."""
    uvloop = pytest.importorskip("uvloop")
    monkeypatch.delenv(eventloop.ENV_VAR, raising=False)

    async def which() -> type[asyncio.AbstractEventLoop]:
        return type(asyncio.get_running_loop())

    assert eventloop.run(which()) is uvloop.Loop
    assert eventloop.loop_name() == "uvloop"


def test_env_var_forces_the_standard_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """``CRISISCAST_EVENT_LOOP=asyncio`` switches uvloop off: the standard loop runs."""
    monkeypatch.setenv(eventloop.ENV_VAR, "asyncio")

    async def which() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert eventloop.loop_factory() is None
    assert eventloop.run(which()).startswith("asyncio")
    assert eventloop.loop_name() == "asyncio"


def test_run_raises_default_gc_thresholds_but_keeps_a_chosen_one() -> None:
    """``run`` sets ``GC_THRESHOLDS`` when the collector has Python's defaults, and leaves
    thresholds the process chose itself alone."""
    import gc

    before = gc.get_threshold()

    async def nothing() -> None:
        return None

    try:
        gc.set_threshold(700, 10, 10)
        eventloop.run(nothing())
        assert gc.get_threshold() == eventloop.GC_THRESHOLDS
        gc.set_threshold(1234, 5, 5)
        eventloop.run(nothing())
        assert gc.get_threshold() == (1234, 5, 5)
    finally:
        gc.set_threshold(*before)
