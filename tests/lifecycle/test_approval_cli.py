"""The two-person rule through the real console script: what one person can and cannot send."""

from __future__ import annotations

import json

import pytest

from crisiscast.audit.events import EventKind
from tests.cli.conftest import EXAMPLES
from tests.lifecycle.conftest import STAFF, Team

pytestmark = pytest.mark.asyncio

POLICY = "policy: 2 distinct approvers for Actual free text"


def _provider_posts(team: Team) -> int:
    return sum(
        1
        for role in ("x", "x_exercise", "graph", "twilio")
        for r in team.sandbox.fakes[role].requests
        if r.method == "POST"
    )


async def test_one_person_cannot_send_actual_free_text(team: Team) -> None:
    """S5: alice's Actual free text is held as a draft; she can neither approve nor send it alone.

    Every refusal is one exact sentence (exit 2) and is recorded in the audit; no provider
    receives anything until bob approves; then alice's send reaches the production targets and
    the plan records author, approver and sender.
    """
    held = await team.run_as("alice", "send", str(EXAMPLES / "fire-alert.yaml"), "--yes")
    assert held.code == 2
    draft_id = held.stdout.strip().removeprefix("Saved as draft ").removesuffix(".")
    assert held.stderr.strip() == (
        f"Nothing was sent: Draft {draft_id} needs 1 more approval from someone other than alice "
        f"({POLICY}). Ask them to run crisiscast approve {draft_id}, then run crisiscast send {draft_id}."
    )

    own = await team.run_as("alice", "approve", draft_id)
    assert own.code == 2
    assert own.stderr.strip() == (
        f"alice wrote draft {draft_id} and may not approve their own Actual message; "
        f"ask someone else to run crisiscast approve {draft_id}."
    )
    alone = await team.run_as("alice", "send", draft_id, "--yes")
    assert alone.code == 2
    assert alone.stderr.strip() == (
        f"Draft {draft_id} needs 1 more approval from someone other than alice ({POLICY})."
    )
    assert _provider_posts(team) == 0

    approved = await team.run_as("bob", "approve", draft_id)
    assert approved.code == 0, approved.stderr
    assert approved.stdout.splitlines() == [
        f"bob approved draft {draft_id}.",
        f"Draft {draft_id} is approved by bob ({POLICY}). Send it with: crisiscast send {draft_id}",
    ]
    twice = await team.run_as("bob", "approve", draft_id)  # says so; records nothing new
    assert twice.code == 0, twice.stderr
    assert (
        twice.stdout.splitlines()[0]
        == f"bob had already approved draft {draft_id}; nothing new was recorded."
    )
    sent = await team.run_as("alice", "send", draft_id, "--yes", "--json")
    assert sent.code == 3, sent.stderr  # sent; one staff member opted out of texts
    report = json.loads(sent.stdout)
    assert report["dispatch_id"] == draft_id
    assert [f["target"] for f in report["channels"]["sms"]["failed"]] == [STAFF[2]]
    assert len(team.posts("x")) >= 1 and team.posts("x_exercise") == []
    assert sorted(m["to"] for m in team.texts()) == list(STAFF[:2])  # staff only; one opted out

    again = await team.run_as("carol", "send", draft_id, "--yes")
    assert again.code == 2
    assert again.stderr.strip() == f"Draft {draft_id} was already sent (it is finished); nothing to send."

    events = await team.events(draft_id)
    kinds = [e.event.kind for e in events]
    assert kinds[0] is EventKind.DRAFT_CREATED and events[0].event.data["author"] == "alice"
    refusals = [e.event.data for e in events if e.event.kind is EventKind.APPROVAL_REFUSED]
    assert [(r["who"], r["action"]) for r in refusals] == [
        ("alice", "approve"),
        ("alice", "send"),
    ]
    plan = next(e.event.data for e in events if e.event.kind is EventKind.DISPATCH_PLANNED)
    approval = plan["approval"]
    assert (approval["method"], approval["author"], approval["approvers"], approval["sent_by"]) == (
        "two_person_rule",
        "alice",
        ["bob"],
        "alice",
    )
    assert kinds.index(EventKind.APPROVAL_RECORDED) < kinds.index(EventKind.DISPATCH_PLANNED)
    before_plan = kinds[: kinds.index(EventKind.DISPATCH_PLANNED)]
    assert before_plan.count(EventKind.APPROVAL_RECORDED) == 1  # bob's second approve added none


async def test_one_person_can_send_a_pre_approved_template(team: Team) -> None:
    """S5: a pre-approved template needs nobody beyond the operator; its id, version and hash are audited."""
    sent = await team.run_as(
        "alice",
        "send",
        "--template",
        "facility-fire",
        "--var",
        "location=Building A, floor 3",
        "--yes",
        "--json",
    )
    assert sent.code == 3, sent.stderr  # delivered but for the opted-out number
    report = json.loads(sent.stdout)
    assert any("Building A, floor 3" in p["text"] for p in team.posts("x"))
    plan = next(
        e.event.data
        for e in await team.events(report["dispatch_id"])
        if e.event.kind is EventKind.DISPATCH_PLANNED
    )
    approval = plan["approval"]
    assert approval["method"] == "pre_approved_template" and approval["approvers"] == []
    assert approval["template"]["id"] == "facility-fire" and len(approval["template"]["content_hash"]) == 64


async def test_draft_then_exercise_needs_only_its_author(team: Team) -> None:
    """An Exercise draft (policy: 1 person) may be sent by its author; a template draft says it is ready."""
    drafted = await team.run_as("alice", "draft", str(EXAMPLES / "exercise.yaml"), "--json")
    assert drafted.code == 0, drafted.stderr
    info = json.loads(drafted.stdout)
    assert (info["author"], info["ready"], info["missing"]) == ("alice", True, 0)
    sent = await team.run_as("alice", "send", info["draft_id"], "--yes", "--json")
    assert sent.code == 0, sent.stderr
    assert team.posts("x") == [] and len(team.posts("x_exercise")) >= 1
