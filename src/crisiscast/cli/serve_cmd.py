"""``crisiscast serve``: the HTTP server — webhook intake, status API, receipts, banner feed.

One process runs the intake, the banner feed and the dispatcher. It opens the audit store
from ``[store]``, serves on ``[server] host:port`` (or ``--host``/``--port``) and stops on
Ctrl-C or SIGTERM: it stops taking connections, lets running requests end, gives running
dispatches ``--grace-s`` seconds to finish and leaves the rest resumable in the store.
Beside them runs the escalation timer (``--escalation-tick-s``; ``crisiscast.escalation``).

Register with ``crisiscast.cli.serve_cmd.register(app)``.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Annotated

import typer

from crisiscast.cli.common import load_config, run_async, stderr_console

if TYPE_CHECKING:
    import asyncio

    from crisiscast.config import Secrets, Settings
    from crisiscast.server.connections import ConnectionLimits

__all__ = ["register", "serve", "serve_until"]


def serve(
    *,
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (default: [server] host).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Port to listen on (default: [server] port).")
    ] = None,
    grace_s: Annotated[
        float, typer.Option("--grace-s", help="On shutdown, how long running dispatches may take to finish.")
    ] = 20.0,
    worker_id: Annotated[
        str | None,
        typer.Option(
            "--worker-id",
            help="Run as one of several workers sharing the store (PostgreSQL): deliveries are claimed "
            "with leases. Without it this process resumes every unfinished dispatch at start-up.",
            show_default=False,
        ),
    ] = None,
    lease_s: Annotated[
        float, typer.Option("--lease-s", help="Worker leases: a dead worker's deliveries move on after this.")
    ] = 30.0,
    claim_batch: Annotated[
        int,
        typer.Option("--claim-batch", min=1, help="Workers: deliveries claimed at a time (up to 4 batches)."),
    ] = 500,
    escalation_tick_s: Annotated[
        float,
        typer.Option("--escalation-tick-s", help="How often due escalation steps are looked for (0: never)."),
    ] = 5.0,
) -> None:
    """Run the HTTP server: signed alert intake, dispatch status, Twilio receipts, banner feed."""
    settings, secrets = load_config()
    run_async(
        lambda: serve_until(
            settings,
            secrets,
            host=host,
            port=port,
            grace_s=grace_s,
            worker_id=worker_id,
            lease_s=lease_s,
            claim_batch=claim_batch,
            escalation_tick_s=escalation_tick_s,
        )
    )


async def serve_until(
    settings: Settings,
    secrets: Secrets,
    *,
    host: str | None = None,
    port: int | None = None,
    grace_s: float = 20.0,
    stop: asyncio.Event | None = None,
    ready: asyncio.Future[str] | None = None,
    worker_id: str | None = None,
    lease_s: float = 30.0,
    claim_batch: int = 500,
    escalation_tick_s: float = 5.0,
) -> None:
    """Serve until ``stop`` is set (or SIGINT/SIGTERM); ``ready`` receives the base URL.

    Raises ``ConfigError``/``StoreError`` (one sentence) when the store, a secret or a
    template is wrong, or ``OSError`` when the address is taken.
    """
    import asyncio
    import signal

    from aiohttp import web

    from crisiscast.audit.open import store_from_config
    from crisiscast.dispatch import Dispatcher
    from crisiscast.dispatch.workers import ServeWork
    from crisiscast.escalation.serving import EscalationTimer
    from crisiscast.server.app import build_app
    from crisiscast.server.connections import GuardedSite, install, runner_options

    stop = stop or asyncio.Event()
    store = store_from_config(settings.store)
    await store.open()
    runner: web.AppRunner | None = None
    work: ServeWork | None = None
    escalation: EscalationTimer | None = None
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    try:
        # lease workers send what is planned: a plan is one transaction there
        dispatcher = Dispatcher.configured(store, settings, whole_plans=worker_id is not None)
        work = ServeWork(
            settings,
            secrets,
            dispatcher,
            worker_id=worker_id,
            lease_s=lease_s,
            grace_s=grace_s,
            claim_batch=claim_batch,
        )
        app = build_app(settings, secrets, store, dispatcher, grace_s=grace_s, on_planned=work.on_planned)
        report_skipped_templates(app)
        await work.prepare()  # before the site opens: the start-up resume never takes new intake
        limits = connection_limits(settings)
        guard = install(app, limits)  # read deadlines and a connection cap for slow clients
        runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=min(grace_s, 10.0), **runner_options(limits)
        )
        await runner.setup()
        site = GuardedSite(
            runner, host or settings.server.host, settings.server.port if port is None else port, guard
        )
        await site.start()
        url = _bound_url(runner, host or settings.server.host)
        for sig in signals:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        escalation = EscalationTimer(settings, secrets, dispatcher, work, tick_s=escalation_tick_s)
        await escalation.sweep()  # steps of a stopped escalation are never sent by the resume
        work.start()  # the lease worker, or the start-up resume of unfinished dispatches
        escalation.start()  # due steps from the audit; after the start-up resume
        stderr_console().print(f"crisiscast is serving on {url} (Ctrl-C to stop)", markup=False)
        if ready is not None and not ready.done():
            ready.set_result(url)
        await stop.wait()
        stderr_console().print("Stopping: finishing running dispatches …", markup=False)
    finally:
        for sig in signals:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        if runner is not None:
            await runner.cleanup()
        if escalation is not None:
            await escalation.stop(grace_s)
        if work is not None:
            await work.stop()
        await store.close()


def report_skipped_templates(app: object) -> None:
    """One line on stderr per template file that was skipped; the other templates serve."""
    from aiohttp import web

    from crisiscast.server.context import CONTEXT

    assert isinstance(app, web.Application)
    for skip in app[CONTEXT].catalog.skipped:
        stderr_console().print(f"Skipped a template: {skip.reason}", style="yellow", markup=False)


def connection_limits(settings: Settings) -> ConnectionLimits:
    """The ``[server]`` read deadlines and connection cap."""
    from crisiscast.server.connections import ConnectionLimits

    server = settings.server
    return ConnectionLimits(
        header_timeout_s=server.header_timeout_s,
        body_timeout_s=server.body_timeout_s,
        max_connections=server.max_connections,
        body_max_bytes=server.body_max_bytes,
    )


def _bound_url(runner: object, host: str) -> str:
    from aiohttp import web

    assert isinstance(runner, web.AppRunner)
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return f"http://{host}:{address[1]}"
    return f"http://{host}"


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the CLI."""
    app.command("serve")(serve)
