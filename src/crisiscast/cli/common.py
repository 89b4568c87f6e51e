"""What every command shares: global options, loading config and secrets, output, errors.

Exit codes (the same for every command):

- 0  everything asked for was done (every delivery delivered, the audit chain verifies);
- 2  bad input or configuration (a message file, the config, a missing secret, the store);
- 3  a delivery failed, or the audit chain does not verify;
- 1  an internal error (a bug): one sentence, and ``--debug`` shows the traceback;
- 130 interrupted (Ctrl-C).

Errors are one plain sentence on stderr, never a traceback (unless ``--debug``). Any secret
value that is set is removed from every error sentence before it is printed.

Only light modules are imported here: ``crisiscast --help`` must start fast, so pydantic,
aiohttp, structlog and the channel SDKs are imported inside the commands that use them.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

import typer

from crisiscast.errors import CrisiscastError, DeliveryError, StoreError, UserError

if TYPE_CHECKING:
    from rich.console import Console

    from crisiscast.config import Secrets, Settings

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_USAGE",
    "Options",
    "confirm_send",
    "fail",
    "handle_exception",
    "load_config",
    "operator_name",
    "options",
    "run_async",
    "stderr_console",
    "stdout_console",
    "template_variables",
]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_FAILED = 3
EXIT_INTERRUPTED = 130
INTERRUPTED_SEND = (
    "Interrupted: deliveries not sent yet stay pending in the audit; "
    "run crisiscast resume to finish the broadcast."
)
"""What a send stopped by Ctrl-C says: nothing it planned is lost, and how to finish it."""

T = TypeVar("T")


@dataclass(slots=True)
class Options:
    """The global options, set by the top-level callback before any command runs."""

    config: Path | None = None
    log_json: bool = False
    log_file: Path | None = None
    log_level: str | None = None
    debug: bool = False
    secret_values: list[str] = field(default_factory=list)


_OPTIONS = Options()


def options() -> Options:
    """The global options of this invocation."""
    return _OPTIONS


def set_options(new: Options) -> None:
    global _OPTIONS  # noqa: PLW0603 (one invocation per process: the CLI's global options)
    _OPTIONS = new


def stdout_console() -> Console:
    """A rich console on stdout (plain text when stdout is not a terminal); a text's own control
    characters are printed as visible escapes (``crisiscast.cli.safe_console``)."""
    from crisiscast.cli.safe_console import SafeConsole

    console = SafeConsole(highlight=False, soft_wrap=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 120  # piped or captured: do not fold ids and reasons at 80 columns
    return console


def stderr_console() -> Console:
    """A rich console on stderr, for errors and progress (control characters escaped)."""
    from crisiscast.cli.safe_console import SafeConsole

    return SafeConsole(stderr=True, highlight=False, soft_wrap=True)


def load_config(*, logs: bool = True) -> tuple[Settings, Secrets]:
    """Load the configuration and the secrets, and set up logging with redaction.

    Raises ``ConfigError`` (one plain sentence) when the file or a secret is wrong.
    """
    from crisiscast.config import load_secrets, load_settings
    from crisiscast.contacts import set_cache_dir

    opts = options()
    secrets = load_secrets()
    opts.secret_values = secrets.all_values()
    settings = load_settings(opts.config)
    cache = settings.store.contacts_cache_dir
    set_cache_dir(settings.resolve(cache) if cache else None)
    if logs:
        configure_logs(opts.secret_values, file_group=settings.store.file_group)
    return settings, secrets


def configure_logs(secret_values: list[str], *, file_group: str | None = None) -> None:
    """Logging as the global options ask: warnings on a terminal by default, JSON on request."""
    from crisiscast.logs import configure_logging

    opts = options()
    level = opts.log_level or ("info" if (opts.log_json or opts.log_file) else "warning")
    try:
        configure_logging(
            json_output=True if opts.log_json else None,
            file=opts.log_file,
            level=level,
            secret_values=secret_values,
            file_group=file_group,
        )
    except OSError as exc:
        raise UserError(
            f"Cannot open the log file {opts.log_file}: {exc.strerror or exc}; choose another --log-file."
        ) from None


def command_name() -> str:
    """How to type crisiscast again in this shell: ``crisiscast`` when it is on PATH, else the
    path it was started by (``.venv/bin/crisiscast`` after ``make demo``)."""
    import shutil

    started = sys.argv[0] if sys.argv else "crisiscast"
    if started.endswith("__main__.py"):
        return "python -m crisiscast"
    on_path = shutil.which("crisiscast")
    if on_path and os.path.realpath(on_path) == os.path.realpath(started):
        return "crisiscast"
    try:
        return os.path.relpath(started)
    except ValueError:
        return started


def confirm_send(question: str) -> str:
    """Ask ``question`` (it names every channel) on stderr; exit 2 with "Nothing was sent" unless
    the answer is yes. Returns how the send was confirmed, for the approval record."""
    try:
        answer = typer.confirm(question, default=False, err=True)
    except typer.Abort:
        answer = False
    if not answer:
        fail("Nothing was sent: the broadcast was not confirmed (answer y, or pass --yes).")
    return "prompt"


def template_variables(items: list[str] | None) -> dict[str, str]:
    """``--var KEY=VALUE`` options as a mapping; exit 2 with an example for a malformed one."""
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"--var {item!r} is not KEY=VALUE; write it like --var location='Building A, floor 3'.")
        out[key.strip()] = value
    return out


def operator_name(shared_console_accounts: tuple[str, ...] = ()) -> str:
    """Who runs the command: the OS account, or ``$CRISISCAST_OPERATOR`` on a shared console
    account (``crisiscast.lifecycle.identity``); recorded as approver."""
    from crisiscast.lifecycle.identity import operator_identity

    return operator_identity(shared_console_accounts)


def run_async(factory: Callable[[], Awaitable[T]]) -> T:
    """Run one coroutine to completion on a fresh event loop (uvloop when installed:
    ``crisiscast.eventloop``)."""
    from crisiscast.eventloop import run

    async def runner() -> T:
        return await factory()

    return run(runner())


def run_sending(factory: Callable[[], Awaitable[T]]) -> T:
    """``run_async`` for a command that sends (``send``, ``resume``): Ctrl-C ends it with
    ``INTERRUPTED_SEND`` and exit 130, since what it planned stays pending for a resume."""
    try:
        return run_async(factory)
    except KeyboardInterrupt:
        fail(INTERRUPTED_SEND, EXIT_INTERRUPTED)


def redact(text: str) -> str:
    """``text`` without any secret value known to this invocation."""
    for value in sorted(options().secret_values, key=len, reverse=True):
        if len(value) >= 4:
            text = text.replace(value, "[REDACTED]")
    return text


def fail(sentence: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print one plain red sentence on stderr and exit with ``code``."""
    stderr_console().print(redact(sentence), style="red", markup=False)
    raise typer.Exit(code)


def stopped_watching(what: str, again: str) -> NoReturn:
    """Ctrl-C on a ``--watch`` view: say that only the view stopped, and exit 0."""
    stderr_console().print(
        f"Stopped watching; this does not stop or change {what}. Look again with {again}.",
        markup=False,
        soft_wrap=True,
    )
    raise typer.Exit(EXIT_OK)


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def handle_exception(exc: BaseException) -> int:
    """Turn an exception that escaped a command into one sentence on stderr and an exit code."""
    leaf = _leaf(exc)
    if options().debug:
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(leaf, KeyboardInterrupt):
        sentence, code = "Interrupted; nothing more was started.", EXIT_INTERRUPTED
    elif isinstance(leaf, UserError):
        sentence, code = str(leaf), EXIT_USAGE
    elif isinstance(leaf, StoreError):
        sentence, code = f"The audit store failed: {leaf}", EXIT_USAGE
    elif isinstance(leaf, DeliveryError):
        sentence, code = f"A delivery failed: {leaf}", EXIT_FAILED
    elif isinstance(leaf, CrisiscastError):
        sentence, code = str(leaf), EXIT_USAGE
    elif isinstance(leaf, OSError):
        where = f" ({leaf.filename})" if leaf.filename else ""
        sentence = f"A system error stopped crisiscast: {leaf.strerror or leaf}{where}."
        code = EXIT_USAGE
    else:
        sentence = (
            f"crisiscast hit an internal error ({type(leaf).__name__}: {leaf}); "
            "run the command again with --debug to see where."
        )
        code = EXIT_INTERNAL
    sentence = sentence.strip()
    if not sentence.endswith((".", "?", "!")):
        sentence += "."
    stderr_console().print(redact(sentence), style="red", markup=False)
    return code
