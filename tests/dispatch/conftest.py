"""Fixtures for dispatcher tests: the real SQLite store in memory and a private limiter registry."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from crisiscast.dispatch import Dispatcher
from crisiscast.dispatch.limiter import LimiterRegistry
from tests.dispatch.recording import RecordingStore


@pytest.fixture
async def store() -> AsyncIterator[RecordingStore]:
    s = RecordingStore()
    await s.open()
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
def dispatcher(store: RecordingStore) -> Dispatcher:
    """Fast back-off (milliseconds) so retry scenarios finish at once."""
    return Dispatcher(store, limiters=LimiterRegistry(), backoff_base_s=0.001, backoff_cap_s=0.002)
