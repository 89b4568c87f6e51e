"""POST /v1/alerts with hostile or careless bodies: each is refused with 422 and nothing is sent."""

from __future__ import annotations

from tests.server.helpers import Harness


async def test_duplicate_keys_in_a_json_body_are_422(harness: Harness) -> None:
    """A key given twice (top level or nested) is refused with 422 naming it, instead of the last
    one silently winning (an Exercise that turns Actual); nothing is sent or bound."""
    bodies = [
        '{"template": "facility-fire", "status": "Exercise", "variables": {"location": "A"},'
        ' "status": "Actual"}',
        '{"template": "facility-fire", "status": "Exercise",'
        ' "variables": {"location": "Building A", "location": "Building B"}}',
        '{"message": {"status": "Exercise", "headline": "Drill", "status": "Actual"}}',
    ]
    for n, body in enumerate(bodies):
        status, answer = await harness.post_alert(body, f"msg_dup_{n}")
        assert status == 422, answer
        assert "twice" in answer["error"], answer
    assert harness.sends() == []
    assert harness.built == []
    # The rejected id is not bound: the corrected alert with the same id is accepted.
    fixed = '{"template": "facility-fire", "status": "Exercise", "variables": {"location": "A"}}'
    status, answer = await harness.post_alert(fixed, "msg_dup_0")
    assert status == 202 and answer["state"] == "dispatching"
