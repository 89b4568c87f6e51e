"""Types for data that really is JSON: audit event data, delivery payloads, approval records and
the documents the API and CLI print.

``JsonValue`` is what ``json.dumps`` (and so ``audit.events.canonical_json``) turns into JSON text
without a ``default=`` hook. Containers are read-only (``Sequence``/``Mapping``) so that a
``list[str]`` or a ``dict[str, int]`` is accepted where JSON is expected; a tuple is written as an
array. ``JsonObject`` is the mutable object a builder fills in; ``JsonMapping`` is what a reader
takes. Reading a value out of one gives a ``JsonValue``: narrow it with ``isinstance`` (or the
helpers below) before use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias

JsonScalar: TypeAlias = str | int | float | bool | None
JsonValue: TypeAlias = "str | int | float | bool | Sequence[JsonValue] | Mapping[str, JsonValue] | None"
JsonObject: TypeAlias = dict[str, "JsonValue"]
JsonMapping: TypeAlias = Mapping[str, "JsonValue"]


def json_str(value: JsonValue, default: str = "") -> str:
    """``value`` if it is a JSON string, else ``default``."""
    return value if isinstance(value, str) else default


def json_int(value: JsonValue) -> int | None:
    """``value`` if it is a JSON integer (not a boolean), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def json_object(value: JsonValue) -> JsonMapping:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def json_list(value: JsonValue) -> Sequence[JsonValue]:
    """``value`` if it is a JSON array, else an empty one (a string is not an array here)."""
    return value if isinstance(value, Sequence) and not isinstance(value, str) else ()


def expect_str(value: JsonValue) -> str:
    """``value``, which must be a JSON string (a stored document that says otherwise is corrupt)."""
    if not isinstance(value, str):
        raise TypeError(f"expected a JSON string, got {type(value).__name__}")
    return value


def expect_optional_str(value: JsonValue) -> str | None:
    """``value``, which must be a JSON string or null."""
    return None if value is None else expect_str(value)


def expect_object(value: JsonValue) -> JsonMapping:
    """``value``, which must be a JSON object."""
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a JSON object, got {type(value).__name__}")
    return value


def to_int(value: JsonValue) -> int:
    """``int(value)`` for a JSON scalar (a number or a numeric string), TypeError for anything else."""
    if isinstance(value, int | float | str):
        return int(value)
    raise TypeError(f"expected a JSON number, got {type(value).__name__}")
