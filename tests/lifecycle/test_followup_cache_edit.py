"""A follow-up goes where the audit EVENTS say the alert arrived, whatever the caches say.

The ``deliveries``/``dispatches`` tables are caches outside the hash chain; someone with
database access edits them (a number that was never in the contacts, a forged headline),
then an operator sends the all-clear. Nobody but the numbers the events show is texted, the
forged headline is not used, and ``audit verify`` names the edited cache.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.lifecycle.conftest import STAFF, Team

pytestmark = pytest.mark.asyncio

FORGED = "+16175550777"  # never in the contacts


async def test_all_clear_after_a_cache_edit_goes_only_to_recipients_the_events_show(team: Team) -> None:
    """UPDATE deliveries SET target=… and a forged headline in dispatches: audit show and the
    all-clear use what the events say (only the originally reached numbers are texted, never the
    forged one), and verify exits 3 naming the edited target."""
    alert = await team.run_as(
        "alice", "send", "--template", "facility-fire", "--var", "location=Building A", "--yes", "--json"
    )
    assert alert.code == 3, alert.stderr  # one staff member opted out of texts
    d1 = json.loads(alert.stdout)["dispatch_id"]
    assert (await team.run_as("alice", "audit", "verify")).code == 0
    with sqlite3.connect(team.audit_db) as db:
        db.execute(
            "UPDATE deliveries SET target = ? WHERE dispatch_id = ? AND channel = 'sms' AND target = ?",
            (FORGED, d1, STAFF[0]),
        )
        db.execute(
            "UPDATE dispatches SET message = json_set(message, '$.headline', 'FORGED HEADLINE') "
            "WHERE dispatch_id = ?",
            (d1,),
        )
    shown = json.loads((await team.run_as("alice", "audit", "show", d1, "--json")).stdout)
    assert FORGED not in {d["target"] for d in shown["deliveries"]}  # audit show reads the events too
    assert "FORGED" not in shown["message"]["headline"]
    before = len(team.texts())
    cancel = await team.run_as("carol", "cancel", d1, "--yes", "--json")
    assert cancel.code == 0, cancel.stderr
    texted = sorted(m["to"] for m in team.texts()[before:])
    assert texted == sorted(STAFF[:2])
    assert FORGED not in texted
    assert all("FORGED" not in m["body"] for m in team.texts()[before:])

    verify = await team.run_as("alice", "audit", "verify")
    assert verify.code == 3
    assert "the target in the cache (+16175550777) is not what the events say" in verify.stderr
    assert "FORGED HEADLINE" in verify.stderr  # the dispatch's message differs too
