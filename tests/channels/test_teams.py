"""The Microsoft Teams staff channel against the fake Workflows webhooks over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from itertools import count
from typing import Any

import pytest
from pydantic import ValidationError

from crisiscast.channels.base import ChannelUnavailable, RenderContext
from crisiscast.channels.registry import build_channels, spec_for
from crisiscast.channels.teams.channel import TeamsChannel, build
from crisiscast.config import Secrets, Settings
from crisiscast.delivery import Delivery, DeliveryState
from crisiscast.dispatch import Dispatcher
from crisiscast.dispatch.limiter import LimiterRegistry
from crisiscast.errors import Ambiguous, CannotReconcile, Permanent, RateLimited, Transient
from crisiscast.message import CrisisMessage, MessageText, Severity, Status
from crisiscast.sandbox.common import Fault
from crisiscast.sandbox.teams import SANDBOX_WORKFLOW, FakeTeams, sandbox_env, workflow_url
from tests.channels.contract import ErrorCase, assert_classified, run_contract_suite
from tests.channels.crash import APPROVAL, crash_then_resume
from tests.dispatch.recording import RecordingStore

_n = count(1)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTeams]:
    flows = FakeTeams()
    await flows.start()
    yield flows
    await flows.stop()


def settings_for(url: str | None, **teams: object) -> Settings:
    section = {
        "sandbox_url": url,
        "channel_name": "Command / Alerts",
        "exercise_channel_name": "Command / Drills",
        **teams,
    }
    return Settings.model_validate({"channels": {"teams": section}})


def secrets_from(env: dict[str, str]) -> Secrets:
    return Secrets.model_validate({k.removeprefix("CRISISCAST_").lower(): v for k, v in env.items()})


@pytest.fixture
async def channel(fake: FakeTeams) -> AsyncIterator[TeamsChannel]:
    ch = build(settings_for(fake.base_url), secrets_from(sandbox_env()), exercise=False)
    yield ch
    await ch.aclose()


def message(**kw: object) -> CrisisMessage:
    fields: dict[str, object] = {
        "status": Status.ACTUAL,
        "severity": Severity.EXTREME,
        "headline": "Code Pink: infant abduction alert",
        "instruction": "Secure all exits of the maternity wing.",
        "web": "https://intranet.example.org/code-pink",
    }
    return CrisisMessage.model_validate(fields | kw)


def fresh(channel: TeamsChannel) -> Delivery:
    [d] = channel.render(message(headline=f"Notice {next(_n)}"), RenderContext(dispatch_id="d1"))
    return d


# -- build and configuration ----------------------------------------------------------------------
def test_build_refuses_missing_retired_and_foreign_urls_without_echoing_them() -> None:
    """No URL, a retired Office 365 connector URL or any other URL: unavailable, naming the
    variable and what to do, never the URL."""
    with pytest.raises(ChannelUnavailable, match="CRISISCAST_TEAMS_WEBHOOK_URL is not set"):
        build(settings_for(None), secrets_from({}), exercise=False)
    retired = "https://contoso.webhook.office.com/webhookb2/x@y/IncomingWebhook/secretpart123/z"
    with pytest.raises(ChannelUnavailable, match="retired") as info:
        build(settings_for(None), secrets_from({"CRISISCAST_TEAMS_WEBHOOK_URL": retired}), exercise=False)
    assert "secretpart123" not in str(info.value)
    foreign = "https://example.org/workflows/1/triggers/manual/paths/invoke?sig=secretpart456"
    with pytest.raises(ChannelUnavailable, match="not a Teams Workflows webhook URL") as info:
        build(settings_for(None), secrets_from({"CRISISCAST_TEAMS_WEBHOOK_URL": foreign}), exercise=False)
    assert "secretpart456" not in str(info.value)
    with pytest.raises(ChannelUnavailable, match="exercise_channel_name"):
        build(settings_for(None, exercise_channel_name=None), secrets_from(sandbox_env()), exercise=True)


def test_drill_channel_equal_to_the_alert_channel_is_refused_at_load() -> None:
    """'command/alerts' is 'Command / Alerts': the configuration is refused."""
    with pytest.raises(ValidationError, match="exercise_channel_name"):
        settings_for(None, exercise_channel_name="command/alerts")


def test_the_same_webhook_for_drills_is_skipped_when_built() -> None:
    """The drill webhook URL equal to the alert one (only the secrets show it): Teams is skipped."""
    same = workflow_url(*SANDBOX_WORKFLOW)
    env = {"CRISISCAST_TEAMS_WEBHOOK_URL": same, "CRISISCAST_TEAMS_EXERCISE_WEBHOOK_URL": same}
    drill = message(status=Status.EXERCISE, audiences=("exercise",), channels=("teams",))
    channels, skipped = build_channels(settings_for(None), secrets_from(env), drill)
    assert channels == [] and skipped[0][0] == "teams" and "production" in skipped[0][1]
    assert SANDBOX_WORKFLOW[1] not in skipped[0][1]


# -- words ------------------------------------------------------------------------------------------
def test_drill_card_is_unmistakable_and_blue() -> None:
    """A drill: a large bold drill line first, the marker on the headline, an accent (blue) banner."""
    preview: Any = spec_for("teams").preview(message(status=Status.EXERCISE), Settings())
    [panel] = preview.panels()
    assert panel.parts == (
        "EXERCISE EXERCISE EXERCISE — this is a drill, not a real alert\n"
        "EXERCISE EXERCISE EXERCISE Code Pink: infant abduction alert\n"
        "Secure all exits of the maternity wing.\n"
        "Severity: Extreme · Type: Alert\n"
        "[More information] https://intranet.example.org/code-pink",
    )
    size = preview.to_json()["bytes"]
    assert panel.measure == f"Adaptive Card · accent · {size} of 28,000 bytes"


def test_severity_style_and_languages(channel: TeamsChannel) -> None:
    """Actual alerts take the severity's style; each translation follows under its headline."""
    msg = message(severity=Severity.MODERATE, translations={"es": MessageText(headline="Código rosa")})
    [d] = channel.render(msg, RenderContext(dispatch_id="d1"))
    card = d.payload["attachments"][0]["content"]
    [container] = [e for e in card["body"] if e["type"] == "Container"]
    assert container["style"] == "warning" and d.body == "Code Pink: infant abduction alert"
    assert {
        "type": "TextBlock",
        "text": "Código rosa",
        "wrap": True,
        "weight": "Bolder",
        "separator": True,
    } in card["body"]
    assert d.target == "Command / Alerts"


# -- send and errors ----------------------------------------------------------------------------------
async def test_card_is_accepted_with_the_run_id(channel: TeamsChannel, fake: FakeTeams) -> None:
    """One POST of the message to the workflow (sig in the query); the receipt is the run id."""
    d = fresh(channel)
    receipt = await channel.send(d, None)
    [card] = fake.cards
    assert card["workflow"] == SANDBOX_WORKFLOW[0] and receipt.provider_id == card["run_id"]
    assert receipt.status == "accepted" and fake.requests[-1].query["sig"] == SANDBOX_WORKFLOW[1]


def teams_cases() -> list[ErrorCase]:
    return [
        ErrorCase(
            "429",
            RateLimited,
            code="WorkflowTriggerIsThrottled",
            retry_after_s=20,
            fault=Fault(status=429, headers={"Retry-After": "20"}),
        ),
        ErrorCase("503", Transient, code="ServiceUnavailable", fault=Fault(status=503)),
        ErrorCase("502", Ambiguous, code="Http502", fault=Fault(status=502)),
        ErrorCase(
            "drop after accept", Ambiguous, code="disconnected", fault=Fault(drop=True, after_accept=True)
        ),
        ErrorCase("schema", Permanent, code="TriggerInputSchemaMismatch", fault=Fault(status=400)),
        ErrorCase(
            "gone",
            Permanent,
            code="WorkflowNotFound",
            reason_contains="copy the workflow's URL",
            fault=Fault(status=404),
        ),
    ]


@pytest.mark.parametrize("case", teams_cases(), ids=str)
async def test_teams_answers_are_classified(case: ErrorCase, channel: TeamsChannel, fake: FakeTeams) -> None:
    """Each workflow answer maps to its class and code."""
    await assert_classified(channel, fresh(channel), case, fake=fake)


async def test_the_fakes_real_refusals(fake: FakeTeams) -> None:
    """A wrong sig, a turned-off flow, a card not matching the schema, a message too large, a burst."""
    wrong = workflow_url(SANDBOX_WORKFLOW[0], "wrongSig00000000000000")
    ch = build(
        settings_for(fake.base_url), secrets_from({"CRISISCAST_TEAMS_WEBHOOK_URL": wrong}), exercise=False
    )
    await assert_classified(
        ch, fresh(ch), ErrorCase("sig", Permanent, code="DirectApiInvalidAuthorizationSignature", status=401)
    )
    await ch.aclose()
    ch = build(settings_for(fake.base_url), secrets_from(sandbox_env()), exercise=False)
    fake.disabled.add(SANDBOX_WORKFLOW[0])
    await assert_classified(ch, fresh(ch), ErrorCase("off", Permanent, code="WorkflowNotEnabled", status=403))
    fake.disabled.clear()
    bad = Delivery(
        "d1",
        "teams",
        "x",
        1,
        "t",
        payload={"type": "message", "attachments": [{"contentType": "text/plain"}]},
    )
    await assert_classified(
        ch, bad, ErrorCase("schema", Permanent, code="TriggerInputSchemaMismatch", status=400)
    )
    huge = fresh(ch)
    huge.payload["attachments"][0]["content"]["body"].append({"type": "TextBlock", "text": "x" * 30_000})
    await assert_classified(ch, huge, ErrorCase("size", Permanent, code="MessageTooLarge", status=413))
    fake.burst = 1
    await ch.send(fresh(ch), None)
    await assert_classified(ch, fresh(ch), ErrorCase("burst", RateLimited, retry_after_s=1))
    assert len(fake.cards) == 1
    await ch.aclose()


# -- no read-back: at most once --------------------------------------------------------------------------
async def test_reconcile_cannot_and_forbids_a_resend(channel: TeamsChannel) -> None:
    """A run cannot be looked up with the webhook: CannotReconcile, marked never to resend."""
    with pytest.raises(CannotReconcile) as info:
        await channel.reconcile(fresh(channel))
    assert info.value.never_resend is True


async def test_an_ambiguous_card_is_never_resent_even_under_the_resend_policy(
    channel: TeamsChannel, fake: FakeTeams
) -> None:
    """A 502 after the flow took the card, an Actual Extreme alert, in_doubt_policy = resend: one
    request, one card, and the delivery stays in doubt."""
    store = RecordingStore()
    await store.open()
    try:
        fake.faults.scripted.append(Fault(status=502, after_accept=True))
        dispatcher = Dispatcher(
            store,
            limiters=LimiterRegistry(),
            in_doubt_policy="resend",
            backoff_base_s=0.001,
            backoff_cap_s=0.002,
        )
        report = await dispatcher.dispatch(message(), [channel], approval=APPROVAL)
        assert report.channels["teams"].in_doubt == 1 and len(fake.requests) == 1 and len(fake.cards) == 1
        [record] = await store.deliveries(report.dispatch_id)
        assert record.state is DeliveryState.IN_DOUBT
    finally:
        await store.close()


async def test_resume_after_a_crash_never_posts_twice(channel: TeamsChannel, fake: FakeTeams) -> None:
    """Killed after the card left: resume cannot ask, so it holds the delivery in doubt."""
    report, store = await crash_then_resume(channel, message(), accepted=True, policy="resend")
    try:
        assert report.channels["teams"].in_doubt == 1
        assert len(fake.cards) == 1 and len(fake.requests) == 1
    finally:
        await store.close()


# -- the shared contract ------------------------------------------------------------------------------
async def test_contract_suite_with_a_canary_webhook() -> None:
    """Success, every error class, limits, and the webhook URL and its sig in no error or log line."""
    workflow = ("c0ffee00c0ffee00c0ffee00c0ffee00", "canarySig0123456789abcdef")
    flows = FakeTeams(workflows=(workflow,))
    url = await flows.start()
    secret = workflow_url(*workflow)
    ch = build(settings_for(url), secrets_from({"CRISISCAST_TEAMS_WEBHOOK_URL": secret}), exercise=False)
    try:
        await run_contract_suite(
            ch,
            fake=flows,
            make_delivery=lambda: fresh(ch),
            cases=teams_cases(),
            canaries=[secret, workflow[1]],
        )
    finally:
        await ch.aclose()
        await flows.stop()
