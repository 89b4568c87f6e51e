"""Fixtures for the server tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.server.helpers import Harness, start_harness, stop_harness


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    h = await start_harness(tmp_path)
    try:
        yield h
    finally:
        await stop_harness(h)
