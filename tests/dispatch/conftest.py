"""Fixtures for dispatcher tests: a fresh in-memory store and a private limiter registry."""

from __future__ import annotations

import pytest

from crisiscast.dispatch import Dispatcher
from crisiscast.limiter import LimiterRegistry
from tests.dispatch.memstore import MemStore


@pytest.fixture
def store() -> MemStore:
    return MemStore()


@pytest.fixture
def dispatcher(store: MemStore) -> Dispatcher:
    """Fast back-off (milliseconds) so retry scenarios finish at once."""
    return Dispatcher(store, limiters=LimiterRegistry(), backoff_base_s=0.001, backoff_cap_s=0.002)
