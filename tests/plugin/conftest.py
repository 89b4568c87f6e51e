"""The pager channel registered for every test of this folder (and nothing else changed).

The CLI and the demo run in this process here, so their global state (the CLI's options,
logging) is put back afterwards.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
import structlog

from crisiscast.channels.spec import ChannelSpec
from crisiscast.cli.common import options, set_options
from tests.plugin.pager import PagerConfig, registered_pager


@pytest.fixture
def pager(monkeypatch: pytest.MonkeyPatch) -> Iterator[ChannelSpec[PagerConfig]]:
    for name in [n for n in os.environ if n.startswith(("CRISISCAST_", "TWILIO_"))]:
        monkeypatch.delenv(name)
    saved_options, saved_structlog = options(), structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        with registered_pager(monkeypatch) as spec:
            yield spec
    finally:
        set_options(saved_options)
        structlog.configure(**saved_structlog)
        root.handlers[:] = handlers
        root.setLevel(level)
