"""The quality gate's override holds in the console as on the command line and the API: the draft
page shows the findings and an override box; send without a reason is refused (422, one sentence
and the findings, nothing sent); with one, it goes and the audit keeps the reason."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from crisiscast.server.context import CONTEXT
from tests.console.conftest import ALICE_TOKEN, BOB_TOKEN, Site, csrf_of, sign_in

pytestmark = pytest.mark.asyncio


async def _approved(alice: TestClient[Any, Any], bob: TestClient[Any, Any]) -> str:
    """alice's free-text Actual alert (a headline only, no Spanish) approved by bob: its draft id."""
    page = await alice.get("/console/compose")
    resp = await alice.post(
        "/console/compose",
        data={
            "csrf_token": csrf_of(await page.text()),
            "status": "Actual",
            "headline": "Water outage in Building E until 15:00",
            "audience": "all-staff",
            "channel": "sms",
        },
        allow_redirects=False,
    )
    draft_id = resp.headers["Location"].rsplit("/", 1)[1]
    html = await (await bob.get(f"/console/drafts/{draft_id}")).text()
    digest = html.split('data-testid="sha256">')[1].split("<")[0]
    await bob.post(
        f"/console/drafts/{draft_id}/approve", data={"csrf_token": csrf_of(html), "message_sha256": digest}
    )
    return draft_id


async def test_console_send_needs_a_reason_for_a_message_failing_the_gate(site: Site) -> None:
    """The page lists the findings and offers the override box; send without a reason is a 422 page
    with the sentence and the findings and nothing goes; with a reason it goes, recorded."""
    async with TestClient(site.server) as alice, TestClient(site.server) as bob:
        await sign_in(alice, ALICE_TOKEN)
        await sign_in(bob, BOB_TOKEN)
        draft_id = await _approved(alice, bob)
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
