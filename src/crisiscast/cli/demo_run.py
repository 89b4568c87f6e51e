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
from urllib.parse import urlsplit

from crisiscast.cli.common import command_name, configure_logs, options, stdout_console

if TYPE_CHECKING:
    from aiohttp import web
    from rich.console import Console

    from crisiscast.config import Settings
    from crisiscast.sandbox.runner import Sandbox

__all__ = ["demo_settings", "mqtt_reachable", "run_demo", "to_toml"]

_DEMO_FILES = (
    "audit.db",
    "audit.db-wal",
    "audit.db-shm",
    "banner.json",
    "banner.json.lock",
    "banner-exercise.json",
    "banner-exercise.json.lock",
    "contacts.csv",
    "audit-checkpoints.jsonl",  # belongs to the audit.db deleted with it
)


def _package_text(name: str) -> str:
    return resources.files("crisiscast.cli").joinpath("demo_data", name).read_text(encoding="utf-8")


def _fresh_directory(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in (*_DEMO_FILES, "crisiscast.toml"):
        with contextlib.suppress(FileNotFoundError):
            (directory / name).unlink()
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
    raw["store"]["url"] = f"sqlite:///{directory / 'audit.db'}"
    from crisiscast.cli.audit_evidence import demo_signing

    raw["store"].update(demo_signing(directory))  # the demo's audit is signed (docs/guarantees.md)
    channels = raw["channels"]
    channels["banner"]["path"] = str(directory / "banner.json")
    channels["banner"]["exercise_path"] = str(directory / "banner-exercise.json")
    channels["sms"]["contacts"] = str(directory / "contacts.csv")
    urls = sandbox.urls
    if "x" in urls:
        channels["twitter"]["api_base_url"] = urls["x"]
    if "x_exercise" in urls:
        channels["twitter"]["exercise_api_base_url"] = urls["x_exercise"]
    if "graph" in urls:
        channels["facebook"]["graph_base_url"] = urls["graph"]
    if "twilio" in urls:
        channels["sms"]["api_base_url"] = urls["twilio"]
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


async def mqtt_reachable(url: str, timeout_s: float = 1.0) -> str | None:
    """None when the MQTT broker at ``url`` accepts a TCP connection, else the plain reason."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 1883
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except (OSError, TimeoutError):
        return (
            f"no MQTT broker answers at {host}:{port}; install and start Mosquitto "
            "(e.g. apt-get install mosquitto) to include signage"
        )
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return None


async def _start_banner_server(settings: Settings) -> tuple[web.AppRunner, str]:
    from aiohttp import web

    from crisiscast.server.banner_routes import add_banner_routes

    app = web.Application()
    add_banner_routes(app, settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    port = sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}"


async def run_demo(directory: Path, *, serve: bool) -> bool:
    from crisiscast.cli.dispatching import dispatch_message
    from crisiscast.cli.progress import print_report
    from crisiscast.cli.send import approval_record
    from crisiscast.config import load_settings
    from crisiscast.loader import parse_message
    from crisiscast.sandbox.runner import start_sandbox

    console = stdout_console()
    _fresh_directory(directory)
    # The demo never reads the user's configuration: it starts from the embedded defaults.
    sandbox = await start_sandbox(_embedded_defaults(), missing_ok=True)
    banner_runner: web.AppRunner | None = None
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
        banner_runner, banner_url = await _start_banner_server(settings)
        message = parse_message(
            _package_text("message.yaml"), fmt="yaml", origin="<the built-in demo message>"
        )
        skipped: list[tuple[str, str]] = [
            (_channel_of(role), reason) for role, reason in sandbox.missing.items()
        ]
        mqtt_problem = await mqtt_reachable(settings.channels.mqtt.url)
        if mqtt_problem:
            skipped.append(("mqtt", mqtt_problem))
        skipped_names = {name for name, _ in skipped}
        only = [n for n in ("twitter", "facebook", "sms", "banner", "mqtt") if n not in skipped_names]
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
        _print_where_to_look(console, directory, banner_url, sandbox, serve=serve)
        if serve:
            await _wait_for_interrupt()
        return report.ok and verified
    finally:
        if banner_runner is not None:
            await banner_runner.cleanup()
        await sandbox.stop()


def _channel_of(role: str) -> str:
    return {"x": "twitter", "x_exercise": "twitter", "graph": "facebook", "twilio": "sms"}.get(role, role)


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
    console: Console, directory: Path, banner_url: str, sandbox: Sandbox, *, serve: bool
) -> None:
    config = directory / "crisiscast.toml"
    lines = [
        "",
        "Where to look:",
        f"  banner sample page      {banner_url}/banner/sample?feed=exercise",
        f"  banner feed             {banner_url}/banner-exercise.json",
        f"  banner state file       {directory / 'banner-exercise.json'}",
        f"  audit trail             {command_name()} --config {config} audit list",
        "                          (then audit show ID, audit verify)",
    ]
    if serve:
        lines += [
            *(f"  {'sandbox ' + role:<23} {url}/_sandbox/requests" for role, url in sandbox.urls.items()),
            "The sandbox and the banner server keep running; press Ctrl-C to stop.",
        ]
    else:
        lines.append("The banner URLs work while the demo runs: use crisiscast demo --serve to keep them up.")
    for line in lines:
        console.print(line, markup=False, highlight=False)


async def _wait_for_interrupt() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
