"""Message files: a ``CrisisMessage`` from YAML (``.yaml``/``.yml``) or JSON (``.json``).

Every problem becomes ONE ``MessageFileError`` whose text is a plain sentence naming the file,
the field and what is wrong, with what to do — never a traceback: a missing or unreadable
file, bad YAML/JSON syntax (with the line), a duplicated or unknown field (with the closest
known name), a wrong enum value (listing the allowed values), a bad date, text too long…

YAML is read with the safe loader, except that timestamps stay text (so every date goes
through the model's own parsing and gets the same error sentence) and a key given twice is
an error instead of silently keeping the last one, as is a field name that is not text.

Only a regular file of at most 1 MB is read (a FIFO or ``/dev/zero`` is refused unread), and
data nesting more than 16 levels deep is refused.
"""

from __future__ import annotations

import difflib
import json
import os
import stat
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from crisiscast.channels.registry import names as channel_names
from crisiscast.clock import DEFAULT_SENDER_CLOCK_SKEW_S, describe_offset, sender_offset_s
from crisiscast.errors import MessageFileError
from crisiscast.jsontypes import JsonObject
from crisiscast.message import CrisisMessage, MessageText

__all__ = ["load_message", "parse_message"]

_SUFFIXES = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}
_EXAMPLE_DATE = "2026-11-28T14:05:00+00:00"
MAX_FILE_BYTES = 1_000_000  # a message file larger than this is refused unread
MAX_NESTING = 16  # lists/mappings inside each other; a message needs four


class _MessageYamlLoader(yaml.SafeLoader):
    """Safe YAML, timestamps kept as text, duplicate keys refused."""


_MessageYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int) -> None:
        super().__init__(key)
        self.key = key
        self.line = line


class _NonTextKey(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)  # "<<" merge keys first, so their keys are checked too
    seen: set[str] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if not isinstance(key, str):
            raise _NonTextKey(key_node.start_mark.line + 1)
        if key in seen:
            raise _DuplicateKey(key, key_node.start_mark.line + 1)
        seen.add(key)
    return loader.construct_mapping(node)


def _timestamp_as_text(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """An explicit ``!!timestamp`` stays text too: the model parses it (or says what is wrong)."""
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_MessageYamlLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_MessageYamlLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


def load_message(path: str | Path) -> CrisisMessage:
    """Read and validate a message file; raises ``MessageFileError`` with one plain sentence."""
    file = Path(path)
    if file.is_dir():
        raise MessageFileError(f"{file} is a directory, not a message file; give the path of a file.")
    fmt = _SUFFIXES.get(file.suffix.lower())
    if fmt is None:
        raise MessageFileError(
            f"The message file {file} must end in .yaml, .yml or .json so crisiscast knows how to read it."
        )
    if not file.exists():
        raise MessageFileError(f"The message file {file} does not exist; check the path.")
    try:
        data = _read_regular_file(file)
    except OSError as exc:
        raise MessageFileError(
            f"Cannot read the message file {file}: {exc.strerror or exc}; check its permissions."
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MessageFileError(f"The message file {file} is not UTF-8 text; save it as UTF-8.") from None
    return check_sender_clock(parse_message(text, fmt=fmt, origin=str(file)), str(file))


def check_sender_clock(message: CrisisMessage, origin: str) -> CrisisMessage:
    """``message`` when its ``sent`` (if the file gives one) agrees with this machine's clock;
    else ``MessageFileError`` (``crisiscast.clock``): a wrong ``sent`` could hold the banner on
    an old alert or make the message expire before it is sent."""
    offset_s = sender_offset_s(message, datetime.now(UTC))
    if abs(offset_s) > DEFAULT_SENDER_CLOCK_SKEW_S:
        raise MessageFileError(
            f"The message file {origin} says it was sent at {message.sent.isoformat()}, "
            f"{describe_offset(offset_s)} this machine's clock; "
            "remove sent (crisiscast sets it) or correct it."
        )
    return message


def _read_regular_file(file: Path) -> bytes:
    """The bytes of ``file``, refusing (``MessageFileError``) anything but a regular file of at
    most ``MAX_FILE_BYTES``: a FIFO would block, ``/dev/zero`` would read until memory runs out.

    The file is opened without blocking and checked on the open descriptor, so it cannot be
    swapped for something else between the check and the read.
    """
    fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise MessageFileError(
                f"The message file {file} is not a regular file (it is {_file_kind(info.st_mode)}); "
                "give the path of a saved .yaml or .json file."
            )
        if info.st_size > MAX_FILE_BYTES:
            raise MessageFileError(_too_big(file))
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise MessageFileError(_too_big(file))
    return data


def _too_big(file: Path) -> str:
    return (
        f"The message file {file} is larger than {MAX_FILE_BYTES // 1_000_000} MB; a crisis message "
        "is a few kilobytes, so check that this is the right file."
    )


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a plain file"


def parse_message(text: str, *, fmt: str, origin: str) -> CrisisMessage:
    """Parse message text in ``fmt`` (``"yaml"`` or ``"json"``); ``origin`` names it in errors."""
    data = _parse_yaml(text, origin) if fmt == "yaml" else _parse_json(text, origin)
    if _depth(data) > MAX_NESTING:
        raise _too_deep(origin)
    if data is None:
        raise MessageFileError(f"The message file {origin} is empty; write at least status and headline.")
    if not isinstance(data, dict):
        raise MessageFileError(
            f"The message file {origin} must hold fields such as 'status: Exercise' and "
            f"'headline: ...', not a {_kind(data)}."
        )
    channels = data.get("channels")
    if isinstance(channels, list):
        for name in channels:
            if isinstance(name, str) and name not in channel_names():
                raise MessageFileError(
                    f"The message file {origin} names an unknown channel {name!r} in 'channels'; "
                    f"use {_or_list(channel_names())}."
                )
    try:
        return CrisisMessage.model_validate(data)
    except ValidationError as exc:
        raise MessageFileError(_sentence(origin, exc)) from None


def _parse_yaml(text: str, origin: str) -> Any:
    try:
        return yaml.load(text, Loader=_MessageYamlLoader)  # noqa: S506 (a SafeLoader subclass)
    except _DuplicateKey as dup:
        raise MessageFileError(
            f"The message file {origin} gives the field {dup.key!r} twice (again at line {dup.line}); "
            "keep only one."
        ) from None
    except _NonTextKey as bad:
        raise MessageFileError(
            f"The message file {origin} has a field name that is not text at line {bad.line}; "
            "field names are words such as headline or status."
        ) from None
    except RecursionError:
        raise _too_deep(origin) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "a syntax error"
        raise MessageFileError(
            f"The message file {origin} is not valid YAML: {problem}{where}; check the indentation "
            "and quoting there."
        ) from None
    except yaml.YAMLError as exc:
        raise MessageFileError(f"The message file {origin} is not valid YAML: {exc}.") from None
    except (ValueError, TypeError, AttributeError, OverflowError):  # a tagged value YAML cannot build
        raise MessageFileError(
            f"The message file {origin} holds a tagged value (such as !!binary or !!float) that "
            "cannot be read; remove the tag and write the value as plain text."
        ) from None


def _parse_json(text: str, origin: str) -> Any:
    def refuse_duplicates(pairs: list[tuple[str, Any]]) -> JsonObject:
        out: JsonObject = {}
        for key, value in pairs:
            if key in out:
                raise MessageFileError(
                    f"The message file {origin} gives the field {key!r} twice; keep only one."
                )
            out[key] = value
        return out

    try:
        return json.loads(text, object_pairs_hook=refuse_duplicates)
    except json.JSONDecodeError as exc:
        raise MessageFileError(
            f"The message file {origin} is not valid JSON: {exc.msg.lower()} at line {exc.lineno}, "
            f"column {exc.colno}."
        ) from None
    except RecursionError:
        raise _too_deep(origin) from None
    except ValueError:  # a number with more digits than Python converts
        raise MessageFileError(
            f"The message file {origin} holds a number too long to read; check the file."
        ) from None


def _too_deep(origin: str) -> MessageFileError:
    return MessageFileError(
        f"The message file {origin} nests lists or mappings more than {MAX_NESTING} levels deep; "
        "a message needs only a few levels (see config/examples/)."
    )


def _depth(value: Any, level: int = 0) -> int:
    """How deeply ``value`` nests (stops counting past ``MAX_NESTING``)."""
    if level > MAX_NESTING:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list | tuple):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


_TYPE_WORDS = {
    "string_type": "text",
    "tuple_type": "a list",
    "list_type": "a list",
    "dict_type": "a mapping of fields",
    "model_type": "a mapping of fields",
    "model_attributes_type": "a mapping of fields",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
}


def _sentence(origin: str, exc: ValidationError) -> str:
    """The first validation error as one plain sentence."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    head = f"The message file {origin}"
    if kind == "missing":
        return f"{head} is missing the required field {loc!r}; add it (see config/examples/)."
    if kind == "extra_forbidden":
        return f"{head} has an unknown field {loc!r}{_suggestion(err['loc'])}; remove it or fix its spelling."
    if kind == "enum":
        allowed = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"{head} has {_show(value)} in {loc!r}, which is not allowed; use one of {allowed}."
    if kind.startswith(("datetime", "date")):
        return (
            f"{head} has {_show(value)} in {loc!r}, which is not a date and time; "
            f"write it like {_EXAMPLE_DATE}."
        )
    if kind == "string_too_long":
        length = len(value) if isinstance(value, str) else "more"
        return (
            f"{head} has a {loc!r} that is too long ({length} characters); "
            f"shorten it to at most {ctx.get('max_length')} characters."
        )
    if kind == "string_too_short":
        return f"{head} has an empty {loc!r}; write some text in it."
    if kind == "string_pattern_mismatch" and err["loc"][-1] == "language":
        return f"{head} has {_show(value)} in {loc!r}; use a language code such as en, es or pt-BR."
    if kind in _TYPE_WORDS:
        return f"{head} has {_show(value)} in {loc!r}; it should be {_TYPE_WORDS[kind]}."
    reason = str(err["msg"]).removeprefix("Value error, ")
    if not loc:
        return f"{head} is not consistent: {reason}."
    return f"{head} has an invalid {loc!r}: {reason}."


def _suggestion(loc: tuple[int | str, ...]) -> str:
    known: list[str] = list(CrisisMessage.model_fields)
    if len(loc) == 3 and loc[0] == "translations":
        known = list(MessageText.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _show(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "...'"


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "single line of text"
    return type(value).__name__


def _or_list(items: tuple[str, ...]) -> str:
    return ", ".join(items[:-1]) + " or " + items[-1]
