"""An Actual free-text message that fails the quality gate goes only with a reason, kept in the audit."""

from __future__ import annotations

from pathlib import Path

import pytest

from crisiscast.audit.events import EventKind
from tests.cli.test_preview_preflight import write_corpus_message
from tests.lifecycle.conftest import Team

pytestmark = pytest.mark.asyncio


async def test_actual_free_text_failing_the_gate_needs_a_recorded_override(
    team: Team, tmp_path: Path
) -> None:
    """An approved Actual draft that fails the gate is not sent without --quality-override REASON;
    with it, it goes and the audit's approval keeps the reason and the findings it overrode."""
    message = write_corpus_message(tmp_path, "english-only-to-bilingual-staff")
    held = await team.run_as("alice", "send", str(message), "--yes")
    draft_id = held.stdout.strip().removeprefix("Saved as draft ").removesuffix(".")
    assert (await team.run_as("bob", "approve", draft_id)).code == 0
    refused = await team.run_as("alice", "send", draft_id, "--yes")
    assert refused.code == 2
    assert refused.stderr.strip().splitlines()[-1] == (
        "Nothing was sent: this Actual message fails the quality gate ([es] The audience includes 'es' "
        "speakers but the message has no 'es' text; add a translation.) Reword it, or send it anyway with "
        "--quality-override REASON (the reason is recorded in the audit)."
    )
    assert team.texts() == []
    reason = "no translator on shift"
    sent = await team.run_as("alice", "send", draft_id, "--yes", "--json", "--quality-override", reason)
    assert sent.code in (0, 3), sent.stderr
    plan = next(
        e.event.data for e in await team.events(draft_id) if e.event.kind is EventKind.DISPATCH_PLANNED
    )
    assert plan["approval"]["quality_override"] == reason
    assert any("missing_language" in f for f in plan["approval"]["quality_findings"])
