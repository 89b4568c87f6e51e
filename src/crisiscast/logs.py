"""Logging: structlog set up once per process, with secret redaction as the last word.

Output goes to stderr (or a file, appended to). It is JSON lines when asked for, when writing
to a file, or when stderr is not a terminal; on a terminal it is readable console output.
``dispatch_id``, ``channel`` and ``delivery`` are bound as context variables
(``structlog.contextvars``) and appear on every line logged inside ``bound(...)``.

Redaction: ``SecretRedactor`` replaces every secret value (``Secrets.all_values()``) wherever
it appears in the event dict — in values, nested dicts and lists, exception texts and
tracebacks — and blanks the values of keys that usually carry secrets (``authorization``,
``password``, ``token``…). It runs after tracebacks are formatted and before rendering, so
nothing it has not seen reaches the output. The standard library's ``logging`` (aiohttp,
asyncio) goes through the same processors.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import structlog
import structlog.tracebacks
from pydantic import SecretStr

from crisiscast.private_files import open_private

__all__ = ["REDACTED", "SecretRedactor", "bound", "close_log_file", "configure_logging", "is_secret_key"]

REDACTED = "[REDACTED]"

# Keys whose values are secrets whatever they contain (compared lower-case, "-" as "_").
_SECRET_KEY_PARTS = (
    "authorization",
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "cookie",
    "signature",
    "credential",
    "private_key",
)
# Keys that contain one of the parts above but are not secrets.
_NOT_SECRET_KEYS = frozenset({"token_count", "tokens_used", "signature_valid", "secret_name"})


def is_secret_key(key: str) -> bool:
    """True for keys such as ``Authorization``, ``auth_token``, ``X-Twilio-Signature``."""
    k = key.lower().replace("-", "_")
    if k in _NOT_SECRET_KEYS:
        return False
    return any(part in k for part in _SECRET_KEY_PARTS)


class SecretRedactor:
    """A structlog processor that removes secret values from everything in the event dict.

    ``values`` are the raw secret strings (``Secrets.all_values()``); values shorter than 4
    characters are ignored (they would redact ordinary words). ``SecretStr`` objects are
    always redacted. Objects that are not plain data are turned into their ``str`` when it
    contains a secret, so an exception carrying a token is still caught.
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._pattern: re.Pattern[str] | None = None
        self.set_values(values)

    def set_values(self, values: Iterable[str]) -> None:
        """Replace the secret values to redact."""
        unique = sorted({v for v in values if len(v) >= 4}, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in unique)) if unique else None

    def __call__(self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
        for key in list(event_dict):
            event_dict[key] = self._clean(event_dict[key], key)
        return event_dict

    def redact_text(self, text: str) -> str:
        """``text`` with every secret value replaced by ``[REDACTED]``."""
        return text if self._pattern is None else self._pattern.sub(REDACTED, text)

    def _clean(self, value: Any, key: str | None, depth: int = 0) -> Any:
        if key is not None and is_secret_key(key) and value is not None and value != "":
            return REDACTED
        if isinstance(value, str):
            return self.redact_text(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, SecretStr):
            return REDACTED
        if depth > 8:
            return self.redact_text(str(value))
        if isinstance(value, Mapping):
            return {k: self._clean(v, str(k), depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self._clean(v, None, depth + 1) for v in value]
        if isinstance(value, bytes | bytearray):
            return self.redact_text(bytes(value).decode("utf-8", "replace"))
        if isinstance(value, BaseException):
            return self.redact_text(f"{type(value).__name__}: {value}")
        text = str(value)
        cleaned = self.redact_text(text)
        return value if cleaned == text else cleaned


_redactor = SecretRedactor()
_owned: dict[str, TextIO] = {}  # the log file this module opened (closed on reconfigure)


def configure_logging(
    *,
    json_output: bool | None = None,
    file: str | Path | None = None,
    level: str = "info",
    secret_values: Iterable[str] = (),
    stream: TextIO | None = None,
    file_group: str | None = None,
) -> SecretRedactor:
    """Configure structlog (and the standard ``logging`` root) for this process.

    ``json_output`` None means: JSON unless the output is a terminal. ``file`` appends to that
    file instead of stderr (always JSON); ``stream`` overrides both (tests). Calling it again
    reconfigures. Returns the redactor, so more secret values can be added later.
    A log file that does not exist yet is created ``0600`` (``0640`` for ``file_group``;
    ``crisiscast.private_files``). Raises ``OSError`` when the log file cannot be opened.
    """
    out: TextIO
    if stream is not None:
        out = stream
    elif file is not None:
        path = Path(file)
        path.parent.mkdir(parents=True, exist_ok=True)
        out = open_private(path, "a", file_group, encoding="utf-8", buffering=1)  # 0600 / 0640
    else:
        out = sys.stderr
    previous = _owned.pop("file", None)
    if previous is not None and previous is not out:
        previous.close()
    if stream is None and file is not None:
        _owned["file"] = out

    as_json = json_output if json_output is not None else (file is not None or not _isatty(out))
    _redactor.set_values(secret_values)
    level_no = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any
    if as_json:
        # No locals in tracebacks: they are truncated, and a truncated secret escapes redaction.
        tracebacks = structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        )
        tail: list[Any] = [tracebacks, _redactor]
        renderer = structlog.processors.JSONRenderer(sort_keys=False, default=str)
    else:
        tail = [structlog.processors.format_exc_info, _redactor]
        renderer = structlog.dev.ConsoleRenderer(colors=_isatty(out), exception_formatter=_plain_traceback)

    structlog.configure(
        processors=[*shared, structlog.processors.StackInfoRenderer(), *tail, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level_no),
        logger_factory=structlog.WriteLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )

    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *tail,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_crisiscast", False):
            root.removeHandler(old)
    handler._crisiscast = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(max(level_no, logging.WARNING))
    return _redactor


def close_log_file() -> None:
    """Close the log file ``configure_logging`` opened, if any (logging then goes to stderr)."""
    previous = _owned.pop("file", None)
    if previous is not None:
        configure_logging(stream=sys.stderr)
        previous.close()


def _plain_traceback(sio: TextIO, exc_info: Any) -> None:
    import traceback

    traceback.print_exception(*exc_info, file=sio)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@contextmanager
def bound(**context: Any) -> Iterator[None]:
    """Bind ``dispatch_id`` / ``channel`` / ``delivery`` (or anything) for the enclosed code."""
    with structlog.contextvars.bound_contextvars(**context):
        yield
