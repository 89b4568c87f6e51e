"""Running the real ``crisiscast`` console script against the sandbox fakes started in-process.

Each test gets the fakes (X, Graph API, Twilio) on free ports of 127.0.0.1, a configuration
pointing every channel at them with its files in ``tmp_path`` (MQTT disabled: the MQTT
channel has its own tests against Mosquitto; the demo test includes it when a broker runs),
and a clean environment holding only the sandbox credentials. The script runs as a
subprocess started with asyncio, so the fakes keep serving while it runs.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tomllib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crisiscast.cli.demo_run import _channel_overrides, to_toml
from crisiscast.config import default_config_text, load_settings
from crisiscast.sandbox.runner import Sandbox, start_sandbox
from tests.sandbox_urls import lift_pacing, point_at_sandbox

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "config" / "examples"
CLI_TIMEOUT_S = 60.0

CONTACTS = """\
name,phone,groups,language
Sofia Park,+1 617 555 0126,drill-team,en
Miguel Soto,+1 617 555 0127,drill-team,es
Jordan Lee,+1 617 555 0128,drill-team,en
Avery Chen,+1 617 555 0101,staff,en
Marisol Vega,+1 617 555 0102,staff,es
"""


def crisiscast_command() -> list[str]:
    """The installed console script next to this Python, else ``python -m crisiscast``."""
    script = Path(sys.executable).parent / "crisiscast"
    return [str(script)] if script.exists() else [sys.executable, "-m", "crisiscast"]


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str


class Cli:
    """The console script with a sandbox configuration; ``await cli.run("send", ...)``."""

    def __init__(self, tmp_path: Path, sandbox: Sandbox) -> None:
        self.tmp_path = tmp_path
        self.sandbox = sandbox
        self.config = tmp_path / "crisiscast.toml"
        self.audit_db = tmp_path / "audit.db"
        self.banner_exercise = tmp_path / "banner-exercise.json"
        self.contacts = tmp_path / "contacts.csv"
        self.contacts.write_text(CONTACTS, encoding="utf-8")
        self.write_config()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CRISISCAST_")}
        self.env.update(sandbox.env)
        self.env.pop("COLUMNS", None)

    def write_config(self, **sections: Mapping[str, Any]) -> None:
        """The configuration file: the shipped defaults, the fakes' URLs, files in tmp_path."""
        raw: dict[str, Any] = tomllib.loads(default_config_text())
        raw["store"]["url"] = f"sqlite:///{self.audit_db}"
        channels = raw["channels"]
        for name, files in _channel_overrides(self.tmp_path).items():  # every channel's files here
            channels.setdefault(name, {}).update(files)
        point_at_sandbox(channels, self.sandbox)
        channels["sms"]["contacts"] = str(self.contacts)
        channels["banner"].update(
            path=str(self.tmp_path / "banner.json"), exercise_path=str(self.banner_exercise)
        )
        channels["mqtt"]["enabled"] = False
        # calls have their own tests; here they are off unless a test turns them on
        channels["voice"].update(
            enabled=False,
            contacts=str(self.contacts),
            poll_interval_s=0.01,
        )
        lift_pacing(channels)  # Bluesky's and Mastodon's 1/s would pace every thread
        for name, values in sections.items():
            channels[name].update(values)
        self.config.write_text(to_toml(raw), encoding="utf-8")
        load_settings(self.config)  # the test's own configuration must be valid

    async def run(
        self,
        *args: str,
        stdin: str | None = None,
        env: Mapping[str, str | None] | None = None,
        with_config: bool = True,
    ) -> CliResult:
        """Run ``crisiscast [--config FILE] ARGS``; ``env`` values of None unset a variable."""
        full_env = dict(self.env)
        for name, value in (env or {}).items():
            if value is None:
                full_env.pop(name, None)
            else:
                full_env[name] = value
        prefix = ["--config", str(self.config)] if with_config else []
        proc = await asyncio.create_subprocess_exec(
            *crisiscast_command(),
            *prefix,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=full_env,
            cwd=self.tmp_path,
        )
        try:
            out, err = await asyncio.wait_for(
                proc.communicate(stdin.encode() if stdin is not None else b""), CLI_TIMEOUT_S
            )
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        assert proc.returncode is not None
        return CliResult(proc.returncode, out.decode("utf-8"), err.decode("utf-8"))


@pytest.fixture
async def cli(tmp_path: Path) -> AsyncIterator[Cli]:
    settings = load_settings(ROOT / "config" / "crisiscast.toml")
    sandbox = await start_sandbox(settings)
    try:
        yield Cli(tmp_path, sandbox)
    finally:
        await sandbox.stop()
