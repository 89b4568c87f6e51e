"""How ``crisiscast demo`` runs: a complete Exercise broadcast on this machine, with nothing to set up.

1. starts the provider sandbox (fake X, Graph API, Twilio) and a banner server on free ports
   of 127.0.0.1;
2. writes a configuration for them under ``var/demo/`` (audit database, banner files,
   contacts), starting fresh each run, and uses the sandbox credentials as secrets;
3. sends the built-in Exercise message to every channel — MQTT signage needs Mosquitto on
   127.0.0.1:1883; when it is not running, MQTT is reported as skipped with the reason;
4. prints the per-channel report, where to look at the banner, and ``audit verify``'s result.

Works from any directory (the message and contacts are inside the package). ``--serve``
keeps the sandbox and the banner server running afterwards, until Ctrl-C.
Exit code: 0 when everything was delivered and the audit verifies, 3 otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crisiscast.cli.common import command_name, configure_logs, options, stdout_console

if TYPE_CHECKING:
    from aiohttp import web
    from rich.console import Console

    from crisiscast.audit.base import AuditStore
    from crisiscast.config import Settings
    from crisiscast.sandbox.runner import Sandbox

__all__ = ["channel_problems", "demo_settings", "run_demo", "to_toml"]

_DEMO_FILES = (
    "audit.db",
    "audit.db-wal",
    "audit.db-shm",
    "contacts.csv",
    "crisiscast.toml",
    "audit-checkpoints.jsonl",  # belongs to the audit.db deleted with it
)


def _package_text(name: str) -> str:
    return resources.files("crisiscast.cli").joinpath("demo_data", name).read_text(encoding="utf-8")


def _channel_overrides(directory: Path) -> dict[str, dict[str, object]]:
    """Each channel's configuration for a run in ``directory`` (``ChannelSpec.sandbox_config``)."""
    from crisiscast.channels.registry import specs

    return {s.name: dict(s.sandbox_config(directory)) for s in specs() if s.sandbox_config is not None}


def _fresh_directory(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    files = [directory / name for name in _DEMO_FILES]
    for values in _channel_overrides(directory).values():
        for value in values.values():
            path = Path(str(value))
            if path.parent == directory:  # a channel's state file of the last run, and its lock
                files += [path, path.with_name(path.name + ".lock")]
    for file in files:
        with contextlib.suppress(FileNotFoundError):
            file.unlink()
    (directory / "contacts.csv").write_text(_package_text("contacts.csv"), encoding="utf-8")


def _embedded_defaults() -> Settings:
    import tomllib

    from crisiscast.config import Settings, default_config_text

    return Settings.model_validate(tomllib.loads(default_config_text()))


def demo_settings(directory: Path, sandbox: Sandbox) -> tuple[Settings, dict[str, Any]]:
    """The demo configuration: the embedded defaults with every provider at the sandbox and
    every file under ``directory``. Returns the settings and the raw TOML data."""
    import tomllib

    from crisiscast.config import Settings, default_config_text

    raw: dict[str, Any] = tomllib.loads(default_config_text())
    from crisiscast.sandbox.runner import fake_roles

    raw["store"]["url"] = f"sqlite:///{directory / 'audit.db'}"
    from crisiscast.cli.audit_evidence import demo_signing

    raw["store"].update(demo_signing(directory))  # the demo's audit is signed (docs/guarantees.md)
    channels: dict[str, dict[str, Any]] = raw.setdefault("channels", {})
    for name, values in _channel_overrides(directory).items():
        channels.setdefault(name, {}).update(values)
    # The sandbox's fakes answer at once on this machine and its Twilio fake does not pace texts
    # (a short code's throughput): forecasting a long code's 1 segment/s and a real provider's
    # latency here would put the forecast far from what the demo shows beside it (0.15 s: a
    # sandbox request with its share of the first connection, measured with `make demo`).
    raw.setdefault("preflight", {}).update(sms_sender="short_code", request_latency_s=0.15)
    roles = fake_roles()
    for role, url in sandbox.urls.items():
        spec, fake = roles[role]
        channels.setdefault(spec.name, {})[fake.url_field] = url
    return Settings.model_validate(raw), raw


def to_toml(data: Mapping[str, Any], prefix: str = "") -> str:
    """A small TOML writer for the demo configuration (tables, strings, numbers, lists)."""
    lines: list[str] = []
    tables: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in data.items():
        name = key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)
        if isinstance(value, Mapping):
            tables.append((f"{prefix}{name}", value))
        else:
            lines.append(f"{name} = {json.dumps(value, ensure_ascii=False)}")
    out = "\n".join(lines) + ("\n" if lines else "")
    for table, values in tables:
        scalars = {k: v for k, v in values.items() if not isinstance(v, Mapping)}
        nested = {k: v for k, v in values.items() if isinstance(v, Mapping)}
        if scalars or not nested:
            out += f"\n[{table}]\n" + to_toml(scalars)
        if nested:
            out += to_toml(nested, prefix=f"{table}.")
    return out


async def channel_problems(settings: Settings, timeout_s: float = 5.0) -> list[tuple[str, str]]:
    """(channel, reason) for each enabled channel whose health check fails (a broker that is
    not running); the demo leaves those out and says why."""
    from crisiscast.channels.registry import specs
    from crisiscast.config import Secrets

    problems: list[tuple[str, str]] = []
    for spec in specs():
        if spec.probe is None or not spec.enabled(settings):
            continue
        probe = spec.probe(spec.config(settings), Secrets())
        try:
            problem = await asyncio.wait_for(probe(), timeout_s)
        except TimeoutError:
            problem = f"its health check did not answer within {timeout_s:g} s"
        if problem:
            problems.append((spec.name, problem))
    return problems


async def _start_route_server(
    settings: Settings, store: AuditStore
) -> tuple[web.AppRunner, str, list[tuple[str, str]]]:
    """Serve every channel's routes (the banner feed and sample page …) on a free port.

    Returns the runner, the server's URL and the links worth showing (what, path)."""
    from aiohttp import web

    from crisiscast.channels.registry import specs
    from crisiscast.channels.spec import RouteDeps
    from crisiscast.config import Secrets

    app = web.Application()
    links: list[tuple[str, str]] = []
    deps = RouteDeps(settings, Secrets(), store, lambda _result: None)
    for spec in specs():
        if spec.routes is not None:
            links += spec.routes(app, deps).links
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    port = sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}", links


async def run_demo(directory: Path, *, serve: bool) -> bool:
    from crisiscast.audit.open import store_from_config
    from crisiscast.channels.registry import names
    from crisiscast.cli.dispatching import dispatch_message
    from crisiscast.cli.progress import print_report
    from crisiscast.cli.send import approval_record
    from crisiscast.config import load_settings
    from crisiscast.loader import parse_message
    from crisiscast.sandbox.runner import fake_roles, start_sandbox

    console = stdout_console()
    _fresh_directory(directory)
    # The demo never reads the user's configuration: it starts from the embedded defaults.
    sandbox = await start_sandbox(_embedded_defaults(), missing_ok=True)
    route_runner: web.AppRunner | None = None
    store: AuditStore | None = None
    try:
        # The sandbox credentials are fake, but they are treated like secrets all the same.
        secret_values = sandbox.secrets().all_values()
        options().secret_values = secret_values
        configure_logs(secret_values)
        _, raw = demo_settings(directory, sandbox)  # validated here, then written and read back
        config_path = directory / "crisiscast.toml"
        config_path.write_text(
            "# Written by crisiscast demo (the sandbox ports change every run).\n" + to_toml(raw)
        )
        settings = load_settings(config_path)
        store = store_from_config(settings.store)
        await store.open()
        route_runner, server_url, links = await _start_route_server(settings, store)
        message = parse_message(
            _package_text("message.yaml"), fmt="yaml", origin="<the built-in demo message>"
        )
        roles = fake_roles()
        skipped = [(roles[role][0].name, reason) for role, reason in sandbox.missing.items()]
        skipped += await channel_problems(settings)
        skipped_names = {name for name, _ in skipped}
        only = [n for n in names() if n not in skipped_names]
        console.print(f"crisiscast demo: sending an Exercise to {', '.join(only)} (sandbox on 127.0.0.1)")
        report, skipped_map = await dispatch_message(
            settings,
            sandbox.secrets(),
            message,
            approval=approval_record(confirmed_with="demo"),
            console=console,
            only=only,
            extra_skipped=skipped,
        )
        print_report(console, report, skipped=skipped_map, config_hint=f"--config {config_path} ")
        verified = await _verify(settings, console)
        _print_where_to_look(console, directory, server_url, links, sandbox, serve=serve)
        if serve:
            await _wait_for_interrupt()
        return report.ok and verified
    finally:
        if route_runner is not None:
            await route_runner.cleanup()
        if store is not None:
            await store.close()
        await sandbox.stop()


async def _verify(settings: Settings, console: Console) -> bool:
    from crisiscast.audit.open import store_from_config

    store = store_from_config(settings.store)
    await store.open()
    try:
        result = await store.verify()
    finally:
        await store.close()
    if result.ok:
        console.print(
            f"Audit verify: OK, the hash chain holds over {result.events_checked} events.", style="green"
        )
    else:
        console.print(f"Audit verify: BROKEN at event {result.first_bad_seq}: {result.problem}", style="red")
    return result.ok


def _print_where_to_look(
    console: Console,
    directory: Path,
    server_url: str,
    links: list[tuple[str, str]],
    sandbox: Sandbox,
    *,
    serve: bool,
) -> None:
    config = directory / "crisiscast.toml"
    shown = [(what, path) for what, path in links if "exercise" in what] or links  # the demo is a drill
    lines = [
        "",
        "Where to look:",
        *(f"  {what.removeprefix('exercise '):<23} {server_url}{path}" for what, path in shown),
        f"  audit trail             {command_name()} --config {config} audit list",
        "                          (then audit show ID, audit verify)",
    ]
    if serve:
        lines += [
            *(f"  {'sandbox ' + role:<23} {url}/_sandbox/requests" for role, url in sandbox.urls.items()),
            "The sandbox and the banner server keep running; press Ctrl-C to stop.",
        ]
    else:
        lines.append("These URLs work while the demo runs: use crisiscast demo --serve to keep them up.")
    for line in lines:
        console.print(line, markup=False, highlight=False)


async def _wait_for_interrupt() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
