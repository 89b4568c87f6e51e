"""``crisiscast escalate show|run-due|stop`` through the real console script."""

from __future__ import annotations

import json

from tests.cli.conftest import EXAMPLES, Cli


async def test_show_run_due_and_stop_a_drills_escalation(cli: Cli) -> None:
    sent = await cli.run("send", str(EXAMPLES / "staff-check-escalation.yaml"), "--yes", "--json")
    assert sent.code == 0, sent.stderr
    dispatch_id = json.loads(sent.stdout)["dispatch_id"]

    shown = await cli.run("escalate", "show", dispatch_id, "--json")
    assert shown.code == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert [(s["after_min"], s["action"], s["status"]) for s in document["steps"]] == [
        (10, "resend_sms", "waiting"), (20, "call", "waiting"), (30, "notify_supervisor", "waiting")
    ]  # fmt: skip

    rollcall = await cli.run("rollcall", dispatch_id)
    assert "Escalation: 0 of 3 steps done; next: resend sms at" in " ".join(rollcall.stdout.split())

    due = await cli.run("escalate", "run-due", dispatch_id)
    assert due.code == 0 and "No step is due now" in due.stdout

    stopped = await cli.run("escalate", "stop", dispatch_id, "--reason", "everyone is at the assembly point")
    assert stopped.code == 0, stopped.stderr
    assert "3 steps will not run" in stopped.stdout
    shown = await cli.run("escalate", "show", dispatch_id)
    assert "Stopped: everyone is at the assembly point." in shown.stdout
    assert "— stopped" in shown.stdout
    rollcall = await cli.run("rollcall", dispatch_id)
    assert "Escalation stopped after 0 of 3 steps: everyone is at the assembly point." in " ".join(
        rollcall.stdout.split()
    )


async def test_a_dispatch_without_escalation_is_one_sentence(cli: Cli) -> None:
    sent = await cli.run("send", str(EXAMPLES / "exercise.yaml"), "--yes", "--json")
    dispatch_id = json.loads(sent.stdout)["dispatch_id"]
    shown = await cli.run("escalate", "show", dispatch_id)
    assert shown.code == 2
    assert "has no escalation steps; check the id with crisiscast audit list." in " ".join(
        shown.stderr.split()
    )
    assert "Traceback" not in shown.stderr
