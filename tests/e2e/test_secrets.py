"""End to end: canary secrets never leave the process that needs them (S3).

Every secret crisiscast reads — Twilio auth token, Facebook Page tokens, X keys and tokens
(production and drills), webhook secret, API token, database password, MQTT password — is set
to a random canary in the environment of the real ``crisiscast`` console script, run as a
subprocess with JSON logs to stderr and to a file at debug level:

1. a full Exercise broadcast against fakes that accept the canaries (so every secret is
   really used: OAuth signatures, Basic and Bearer auth, the broker login);
2. ``audit show`` (table and JSON), ``audit export`` (JSONL and CSV) and ``status`` on it;
3. a broadcast against fakes that reject them (X 401, Graph 190, Twilio 401/20003).

No canary — nor its first 12 characters, nor the Basic-auth or webhook-secret encodings of
it — may appear in any stdout or stderr, the log file, the SQLite audit files' bytes or the
exported files.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crisiscast.sandbox.graph import EXERCISE_PAGE_ID, SANDBOX_PAGE_ID, FakeGraph, GraphPage
from crisiscast.sandbox.runner import Sandbox
from crisiscast.sandbox.smtp import FakeSmtp
from crisiscast.sandbox.twilio import SANDBOX_CREDENTIALS as TWILIO
from crisiscast.sandbox.twilio import FakeTwilio
from crisiscast.sandbox.x import EXERCISE_SANDBOX_CREDENTIALS, SANDBOX_CREDENTIALS, FakeX, XAccountCredentials
from tests.channels.contract import make_canaries

from .stage import CONFIG_NAME, open_stage

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"
RUN_TIMEOUT_S = 60.0
SECRET_VARIABLES = (
    "CRISISCAST_TWITTER_CONSUMER_KEY",
    "CRISISCAST_TWITTER_CONSUMER_SECRET",
    "CRISISCAST_TWITTER_ACCESS_TOKEN",
    "CRISISCAST_TWITTER_ACCESS_TOKEN_SECRET",
    "CRISISCAST_TWITTER_EXERCISE_CONSUMER_KEY",
    "CRISISCAST_TWITTER_EXERCISE_CONSUMER_SECRET",
    "CRISISCAST_TWITTER_EXERCISE_ACCESS_TOKEN",
    "CRISISCAST_TWITTER_EXERCISE_ACCESS_TOKEN_SECRET",
    "CRISISCAST_FACEBOOK_PAGE_TOKEN",
    "CRISISCAST_FACEBOOK_EXERCISE_PAGE_TOKEN",
    "CRISISCAST_TWILIO_AUTH_TOKEN",
    "CRISISCAST_EMAIL_PASSWORD",
    "CRISISCAST_API_TOKENS",
    "CRISISCAST_DB_PASSWORD",
    "CRISISCAST_MQTT_PASSWORD",
)


@dataclass(frozen=True)
class Run:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str


def canary_env() -> dict[str, str]:
    env = make_canaries(*SECRET_VARIABLES)
    env["CRISISCAST_WEBHOOK_SECRETS"] = "whsec_" + base64.b64encode(make_canaries("w")["w"].encode()).decode()
    return env


def needles(env: dict[str, str]) -> list[str]:
    """Every form in which a secret could leak: the value, its head, and its encodings on the wire."""
    out: list[str] = []
    for value in env.values():
        out += [value, value[:12]]
    out.append(
        base64.b64encode(f"{TWILIO['account_sid']}:{env['CRISISCAST_TWILIO_AUTH_TOKEN']}".encode()).decode()
    )
    webhook_key = env["CRISISCAST_WEBHOOK_SECRETS"].removeprefix("whsec_")
    out += [webhook_key, base64.b64decode(webhook_key).decode()]
    return out


def x_account(env: dict[str, str], prefix: str, like: XAccountCredentials) -> XAccountCredentials:
    return XAccountCredentials(
        consumer_key=env[prefix + "CONSUMER_KEY"],
        consumer_secret=env[prefix + "CONSUMER_SECRET"],
        access_token=env[prefix + "ACCESS_TOKEN"],
        access_token_secret=env[prefix + "ACCESS_TOKEN_SECRET"],
        user_id=like.user_id,
        username=like.username,
    )


async def accepting_sandbox(env: dict[str, str]) -> Sandbox:
    """The fakes, each accepting exactly the canary credentials."""
    fakes: dict[str, Any] = {
        "x": FakeX(credentials=(x_account(env, "CRISISCAST_TWITTER_", SANDBOX_CREDENTIALS),)),
        "x_exercise": FakeX(
            exercise=True,
            credentials=(x_account(env, "CRISISCAST_TWITTER_EXERCISE_", EXERCISE_SANDBOX_CREDENTIALS),),
        ),
        "graph": FakeGraph(
            pages=(
                GraphPage(SANDBOX_PAGE_ID, env["CRISISCAST_FACEBOOK_PAGE_TOKEN"]),
                GraphPage(EXERCISE_PAGE_ID, env["CRISISCAST_FACEBOOK_EXERCISE_PAGE_TOKEN"]),
            )
        ),
        "twilio": FakeTwilio(
            accounts={TWILIO["account_sid"]: env["CRISISCAST_TWILIO_AUTH_TOKEN"]}, status_callbacks=False
        ),
        "smtp": FakeSmtp(password=env["CRISISCAST_EMAIL_PASSWORD"]),
        "twilio-voice": FakeTwilio(accounts={TWILIO["account_sid"]: env["CRISISCAST_TWILIO_AUTH_TOKEN"]}),
    }
    sandbox = Sandbox(env=dict(env))
    try:
        for role, fake in fakes.items():
            sandbox.urls[role] = await fake.start()
            sandbox.fakes[role] = fake
    except BaseException:
        await sandbox.stop()
        raise
    return sandbox


async def crisiscast(directory: Path, env: dict[str, str], *args: str) -> Run:
    """``crisiscast --config DIR/crisiscast.toml --log-json --log-file DIR/log.jsonl ARGS``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CRISISCAST_") and k != "COLUMNS"}

    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "crisiscast", "--config", str(directory / CONFIG_NAME)),
        *("--log-json", "--log-file", str(directory / "log.jsonl"), "--log-level", "debug", *args),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**base, **env},
        cwd=directory,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), RUN_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Run(args, proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))


def assert_clean(needles_: Sequence[str], where: str, text: str) -> None:
    for needle in needles_:
        assert needle not in text, f"a secret leaked into {where} (…{needle[:8]}…)"


def files_in(directory: Path, names: Iterable[str]) -> list[Path]:
    return [p for p in sorted(directory.iterdir()) if any(p.name.startswith(n) for n in names)]


async def test_canary_secrets_appear_in_no_output_log_audit_or_export(tmp_path: Path, mqtt_url: str) -> None:
    """The S3 sweep described in the module docstring, through the real console script."""
    env = canary_env()
    hide = needles(env)
    message = str(EXAMPLES / "exercise.yaml")
    runs: list[tuple[Path, Run]] = []

    ok_dir = tmp_path / "accepted"
    ok_dir.mkdir()
    overrides = {"mqtt": {"username": "crisiscast"}}
    sandbox = await accepting_sandbox(env)
    async with open_stage(ok_dir, mqtt_url, staff=3, drill=4, overrides=overrides, sandbox=sandbox) as stage:
        sent = await crisiscast(ok_dir, env, "send", message, "--yes", "--json")
        runs.append((ok_dir, sent))
        assert sent.code == 0, sent.stdout[-2000:] + sent.stderr[-2000:]
        assert len(stage.twilio.messages()) == 4 and stage.x_exercise.posts, "the canaries were not used"
        dispatch_id = json.loads(sent.stdout)["dispatch_id"]
        readers = (
            ("audit", "show", dispatch_id),
            ("audit", "show", dispatch_id, "--json"),
            ("audit", "export", dispatch_id, "--format", "jsonl", "--out", str(ok_dir / "export.jsonl")),
            ("audit", "export", "--format", "csv", "--out", str(ok_dir / "export.csv")),
            ("status", dispatch_id, "--json"),
        )
        two_at_a_time = asyncio.Semaphore(2)  # read-only commands, side by side on two cores

        async def read(args: tuple[str, ...]) -> Run:
            async with two_at_a_time:
                return await crisiscast(ok_dir, env, *args)

        for run in await asyncio.gather(*(read(args) for args in readers)):
            assert run.code == 0, (run.args, run.stdout[-1000:], run.stderr[-1000:])
            runs.append((ok_dir, run))

    refused_dir = tmp_path / "refused"
    refused_dir.mkdir()
    async with open_stage(refused_dir, mqtt_url, staff=3, drill=4, overrides=overrides) as stage:
        refused = await crisiscast(refused_dir, env, "send", message, "--yes", "--json")
        runs.append((refused_dir, refused))
        assert refused.code == 3, refused.stdout[-2000:] + refused.stderr[-2000:]
        statuses = {
            role: {r.status for r in stage.sandbox.fakes[role].requests if r.method == "POST"}
            for role in ("x_exercise", "graph", "twilio")
        }
        assert statuses == {"x_exercise": {401}, "graph": {400}, "twilio": {401}}, statuses
        assert (
            "190" in refused.stdout + refused.stderr or "token" in (refused.stdout + refused.stderr).lower()
        )
        shown = await crisiscast(refused_dir, env, "audit", "show", json.loads(refused.stdout)["dispatch_id"])
        runs.append((refused_dir, shown))
        assert shown.code == 0, shown.stderr[-1000:]

    for _directory, run in runs:
        assert_clean(hide, f"stdout of {' '.join(run.args)}", run.stdout)
        assert_clean(hide, f"stderr of {' '.join(run.args)}", run.stderr)
    checked = 0
    for directory in (ok_dir, refused_dir):
        for path in files_in(directory, ("log.jsonl", "audit.db", "export.")):
            assert_clean(hide, str(path.name), path.read_bytes().decode("utf-8", errors="replace"))
            checked += 1
        log_lines = (directory / "log.jsonl").read_text().splitlines()
        assert len(log_lines) > 5 and all(json.loads(line) for line in log_lines)
    assert checked == 6  # two audit databases and logs, the JSONL and CSV exports
    print(f"\nS3: {len(runs)} CLI runs, {checked} files, {len(hide)} secret forms: no leak")
