"""``gc_paused``: the cyclic collector is off inside the block and as it was after it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from crisiscast.gc_pause import gc_paused


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


def test_off_inside_and_back_on_after_even_when_the_block_raises() -> None:
    gc.enable()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError, match="bad row"), gc_paused():
        raise ValueError("bad row")
    assert gc.isenabled()


def test_a_pause_already_in_place_is_left_as_it_was() -> None:
    gc.disable()
    with gc_paused(), gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled(), "an outer pause (or a process that runs without the collector) is kept"
    gc.enable()
    with gc_paused():
        with gc_paused():
            pass
        assert not gc.isenabled(), "the inner block does not end the outer pause"
    assert gc.isenabled()
