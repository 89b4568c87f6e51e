"""JSON from outside, read strictly: a key given twice in one object is an error.

Python's ``json`` keeps the last of two equal keys, so ``{"status": "Exercise", ...,
"status": "Actual"}`` would be read as Actual while a reviewer of the body sees Exercise
first. Every JSON body crisiscast accepts (webhook alerts, the lifecycle API) is read with
``loads_unique``, which raises ``DuplicateKeyError`` naming the key instead.
"""

from __future__ import annotations

import json
from typing import Any

from crisiscast.jsontypes import JsonObject

__all__ = ["DuplicateKeyError", "loads_unique"]


class DuplicateKeyError(ValueError):
    """A JSON object gives the same key twice."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the key {key[:40]!r} appears twice in one object")
        self.key = key


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> JsonObject:
    out: JsonObject = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(key)
        out[key] = value
    return out


def loads_unique(text: str | bytes) -> Any:
    """``json.loads`` that raises ``DuplicateKeyError`` for a repeated key (at any depth)."""
    return json.loads(text, object_pairs_hook=_refuse_duplicates)
