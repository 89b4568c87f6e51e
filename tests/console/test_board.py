"""The board over real HTTP: its server-sent events, and Update from the board (same rules as the API)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from crisiscast.lifecycle.drafts import load_draft
from crisiscast.server.context import CONTEXT
from tests.console.conftest import ALICE_TOKEN, BOB_TOKEN, Site, approved_headline_alert, csrf_of, sign_in

pytestmark = pytest.mark.asyncio


async def _sent(site: Site, alice: TestClient[Any, Any], bob: TestClient[Any, Any]) -> str:
    """A free-text Actual alert by alice, approved by bob, sent by alice: the dispatch id."""
    draft_id = await approved_headline_alert(alice, bob)
    html = await (await alice.get(f"/console/drafts/{draft_id}")).text()
    # a headline alone fails the quality gate: it goes with a recorded reason (test_quality_override.py)
    resp = await alice.post(
        f"/console/drafts/{draft_id}/send",
        data={"csrf_token": csrf_of(html), "quality_override": "test"},
        allow_redirects=False,
    )
    assert (resp.status, resp.headers["Location"]) == (303, f"/console/dispatches/{draft_id}")
    return draft_id


async def test_board_stream_sends_the_board_then_end(site: Site) -> None:
    """The event stream sends the board's HTML (a data event) and, once settled, an ``end`` event;
    without a session it sends you to sign in."""
    async with (
        TestClient(site.server) as alice,
        TestClient(site.server) as bob,
        TestClient(site.server) as nobody,
    ):
        await sign_in(alice, ALICE_TOKEN)
        await sign_in(bob, BOB_TOKEN)
        dispatch_id = await _sent(site, alice, bob)
        await site.app[CONTEXT].runner.wait(dispatch_id)
        resp = await alice.get(f"/console/dispatches/{dispatch_id}/events")
        assert resp.headers["Content-Type"] == "text/event-stream"
        body = await resp.text()
        assert "data: " in body and 'data-testid="percent">100 %' in body
        assert body.rstrip().endswith("event: end\ndata: settled")
        resp = await nobody.get(f"/console/dispatches/{dispatch_id}/events", allow_redirects=False)
        assert resp.status == 303


async def test_free_text_update_from_the_board_is_held_for_a_second_person(site: Site) -> None:
    """alice's free-text Update from the board becomes a draft (author alice) that needs bob, exactly
    as the API and CLI hold it; its page says so."""
    async with TestClient(site.server) as alice, TestClient(site.server) as bob:
        await sign_in(alice, ALICE_TOKEN)
        await sign_in(bob, BOB_TOKEN)
        dispatch_id = await _sent(site, alice, bob)
        await site.app[CONTEXT].runner.wait(dispatch_id)  # an update follows what was delivered
        board = await (await alice.get(f"/console/dispatches/{dispatch_id}")).text()
        resp = await alice.post(
            f"/console/dispatches/{dispatch_id}/update",
            data={"csrf_token": csrf_of(board), "headline": "Water is back in Building E"},
            allow_redirects=False,
        )
        assert resp.status == 303, await resp.text()
        assert resp.headers["Location"].startswith("/console/drafts/")
        update_id = resp.headers["Location"].rsplit("/", 1)[1]
        draft = await load_draft(site.store, update_id)
        assert draft.author == "alice" and draft.state == "draft"
        assert draft.follow_up is not None and draft.follow_up["of"] == dispatch_id
        page = await (await alice.get(resp.headers["Location"])).text()
        assert "needs 1 more approval from someone other than alice" in page


async def test_the_board_shows_the_roll_call_of_a_message_with_a_poll(site: Site) -> None:
    """A dispatch whose message has a poll shows its answers, the count not answered yet and the
    people reached, on the page and in the live stream."""
    from crisiscast.message import CrisisMessage, Status
    from crisiscast.rollcall.poll import Poll

    poll = Poll.model_validate(
        {
            "answers": [
                {"code": "1", "label": {"en": "I am safe"}},
                {"code": "2", "label": {"en": "I need help"}},
            ],
            "deadline_min": 30,
        }
    )
    message = CrisisMessage(
        status=Status.ACTUAL,
        headline="Fire in Building B: reply if you are safe",
        poll=poll,
        channels=("sms",),
    )
    runner = site.app[CONTEXT].runner
    await runner.start(message, dispatch_id="d-console-poll", approval={"approver": "test"}, source="test")
    await runner.wait("d-console-poll")
    async with TestClient(site.server) as alice:
        await sign_in(alice, ALICE_TOKEN)
        for path in ("/console/dispatches/d-console-poll", "/console/dispatches/d-console-poll/events"):
            html = await (await alice.get(path)).text()
            assert 'data-testid="rollcall"' in html, path
            assert "1 · I am safe</td><td>0</td>" in html and "2 · I need help</td><td>0</td>" in html
            assert "No answer yet</td><td>5</td>" in html
            assert "+16175550101: not_answered" in html
