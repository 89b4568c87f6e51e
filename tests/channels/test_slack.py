"""The Slack staff channel against the fake incoming webhooks over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from itertools import count
from typing import Any

import pytest
from pydantic import ValidationError

from crisiscast.channels.base import ChannelUnavailable, RenderContext
from crisiscast.channels.registry import build_channels, spec_for
from crisiscast.channels.slack.channel import SlackChannel, build
from crisiscast.config import Secrets, Settings
from crisiscast.delivery import Delivery, DeliveryState
from crisiscast.dispatch import Dispatcher
from crisiscast.dispatch.limiter import LimiterRegistry
from crisiscast.errors import Ambiguous, CannotReconcile, Permanent, RateLimited, Transient
from crisiscast.message import CrisisMessage, MessageText, Severity, Status
from crisiscast.sandbox.common import Fault
from crisiscast.sandbox.slack import SANDBOX_WEBHOOK, FakeSlack, sandbox_env, webhook_url
from tests.channels.contract import ErrorCase, assert_classified, run_contract_suite
from tests.channels.crash import APPROVAL, crash_then_resume
from tests.dispatch.recording import RecordingStore

_n = count(1)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    hooks = FakeSlack()
    await hooks.start()
    yield hooks
    await hooks.stop()


def settings_for(url: str | None, **slack: object) -> Settings:
    section = {
        "sandbox_url": url,
        "channel_name": "#staff-alerts",
        "exercise_channel_name": "#drills",
        **slack,
    }
    return Settings.model_validate({"channels": {"slack": section}})


def secrets_from(env: dict[str, str]) -> Secrets:
    return Secrets.model_validate({k.removeprefix("CRISISCAST_").lower(): v for k, v in env.items()})


@pytest.fixture
async def channel(fake: FakeSlack) -> AsyncIterator[SlackChannel]:
    ch = build(settings_for(fake.base_url), secrets_from(sandbox_env()), exercise=False)
    yield ch
    await ch.aclose()


def message(**kw: object) -> CrisisMessage:
    fields: dict[str, object] = {
        "status": Status.ACTUAL,
        "severity": Severity.SEVERE,
        "headline": "Code Red: fire in Building C, floor 3",
        "instruction": "Staff on C3: evacuate patients to C2 east.",
        "web": "https://intranet.example.org/fire",
    }
    return CrisisMessage.model_validate(fields | kw)


def fresh(channel: SlackChannel) -> Delivery:
    [d] = channel.render(message(headline=f"Notice {next(_n)}"), RenderContext(dispatch_id="d1"))
    return d


# -- build and configuration --------------------------------------------------------------------
def test_build_names_what_is_missing_and_never_echoes_the_url() -> None:
    """No URL, or one that is not a Slack webhook: unavailable naming the variable, not the value."""
    with pytest.raises(ChannelUnavailable, match="CRISISCAST_SLACK_WEBHOOK_URL is not set"):
        build(settings_for(None), secrets_from({}), exercise=False)
    wrong = "https://example.org/services/T1/B1/notslacksecret123"
    with pytest.raises(ChannelUnavailable, match="not a Slack incoming-webhook URL") as info:
        build(settings_for(None), secrets_from({"CRISISCAST_SLACK_WEBHOOK_URL": wrong}), exercise=False)
    assert "notslacksecret123" not in str(info.value)
    with pytest.raises(ChannelUnavailable, match="exercise_channel_name"):
        build(settings_for(None, exercise_channel_name=None), secrets_from(sandbox_env()), exercise=True)


def test_sandbox_url_may_only_name_this_machine() -> None:
    """The sandbox override can never send staff alerts to another host."""
    with pytest.raises(ValidationError, match="sandbox_url may only point at this machine"):
        settings_for("http://hooks.example.org:8706")


def test_drill_channel_equal_to_the_alert_channel_is_refused_at_load() -> None:
    """'#Staff-Alerts' is '#staff-alerts': the configuration is refused."""
    with pytest.raises(ValidationError, match="exercise_channel_name"):
        settings_for(None, exercise_channel_name="Staff-Alerts")


def test_the_same_webhook_for_drills_is_skipped_when_built() -> None:
    """The drill webhook URL equal to the alert one (only the secrets show it): Slack is skipped."""
    same = webhook_url(SANDBOX_WEBHOOK)
    env = {"CRISISCAST_SLACK_WEBHOOK_URL": same, "CRISISCAST_SLACK_EXERCISE_WEBHOOK_URL": same}
    drill = message(status=Status.EXERCISE, audiences=("exercise",), channels=("slack",))
    channels, skipped = build_channels(settings_for(None), secrets_from(env), drill)
    assert channels == [] and skipped[0][0] == "slack" and "production" in skipped[0][1]
    assert same not in skipped[0][1]


# -- words --------------------------------------------------------------------------------------
def test_drill_is_unmistakable_and_blue() -> None:
    """A drill: the notification and header start with the marker, a bold drill line comes first,
    and the bar is blue, never a severity red."""
    preview: Any = spec_for("slack").preview(
        message(status=Status.EXERCISE, severity=Severity.EXTREME), Settings()
    )
    [panel] = preview.panels()
    [shown] = panel.parts
    text, _, blocks = shown.partition("\n\n")
    assert text == "Notification: EXERCISE EXERCISE EXERCISE Code Red: fire in Building C, floor 3"
    assert blocks == (
        "*EXERCISE EXERCISE EXERCISE — this is a drill, not a real alert.*\n"
        "EXERCISE EXERCISE EXERCISE Code Red: fire in Building C, floor 3\n"
        "*Staff on C3: evacuate patients to C2 east.*\n"
        "[More information] https://intranet.example.org/fire\n"
        "Severity: Extreme · Alert · sent by crisiscast"
    )
    assert panel.measure == f"notification + 5 blocks · colour #1E88E5 · {preview.size} bytes of JSON"


def test_severity_colour_escaping_and_languages(channel: SlackChannel) -> None:
    """Actual alerts take the severity colour; words cannot ping @channel or forge a link;
    a translation is a section of its own."""
    msg = message(
        instruction="Tell <!channel> & <https://evil.example|click>",
        translations={"es": MessageText(headline="Código rojo", instruction="Evacúen a C2 este.")},
    )
    [d] = channel.render(msg, RenderContext(dispatch_id="d1"))
    [attachment] = d.payload["attachments"]
    assert attachment["color"] == "#E53935"
    sections = [b["text"]["text"] for b in attachment["blocks"] if b["type"] == "section"]
    assert sections[0] == "*Tell &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;*"
    assert sections[1] == "*Código rojo*\nEvacúen a C2 este."
    assert d.target == "#staff-alerts" and "hooks.slack.com" not in json.dumps(d.payload)


# -- send and errors ------------------------------------------------------------------------------
async def test_post_is_accepted_and_recorded_as_such(channel: SlackChannel, fake: FakeSlack) -> None:
    """One POST of text + attachments to the webhook path; the receipt says accepted."""
    d = fresh(channel)
    receipt = await channel.send(d, None)
    [sent] = fake.messages
    assert sent["webhook"] == SANDBOX_WEBHOOK and sent["text"] == d.body
    assert (receipt.status, receipt.provider_id) == (
        "accepted",
        fake.requests[-1].status and "sandbox-000001",
    )


def slack_cases() -> list[ErrorCase]:
    return [
        ErrorCase(
            "429",
            RateLimited,
            code="rate_limited",
            retry_after_s=30,
            fault=Fault(status=429, headers={"Retry-After": "30"}),
        ),
        ErrorCase("503", Transient, code="http_503", fault=Fault(status=503, body="Service Unavailable")),
        ErrorCase("500 rollup_error", Ambiguous, code="rollup_error", fault=Fault(status=500)),
        ErrorCase(
            "drop after accept", Ambiguous, code="disconnected", fault=Fault(drop=True, after_accept=True)
        ),
        ErrorCase(
            "invalid_blocks", Permanent, code="invalid_blocks", fault=Fault(status=400, body="invalid_blocks")
        ),
        ErrorCase(
            "no_service",
            Permanent,
            code="no_service",
            reason_contains="create a new incoming webhook",
            fault=Fault(status=404),
        ),
    ]


@pytest.mark.parametrize("case", slack_cases(), ids=str)
async def test_slack_answers_are_classified(case: ErrorCase, channel: SlackChannel, fake: FakeSlack) -> None:
    """Each Slack answer maps to its class and code."""
    await assert_classified(channel, fresh(channel), case, fake=fake)


async def test_the_fakes_real_refusals(channel: SlackChannel, fake: FakeSlack) -> None:
    """Unknown, revoked, archived webhooks; a header over 150 characters; a burst over the limit."""
    d = fresh(channel)
    fake.revoked.add(SANDBOX_WEBHOOK)
    await assert_classified(channel, d, ErrorCase("revoked", Permanent, code="invalid_token", status=403))
    fake.revoked.clear()
    fake.archived.add(SANDBOX_WEBHOOK)
    await assert_classified(
        channel, d, ErrorCase("archived", Permanent, code="channel_is_archived", status=410)
    )
    fake.archived.clear()
    bad = Delivery(
        "d1",
        "slack",
        "#x",
        1,
        "t",
        payload={
            "attachments": [
                {"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]}
            ]
        },
    )
    await assert_classified(
        channel, bad, ErrorCase("long header", Permanent, code="invalid_blocks", status=400)
    )
    fake.webhooks.discard(SANDBOX_WEBHOOK)
    await assert_classified(channel, d, ErrorCase("gone", Permanent, code="no_service", status=404))
    fake.webhooks.add(SANDBOX_WEBHOOK)
    fake.burst = 1
    await channel.send(fresh(channel), None)
    await assert_classified(
        channel, fresh(channel), ErrorCase("burst", RateLimited, code="rate_limited", retry_after_s=1)
    )
    assert fake.messages == [fake.messages[0]]


# -- no read-back: at most once ----------------------------------------------------------------------
async def test_reconcile_cannot_and_forbids_a_resend(channel: SlackChannel) -> None:
    """There is nothing to read back: CannotReconcile, marked never to resend."""
    with pytest.raises(CannotReconcile) as info:
        await channel.reconcile(fresh(channel))
    assert info.value.never_resend is True


async def test_an_ambiguous_post_is_never_resent_even_under_the_resend_policy(
    channel: SlackChannel, fake: FakeSlack
) -> None:
    """Timeout after Slack took it, an Actual Extreme alert, in_doubt_policy = resend: still one
    request, one message, and the delivery stays in doubt."""
    store = RecordingStore()
    await store.open()
    try:
        fake.faults.scripted.append(Fault(drop=True, after_accept=True))
        dispatcher = Dispatcher(
            store,
            limiters=LimiterRegistry(),
            in_doubt_policy="resend",
            backoff_base_s=0.001,
            backoff_cap_s=0.002,
        )
        report = await dispatcher.dispatch(message(severity=Severity.EXTREME), [channel], approval=APPROVAL)
        assert report.channels["slack"].in_doubt == 1 and len(fake.requests) == 1 and len(fake.messages) == 1
        [record] = await store.deliveries(report.dispatch_id)
        assert record.state is DeliveryState.IN_DOUBT
    finally:
        await store.close()


async def test_resume_after_a_crash_never_posts_twice(channel: SlackChannel, fake: FakeSlack) -> None:
    """Killed after the post left: resume cannot ask Slack, so it holds the delivery in doubt."""
    report, store = await crash_then_resume(
        channel, message(severity=Severity.EXTREME), accepted=True, policy="resend"
    )
    try:
        assert report.channels["slack"].in_doubt == 1
        assert len(fake.messages) == 1 and len(fake.requests) == 1
    finally:
        await store.close()


# -- the shared contract --------------------------------------------------------------------------
async def test_contract_suite_with_a_canary_webhook() -> None:
    """Success, every error class, limits, and the webhook URL (the secret) in no error or log line."""
    secret_path = "/services/TCANARY01/BCANARY01/canary0123456789abcdef"
    hooks = FakeSlack(webhooks=(secret_path,))
    url = await hooks.start()
    secret = webhook_url(secret_path)
    ch = build(settings_for(url), secrets_from({"CRISISCAST_SLACK_WEBHOOK_URL": secret}), exercise=False)
    try:
        await run_contract_suite(
            ch,
            fake=hooks,
            make_delivery=lambda: fresh(ch),
            cases=slack_cases(),
            canaries=[secret, "canary0123456789abcdef"],
        )
    finally:
        await ch.aclose()
        await hooks.stop()
