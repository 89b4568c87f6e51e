"""``crisiscast demo``: a complete Exercise broadcast on this machine, with nothing to set up.

The work is in ``crisiscast.cli.demo_run`` (imported only when the command runs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crisiscast.cli.common import EXIT_FAILED, EXIT_OK, configure_logs, run_async

__all__ = ["demo"]


def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where the demo keeps its audit database, banner files and config.")
    ] = Path("var/demo"),
    serve: Annotated[
        bool, typer.Option("--serve", help="Keep the sandbox and the banner server running until Ctrl-C.")
    ] = False,
) -> None:
    """Send an Exercise to every channel against the built-in sandbox, then verify the audit."""
    from crisiscast.cli.demo_run import run_demo

    configure_logs([])
    ok = run_async(lambda: run_demo(directory.resolve(), serve=serve))
    raise typer.Exit(EXIT_OK if ok else EXIT_FAILED)
