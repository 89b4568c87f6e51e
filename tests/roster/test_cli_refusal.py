"""``crisiscast preview`` counts the people each audience reaches now; ``send`` refuses (exit 2,
one sentence, nothing sent) a roster audience that resolves to nobody."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from crisiscast.cli.demo_run import to_toml
from tests.cli.conftest import Cli, cli  # noqa: F401  (the fixture)
from tests.roster.data import CONTACTS

pytestmark = pytest.mark.asyncio

MESSAGE = """status: Actual
headline: "Code Silver in Building B. Stay away from the lobby."
instruction: Security to the Building B lobby now.
audiences: [{audiences}]
channels: [sms]
"""


def _configure(cli: Cli, schedule: str) -> Path:  # noqa: F811
    cli.contacts.write_text(CONTACTS, encoding="utf-8")
    (cli.tmp_path / "on-call.csv").write_text(schedule, encoding="utf-8")
    raw = tomllib.loads(cli.config.read_text(encoding="utf-8"))
    raw["policy"]["actual_approvers"] = 1  # the operator alone may send an Actual here
    raw["roster"] = {
        "schedule": str(cli.tmp_path / "on-call.csv"),
        "audiences": {"on-call-security": {"on_call": "security"}, "building-b": {"building": "B"}},
    }
    cli.config.write_text(to_toml(raw), encoding="utf-8")
    return cli.tmp_path


def _message(cli: Cli, *audiences: str) -> str:  # noqa: F811
    path = cli.tmp_path / "silver.yaml"
    path.write_text(MESSAGE.format(audiences=", ".join(audiences)), encoding="utf-8")
    return str(path)


def _sms_posts(cli: Cli) -> int:  # noqa: F811
    return sum(1 for r in cli.sandbox.fakes["twilio"].requests if r.method == "POST")


async def test_preview_counts_and_send_refuses_an_empty_roster_audience(cli: Cli) -> None:  # noqa: F811
    _configure(cli, "role,who,from,to\nsecurity,Cy Lee,2020-01-01T00:00+00:00,2020-01-02T00:00+00:00\n")
    file = _message(cli, "building-b", "on-call-security")
    shown = await cli.run("preview", file, "--json")
    assert shown.code == 2, shown.stderr
    data = json.loads(shown.stdout)
    assert data["audiences"] == {"building-b": 3, "on-call-security": 0}
    sent = await cli.run("send", file, "--yes", "--quality-override", "test message")
    assert sent.code == 2
    sentence = " ".join(sent.stderr.split())  # after the send_refused log line, the sentence alone
    assert sentence.endswith(
        "Nothing was sent: the audience 'on-call-security' resolves to nobody right now; check the "
        "roster (crisiscast roster check) or choose another audience."
    )
    assert _sms_posts(cli) == 0


async def test_send_reaches_whoever_is_on_call_now(cli: Cli) -> None:  # noqa: F811
    _configure(cli, "role,who,from,to\nsecurity,Cy Lee,2020-01-01T00:00+00:00,2099-01-01T00:00+00:00\n")
    file = _message(cli, "on-call-security")
    sent = await cli.run("send", file, "--yes", "--json", "--quality-override", "test")
    assert sent.code == 0, sent.stderr
    assert json.loads(sent.stdout)["channels"]["sms"]["delivered"] == 1
    to = [r for r in cli.sandbox.fakes["twilio"].requests if r.method == "POST"]
    assert len(to) == 1 and "5550103" in str(to[0].body)
