"""One shared copy of each equal immutable value, for collections of many similar records.

A staff contacts file of 100,000 rows repeats the same few group sets, languages, paths and
descriptive columns (departments, buildings, shifts) on every row; parsed row by row, each
Contact had its own copy of each (the groups alone, one ``frozenset`` per row, were about 26 MB
at 100,000). ``Interner`` hands back the first equal value it was given, so equal values share
one object. Only for immutable values (``str``, ``frozenset``, ``tuple`` of those).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TypeVar, cast

__all__ = ["Interner"]

H = TypeVar("H", bound=Hashable)


class Interner:
    """``share(value)``: the first value equal to ``value`` that this interner was given."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: dict[Hashable, Hashable] = {}

    def __call__(self, value: H) -> H:
        return cast(H, self._seen.setdefault(value, value))
