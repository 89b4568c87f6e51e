"""GET /v1/dispatches/{id}/progress: the small answer for following a dispatch, and its long-poll."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from crisiscast.delivery import Delivery, Receipt
from crisiscast.errors import Ambiguous
from crisiscast.server.progress import MAX_WAIT_S
from crisiscast.server.progress_hub import COALESCE_S, ProgressHub
from tests.server.helpers import (
    API_TOKEN,
    PERSON_TOKEN,
    Harness,
    MemoryChannel,
    make_secrets,
    person_and_machine_harness,
    start_harness,
    stop_harness,
)

FIRE = {"template": "facility-fire", "variables": {"location": "Building A, floor 3"}, "send": True}


async def _get(h: Harness, path: str, token: str | None = PERSON_TOKEN) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    resp = await h.client.get(path, headers=headers)
    return resp.status, await resp.json()


async def _send(h: Harness, body: dict[str, Any] = FIRE) -> str:
    resp = await h.client.post("/v1/drafts", json=body, headers={"Authorization": f"Bearer {PERSON_TOKEN}"})
    answer = await resp.json()
    assert resp.status in (201, 202), answer
    return str(answer["draft_id"])


async def _until_waiting(hub: ProgressHub, dispatch_id: str, task: asyncio.Task[Any]) -> None:
    """Until the long-poll is parked on the hub (bounded; it may also have answered already)."""
    for _ in range(500_000):  # loop turns, not time: the request crosses a real socket first
        if hub.waited_on(dispatch_id) or task.done():
            return
        await asyncio.sleep(0)
    raise AssertionError("the long-poll never waited")


async def test_progress_follows_a_running_dispatch_to_the_status_documents_counts(tmp_path: Path) -> None:
    """While the sends are held the answer says dispatching with nothing delivered; a long-poll with
    that version is held (parked on the hub) until the sends go, then answers a new version; the
    last answer is finished and its counts are exactly the status document's."""
    async with person_and_machine_harness(tmp_path) as h:
        h.gate.clear()
        dispatch_id = await _send(h)
        path = f"/v1/dispatches/{dispatch_id}/progress"
        status, first = await _get(h, path)
        assert status == 200, first
        assert first["state"] == "dispatching" and first["finished"] is False
        assert first["channels"]["sms"]["planned"] == 2 and first["channels"]["sms"]["delivered"] == 0
        held = asyncio.create_task(_get(h, f"{path}?seen={first['version']}&wait_s={MAX_WAIT_S}"))
        await _until_waiting(h.ctx.runner.changes, dispatch_id, held)
        assert not held.done(), "a long-poll with the current version must wait for a change"
        h.gate.set()
        status, later = await held
        assert status == 200 and later["version"] != first["version"]
        answer = later
        for _ in range(50):  # each answer is a change, so a finished dispatch is a few answers away
            if answer["finished"]:
                break
            _, answer = await _get(h, f"{path}?seen={answer['version']}&wait_s={MAX_WAIT_S}")
        assert answer["finished"] is True and answer["state"] == "delivered"
        _, document = await _get(h, f"/v1/dispatches/{dispatch_id}")
        assert answer["channels"] == document["channels"]
        assert answer["state"] == document["state"]
        _, again = await _get(h, f"{path}?seen={answer['version']}&wait_s={MAX_WAIT_S}")
        assert again == answer, "a finished dispatch is answered at once, unchanged"


class _Unanswered(MemoryChannel):
    """Every text times out after it may have left (in doubt); the provider cannot be asked."""

    async def send(self, delivery: Delivery, previous: Receipt | None) -> Receipt:
        raise Ambiguous("timed out after the request was written", code="timeout")


async def test_a_run_that_ends_with_deliveries_in_doubt_is_over_though_not_finished(tmp_path: Path) -> None:
    """With the in-doubt policy holding them, the run ends and the texts stay in doubt: the answer
    is still dispatching (not finished) but says the run is over, so a follower can stop."""
    secrets = make_secrets(api_tokens=SecretStr(f"dana={PERSON_TOKEN},{API_TOKEN}"))
    h = await start_harness(tmp_path, secrets=secrets, channel_names=("sms",), channel_class=_Unanswered)
    try:
        dispatch_id = await _send(h)
        await h.ctx.runner.wait(dispatch_id)
        _, answer = await _get(h, f"/v1/dispatches/{dispatch_id}/progress")
        assert answer["state"] == "dispatching" and answer["finished"] is False
        assert answer["run_over"] is True
        assert answer["channels"]["sms"]["in_progress"] == 2
        _, held = await _get(h, f"/v1/dispatches/{dispatch_id}/progress?seen={answer['version']}&wait_s=0.05")
        assert held == answer
    finally:
        await stop_harness(h)


async def test_a_draft_waiting_for_approval_is_answered_after_wait_s_unchanged(tmp_path: Path) -> None:
    """A long-poll on a dispatch that does not change comes back with the same version when its
    wait is over (not running here: counted again until then)."""
    async with person_and_machine_harness(tmp_path) as h:
        free_text = {
            "status": "Actual",
            "event": "Water outage",
            "headline": "Water outage in Building C",
            "description": "There is no running water in Building C until further notice.",
            "audiences": ["all-staff"],
        }
        draft_id = await _send(h, {"message": free_text, "send": True})
        path = f"/v1/dispatches/{draft_id}/progress"
        _, first = await _get(h, path)
        assert first["state"] == "awaiting_approval" and first["finished"] is False
        assert first["run_over"] is False
        assert first["channels"] == {}
        status, same = await _get(h, f"{path}?seen={first['version']}&wait_s=0.05")
        assert status == 200 and same == first


async def test_progress_names_no_recipient_and_a_machine_token_reads_it(tmp_path: Path) -> None:
    async with person_and_machine_harness(tmp_path) as h:
        dispatch_id = await _send(h)
        await h.ctx.runner.wait(dispatch_id)
        status, answer = await _get(h, f"/v1/dispatches/{dispatch_id}/progress", token=API_TOKEN)
        assert status == 200
        assert set(answer) == {"dispatch_id", "state", "finished", "run_over", "channels", "version"}
        assert answer["run_over"] is True
        assert "+1555" not in str(answer)


@pytest.mark.parametrize("wait", ["abc", "-1", "26", "nan"])
async def test_bad_wait_is_400_unknown_dispatch_404_no_token_401(tmp_path: Path, wait: str) -> None:
    async with person_and_machine_harness(tmp_path) as h:
        dispatch_id = await _send(h)
        status, answer = await _get(h, f"/v1/dispatches/{dispatch_id}/progress?wait_s={wait}")
        assert status == 400 and answer["error"] == "wait_s must be a number of seconds from 0 to 25."
        status, answer = await _get(h, "/v1/dispatches/no-such-dispatch/progress")
        assert status == 404 and answer["error"] == "There is no dispatch 'no-such-dispatch'; check the id."
        status, _ = await _get(h, f"/v1/dispatches/{dispatch_id}/progress", token=None)
        assert status == 401


async def test_the_hub_wakes_a_waiter_on_change_and_releases_all_on_close() -> None:
    hub = ProgressHub()
    waiter = asyncio.create_task(hub.wait("d-1", 25.0))
    end = asyncio.create_task(hub.wait("d-1", 25.0, end_only=True))
    await asyncio.sleep(0)
    assert hub.waited_on("d-1")
    hub.changed("d-1")
    assert await waiter is True
    assert hub.waited_on("d-1"), "the end waiter still waits"
    assert not end.done(), "a settled delivery is not the end of the run"
    hub.ended("d-1")
    assert await end is True
    assert not hub.waited_on("d-1")
    assert await hub.wait("d-2", 0.0) is False  # nothing changed within the wait
    held = asyncio.create_task(hub.wait("d-3", 25.0))
    await asyncio.sleep(0)
    hub.close()
    assert await held is False
    assert await hub.wait("d-3", 25.0) is False, "a closed hub never holds a request again"


def test_followers_of_a_costly_count_are_answered_less_often() -> None:
    """A follower waits at least 0.2 s, and at least nine times what counting the dispatch cost
    (so following takes a sending process about a tenth of its time at most); the run's end
    forgets the cost."""
    hub = ProgressHub()
    assert hub.pause_s("d-1") == COALESCE_S
    hub.record_cost("d-1", 0.05)
    assert hub.pause_s("d-1") == pytest.approx(0.45)
    hub.record_cost("d-1", 0.001)
    assert hub.pause_s("d-1") == COALESCE_S
    hub.record_cost("d-1", 0.05)
    hub.ended("d-1")
    assert hub.pause_s("d-1") == COALESCE_S
