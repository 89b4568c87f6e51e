"""The quality gate's override holds in the console as on the command line and the API: the draft
page shows the findings and an override box; send without a reason is refused (422, one sentence
and the findings, nothing sent); with one, it goes and the audit keeps the reason."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from crisiscast.server.context import CONTEXT
from tests.console.conftest import ALICE_TOKEN, BOB_TOKEN, Site, approved_headline_alert, csrf_of, sign_in

pytestmark = pytest.mark.asyncio


async def test_console_send_needs_a_reason_for_a_message_failing_the_gate(site: Site) -> None:
    """The page lists the findings and offers the override box; send without a reason is a 422 page
    with the sentence and the findings and nothing goes; with a reason it goes, recorded."""
    async with TestClient(site.server) as alice, TestClient(site.server) as bob:
        await sign_in(alice, ALICE_TOKEN)
        await sign_in(bob, BOB_TOKEN)
        draft_id = await approved_headline_alert(alice, bob)
        html = await (await alice.get(f"/console/drafts/{draft_id}")).text()
        assert 'data-testid="quality-findings"' in html and "missing_language" in html
        assert 'name="quality_override"' in html

        resp = await alice.post(
            f"/console/drafts/{draft_id}/send", data={"csrf_token": csrf_of(html)}, allow_redirects=False
        )
        page = await resp.text()
        assert resp.status == 422
        assert "Nothing was sent: this Actual message fails the quality gate" in page
        assert "send it anyway with a reason in the override box" in page
        assert 'data-testid="findings"' in page and "missing_language" in page
        assert site.sandbox.fakes["twilio"].messages() == []  # type: ignore[attr-defined]
        record = await site.store.dispatch(draft_id)
        assert record is not None and record.state == "draft"

        resp = await alice.post(
            f"/console/drafts/{draft_id}/send",
            data={"csrf_token": csrf_of(html), "quality_override": "   "},
            allow_redirects=False,
        )
        assert resp.status == 400 and "needs a reason" in await resp.text()

        reason = "the water company gave no Spanish text"
        resp = await alice.post(
            f"/console/drafts/{draft_id}/send",
            data={"csrf_token": csrf_of(html), "quality_override": reason},
            allow_redirects=False,
        )
        assert (resp.status, resp.headers["Location"]) == (303, f"/console/dispatches/{draft_id}")
        await site.app[CONTEXT].runner.wait(draft_id)
        record = await site.store.dispatch(draft_id)
        assert record is not None
        approval = record.summary["approval"]
        assert approval["quality_override"] == reason and approval["via"] == "console"
        assert any("missing_language" in f for f in approval["quality_findings"])
        assert site.sandbox.fakes["twilio"].messages() != []  # type: ignore[attr-defined]
