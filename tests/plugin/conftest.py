"""The pager channel registered for every test of this folder (and nothing else changed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crisiscast.channels.spec import ChannelSpec
from tests.plugin.pager import PagerConfig, registered_pager


@pytest.fixture
def pager(monkeypatch: pytest.MonkeyPatch) -> Iterator[ChannelSpec[PagerConfig]]:
    for name in [n for n in __import__("os").environ if n.startswith(("CRISISCAST_", "TWILIO_"))]:
        monkeypatch.delenv(name)
    with registered_pager(monkeypatch) as spec:
        yield spec
