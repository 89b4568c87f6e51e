"""preview on the shipped examples; the sandbox command; the demo from a clean directory."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
from pathlib import Path

import pytest

from crisiscast.sandbox.runner import fake_roles
from tests.cli.conftest import CLI_TIMEOUT_S, EXAMPLES, Cli, crisiscast_command

pytestmark = pytest.mark.asyncio


async def test_preview_long_two_language_message_as_json(cli: Cli) -> None:
    """The long English+Spanish example becomes an X thread per language and multi-segment SMS."""
    result = await cli.run("preview", str(EXAMPLES / "long-two-language.yaml"), "--json")
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["message"]["languages"] == ["en", "es"]
    assert data["message"]["exercise"] is False
    x = {r["language"]: r for r in data["channels"]["twitter"]["renderings"]}
    assert set(x) == {"en", "es"}
    assert all(len(r["parts"]) > 1 for r in x.values())
    assert all(w <= 280 for r in x.values() for w in r["weighted_lengths"])
    sms = {r["language"]: r for r in data["channels"]["sms"]["renderings"]}
    assert (sms["en"]["recipients"], sms["es"]["recipients"]) == (1, 1)
    assert sms["es"]["encoding"] == "UCS-2"
    assert all(r["segments"] > 1 for r in sms.values())
    assert data["errors"] == [] and data["contact_problems"] == []
    assert all(fake.requests == [] for fake in cli.sandbox.fakes.values())  # preview sends nothing


async def test_preview_exercise_and_actual_examples_for_people(cli: Cli) -> None:
    """The text preview marks an Exercise on every channel and says where an Actual goes."""
    exercise = await cli.run("preview", str(EXAMPLES / "exercise.yaml"))
    assert exercise.code == 0, exercise.stderr
    assert "exercise targets only" in exercise.stdout
    assert "SMS: 3 recipients, " in exercise.stdout
    panels = exercise.stdout.split("╭─")[1:]  # one per channel and language (no MQTT: disabled)
    assert len(panels) >= 4 and all("EXERCISE EXERCISE EXERCISE" in panel for panel in panels), panels
    fire = await cli.run("preview", str(EXAMPLES / "fire-alert.yaml"))
    assert fire.code == 0, fire.stderr
    assert "PRODUCTION targets" in fire.stdout
    assert "Fire in Building B" in fire.stdout and "EXERCISE" not in fire.stdout


async def _read_until(stream: asyncio.StreamReader, pattern: str) -> str:
    seen = ""
    while not re.search(pattern, seen):
        line = await asyncio.wait_for(stream.readline(), CLI_TIMEOUT_S)
        if not line:
            break
        seen += line.decode("utf-8")
    return seen


def _sandbox_roles(config: Path) -> list[str]:
    """The fakes `crisiscast sandbox` starts for ``config``: every channel's, the drill accounts'
    only where their URL is configured."""
    from crisiscast.config import load_settings
    from crisiscast.sandbox.runner import fake_roles

    settings = load_settings(config)
    return [
        role
        for role, (spec, fake) in fake_roles().items()
        if not fake.exercise or getattr(spec.config(settings), fake.url_field, None)
    ]


async def test_sandbox_command_serves_until_terminated(cli: Cli) -> None:
    """crisiscast sandbox --free-ports prints URLs and exports, serves them, stops on SIGTERM."""
    proc = await asyncio.create_subprocess_exec(
        *crisiscast_command(),
        *("--config", str(cli.config), "sandbox", "--free-ports"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("CRISISCAST_")},
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        text = await _read_until(proc.stdout, r"Request logs: ")
        assert "export CRISISCAST_TWITTER_EXERCISE_ACCESS_TOKEN=" in text
        urls = re.findall(r"((?:http|smtp)://127\.0\.0\.1:\d+)", text)
        assert len(urls) == len(fake_roles())  # every channel's fakes, drill accounts included
        await _read_until(proc.stderr, "press Ctrl-C")
        reader, writer = await asyncio.open_connection("127.0.0.1", int(urls[-1].rsplit(":", 1)[1]))
        writer.write(b"GET /_sandbox/requests HTTP/1.0\r\n\r\n")
        assert (await asyncio.wait_for(reader.readline(), CLI_TIMEOUT_S)).startswith(
            (b"HTTP/1.0 200", b"HTTP/1.1 200")
        )
        writer.close()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), CLI_TIMEOUT_S)
    assert code == 0


async def test_demo_from_a_clean_directory(tmp_path: Path) -> None:
    """crisiscast demo (as make demo runs it) delivers to every channel and verifies the audit.

    MQTT needs Mosquitto on 127.0.0.1:1883; without it the demo reports MQTT as skipped with a
    plain reason and still succeeds.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRISISCAST_")}
    proc = await asyncio.create_subprocess_exec(
        *crisiscast_command(),
        *("demo", "--dir", str(tmp_path / "demo")),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    out_b, err_b = await asyncio.wait_for(proc.communicate(), CLI_TIMEOUT_S)
    out, err = out_b.decode(), err_b.decode()
    assert proc.returncode == 0, out + err
    assert "Everything was delivered." in out
    assert re.search(r"Audit verify: OK, the hash chain holds over \d+ events\.", out)
    assert "/banner/sample?feed=exercise" in out and "/banner-exercise.json" in out
    for channel in ("twitter", "facebook", "sms", "banner"):
        assert re.search(rf"│ {channel}\s+│ OK", out), channel
    assert re.search(r"│ mqtt\s+│ (OK|SKIPPED)", out)
    banner = json.loads((tmp_path / "demo" / "banner-exercise.json").read_text(encoding="utf-8"))
    assert banner["exercise"] is True
    assert (tmp_path / "demo" / "crisiscast.toml").is_file()
    # the demo's audit is signed: a key of its own, checkpoints after the plan and at the end
    checkpoints = (tmp_path / "demo" / "audit-checkpoints.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(checkpoints) >= 2 and (tmp_path / "demo" / "audit-signing.key.pub").is_file()


async def test_preview_names_the_poll_and_every_escalation_step_before_the_question(cli: Cli) -> None:
    """What the commander confirms includes the poll's answers and deadline and each escalation
    step in order (text and JSON); a message without them says nothing of either."""
    example = str(EXAMPLES / "staff-check-escalation.yaml")
    text = await cli.run("preview", example)
    assert text.code == 0, text.stderr
    words = " ".join(text.stdout.split())
    assert "Poll: asks for an answer (1 I am safe, 2 I need help); closes 45 min after sending" in words
    steps = [
        "after 10 min: the SMS again to whoever has not answered",
        "after 20 min: a voice call to whoever has not answered",
        "after 30 min: a text to the supervisor (or the person on call) of whoever has not answered",
    ]
    positions = [words.index(f"Escalation: {step}") for step in steps]
    assert positions == sorted(positions)
    as_json = await cli.run("preview", example, "--json")
    message = json.loads(as_json.stdout)["message"]
    assert message["escalation"] == steps
    assert message["poll"].startswith("asks for an answer (1 I am safe")
    plain = json.loads((await cli.run("preview", str(EXAMPLES / "fire-alert.yaml"), "--json")).stdout)
    assert plain["message"]["poll"] is None and plain["message"]["escalation"] == []
