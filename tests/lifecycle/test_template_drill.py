"""A template drill is one command: ``crisiscast send --template ID --var k=v --status Exercise``.

Through the real console script against the sandbox fakes: the drill carries the exercise
marker and reaches only exercise targets (the test X account, the test Page, the exercise
banner file, the drill contact group); ``--status`` without ``--template`` is refused.
"""

from __future__ import annotations

import json

from tests.cli.conftest import EXAMPLES
from tests.lifecycle.conftest import DRILL_TEAM, Team

MARKER = "EXERCISE EXERCISE EXERCISE"


async def test_send_template_with_status_exercise_is_a_drill(team: Team) -> None:
    """--status Exercise renders the template as an Exercise sent by one person to exercise targets only."""
    sent = await team.run_as(
        "alice",
        "send",
        "--template",
        "facility-fire",
        "--var",
        "location=Building A, floor 3",
        "--status",
        "Exercise",
        "--yes",
        "--json",
    )
    assert sent.code == 0, sent.stderr
    report = json.loads(sent.stdout)
    assert team.posts("x") == []
    page_posts = team.posts("graph")  # one fake Graph serves both Pages
    assert page_posts and all(p["id"].startswith("100000000000999_") for p in page_posts)
    assert all(p["message"].startswith(MARKER) for p in page_posts)
    drill_posts = team.posts("x_exercise")
    assert drill_posts and all(p["text"].startswith(MARKER) for p in drill_posts)
    assert any("Building A, floor 3" in p["text"] for p in drill_posts)
    assert sorted(m["to"] for m in team.texts()) == sorted(DRILL_TEAM)
    assert all(m["body"].startswith(MARKER) for m in team.texts())
    assert not (team.tmp_path / "banner.json").exists()
    banner = json.loads((team.tmp_path / "banner-exercise.json").read_text(encoding="utf-8"))
    assert banner["exercise"] is True
    deliveries = await team.deliveries(report["dispatch_id"])
    assert deliveries and all(d.state == "delivered" for d in deliveries)


async def test_status_without_template_is_refused(team: Team) -> None:
    """--status with a message file is one plain sentence, exit 2, and nothing is sent."""
    sent = await team.run_as("alice", "send", str(EXAMPLES / "exercise.yaml"), "--status", "Actual", "--yes")
    assert sent.code == 2
    assert "--status goes with --template" in sent.stderr and "Traceback" not in sent.stderr
    assert team.posts("x") == [] and team.posts("x_exercise") == [] and team.texts() == []


async def test_unknown_status_is_refused(team: Team) -> None:
    """A misspelt --status names the allowed values and sends nothing."""
    sent = await team.run_as(
        "alice",
        "send",
        "--template",
        "facility-fire",
        "--var",
        "location=Lobby",
        "--status",
        "Drill",
        "--yes",
    )
    assert sent.code == 2
    assert "use Actual, Exercise or Test" in sent.stderr
    assert team.posts("x") == [] and team.posts("x_exercise") == [] and team.texts() == []
