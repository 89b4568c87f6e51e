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
