"""The quality gate's override holds over HTTP as on the command line: an approved Actual free-text
draft that fails the gate is refused (422, one sentence and the findings, nothing sent) until the
sender gives a reason, which the audit's approval record then keeps with the findings it overrode."""

from __future__ import annotations

import pytest

from tests.lifecycle.test_api import FREE_TEXT, Api, _alert, api  # noqa: F401  (api: the fixture)

pytestmark = pytest.mark.asyncio


async def _approved_update(api: Api) -> tuple[str, int]:  # noqa: F811
    """A free-text Update by alice approved by bob: (draft id, texts sent so far)."""
    d1 = await _alert(api)
    texted = len(api.texted())
    status, held = await api.post(f"/v1/dispatches/{d1}/update", {"message": FREE_TEXT}, as_="alice")
    assert status == 202 and held["state"] == "awaiting_approval"
    status, _ = await api.post(f"/v1/drafts/{held['dispatch_id']}/approvals", {}, as_="bob")
    assert status == 200
    return held["dispatch_id"], texted


async def test_send_without_a_reason_is_refused_with_the_findings(api: Api) -> None:  # noqa: F811
    """422: the sentence names the first error and how to give a reason; the findings are the gate's;
    nothing is planned or texted; a blank or non-text reason is 400."""
    draft, texted = await _approved_update(api)
    status, refused = await api.post(f"/v1/drafts/{draft}/send", {}, as_="alice")
    assert status == 422
    assert refused["error"].startswith("Nothing was sent: this Actual message fails the quality gate ([en] ")
    assert refused["error"].endswith(
        'send it anyway with "quality_override": REASON in the body (the reason is recorded in the audit).'
    )
    errors = [f for f in refused["findings"] if f["level"] == "error"]
    assert {"check": "missing_language", "language": "es"} in [
        {"check": f["check"], "language": f["language"]} for f in errors
    ]
    for bad, sentence in (
        ("   ", '"quality_override" needs a reason, for example "no time to reword".'),
        (5, '"quality_override" must be the reason, in words, for sending despite the findings.'),
    ):
        assert await api.post(f"/v1/drafts/{draft}/send", {"quality_override": bad}, as_="alice") == (
            400,
            {"error": sentence},
        )
    assert len(api.texted()) == texted
    kinds = [e.event.kind.value async for e in api.store.events(draft)]
    assert "dispatch_planned" not in kinds
    record = await api.store.dispatch(draft)
    assert record is not None and record.state == "draft"


async def test_send_with_a_reason_goes_and_the_audit_keeps_it(api: Api) -> None:  # noqa: F811
    """202 with a reason; the plan's approval record has the reason and the findings it overrode."""
    draft, texted = await _approved_update(api)
    reason = "no translator on shift"
    status, sent = await api.post(f"/v1/drafts/{draft}/send", {"quality_override": reason}, as_="alice")
    assert status == 202 and sent["state"] == "dispatching"
    await api.finished(draft)
    assert len(api.texted()) > texted
    record = await api.store.dispatch(draft)
    assert record is not None
    approval = record.summary["approval"]
    assert approval["quality_override"] == reason and approval["via"] == "api"
    assert any("missing_language" in f for f in approval["quality_findings"])
