"""The ``crisiscast`` command line (typer + rich).

One module per command group; each imports its heavy dependencies (pydantic models, aiohttp,
structlog, channel SDKs) inside the command, so ``crisiscast --help`` starts in a blink.
``main()`` is the console script: it turns every error into one plain sentence and an exit
code (see ``crisiscast.cli.common``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from crisiscast import __version__
from crisiscast.cli import (
    audit_cmds,
    contacts_cmd,
    db_cmd,
    demo,
    escalate_cmd,
    lifecycle_cmds,
    preview,
    report_cmd,
    resume_cmd,
    rollcall_cmd,
    roster_cmd,
    sandbox_cmd,
    send,
    serve_cmd,
    status_cmd,
)
from crisiscast.cli.common import Options, handle_exception, set_options
from crisiscast.phases import mark
from crisiscast.stdio import complete_writes

__all__ = ["app", "main"]

app = typer.Typer(
    name="crisiscast",
    help=(
        "Send ONE approved crisis message to X, Facebook, SMS, the website banner and signage at once, "
        "retried and audited.\n\n"
        "Start with: crisiscast preview MESSAGE.yaml, then crisiscast send MESSAGE.yaml. "
        "Try it all safely with: crisiscast demo."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # so help texts can name [sections] of the TOML file literally
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"crisiscast {__version__}")
        raise typer.Exit(0)


@app.callback()
def global_options(
    *,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Configuration file (default: $CRISISCAST_CONFIG, else config/crisiscast.toml, "
            "else the built-in sandbox defaults).",
            show_default=False,
        ),
    ] = None,
    log_json: Annotated[bool, typer.Option("--log-json", help="Log JSON lines to stderr.")] = False,
    log_file: Annotated[
        Path | None,
        typer.Option("--log-file", help="Append JSON log lines to this file.", show_default=False),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option("--log-level", help="debug, info, warning or error (default: warning on a terminal)."),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show a traceback when something goes wrong.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Global options, given before the command: crisiscast --config FILE send MESSAGE.yaml."""
    set_options(
        Options(config=config, log_json=log_json, log_file=log_file, log_level=log_level, debug=debug)
    )


app.command("preview")(preview.preview)
app.command("send")(send.send)
app.command("draft")(lifecycle_cmds.draft)
app.command("approve")(lifecycle_cmds.approve)
app.command("update")(lifecycle_cmds.update)
app.command("cancel")(lifecycle_cmds.cancel)
status_cmd.register(app)
rollcall_cmd.register(app)
app.add_typer(audit_cmds.app, name="audit")
app.add_typer(contacts_cmd.app, name="contacts")
app.add_typer(roster_cmd.app, name="roster")
app.add_typer(escalate_cmd.app, name="escalate")
serve_cmd.register(app)
app.command("sandbox")(sandbox_cmd.sandbox)
app.command("resume")(resume_cmd.resume)
app.add_typer(db_cmd.app, name="db")
app.command("demo")(demo.demo)
app.command("report")(report_cmd.report)


def main() -> None:
    """The console script: run the app; any escaped error becomes one sentence and an exit code."""
    mark("imports")
    # crisiscast uses no pydantic plugin; looking for one reads every installed package's
    # entry points (35-45 ms on the send path). An explicit setting is kept.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    complete_writes()  # a --json document piped to another program arrives whole
    try:
        app(prog_name="crisiscast")
    except SystemExit:
        raise
    except BaseException as exc:  # the one place every error becomes a sentence
        sys.exit(handle_exception(exc))
