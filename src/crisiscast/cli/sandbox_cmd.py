"""``crisiscast sandbox``: run every channel's provider fake (X, Graph API, Twilio …) on 127.0.0.1 for drills.

By default each fake listens on the port of the URL in the configuration (the shipped
configuration already points every provider there), so in another terminal
``crisiscast send ...`` reaches the fakes once the printed variables are exported.
``--free-ports`` picks free ports instead and prints the URLs to put in a configuration.
Runs in the foreground until Ctrl-C (or SIGTERM).
"""

from __future__ import annotations

from typing import Annotated

import typer

from crisiscast.cli.common import load_config

__all__ = ["sandbox"]

def sandbox(
    free_ports: Annotated[
        bool, typer.Option("--free-ports", help="Listen on free ports instead of the configured ones.")
    ] = False,
) -> None:
    """Run the provider sandbox (fake X, Graph API, Twilio) in the foreground for drills."""
    import asyncio
    import contextlib
    import signal

    settings, _ = load_config()

    async def serve() -> None:
        from crisiscast.sandbox.runner import fake_roles, start_sandbox

        running = await start_sandbox(settings, use_configured_ports=not free_ports)
        titles = {role: fake.title or role for role, (_, fake) in fake_roles().items()}
        try:
            for role, url in running.urls.items():
                typer.echo(f"{titles.get(role, role):<28} {url}")
            typer.echo("")
            typer.echo("# Sandbox credentials (not secrets): export these in the shell that runs crisiscast")
            for name, value in sorted(running.env.items()):
                typer.echo(f"export {name}={value}")
            typer.echo("")
            typer.echo("Request logs: GET <url>/_sandbox/requests · faults: POST <url>/_sandbox/faults")
            typer.echo("The sandbox is running; press Ctrl-C to stop it.", err=True)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, stop.set)
            await stop.wait()
        finally:
            await running.stop()
            typer.echo("Sandbox stopped.", err=True)

    asyncio.run(serve())
