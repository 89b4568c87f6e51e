"""The Mastodon channel against the fake instance over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest

from crisiscast.adapt.preview import preview_message
from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.audit.open import open_store
from crisiscast.channels.base import ChannelUnavailable, RenderContext
from crisiscast.channels.mastodon import SPEC
from crisiscast.channels.mastodon.channel import (
    MastodonChannel,
    build,
    idempotency_key,
    mastodon_retry_after_s,
    status_text,
)
from crisiscast.channels.mastodon.text import status_length
from crisiscast.channels.registry import build_channels
from crisiscast.config import Secrets, Settings, load_settings
from crisiscast.delivery import Delivery, DeliveryState
from crisiscast.dispatch import Dispatcher
from crisiscast.dispatch.limiter import LimiterRegistry
from crisiscast.errors import Ambiguous, CannotReconcile, ConfigError, Permanent, RateLimited, Transient
from crisiscast.lifecycle.followup import follow_up_target, lineage_reach
from crisiscast.message import CrisisMessage, MsgType, Status
from crisiscast.sandbox.common import Fault
from crisiscast.sandbox.mastodon import (
    EXERCISE_ACCOUNT,
    SANDBOX_ACCOUNT,
    FakeMastodon,
    MastodonAccount,
    rate_limited_fault,
    render_content,
    sandbox_env,
)
from tests.channels.contract import (
    ErrorCase,
    assert_classified,
    assert_delivers,
    make_canaries,
    run_contract_suite,
)

_texts = count(1)
APPROVAL = {"approver": "alice", "method": "cli-confirm"}
LONG_DESCRIPTION = " ".join(
    f"Sentence {i} explains which entrance, which car park and which clinic is affected today."
    for i in range(1, 9)
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeMastodon]:
    f = FakeMastodon()
    await f.start()
    yield f
    await f.stop()


def settings_for(url: str, **mastodon: object) -> Settings:
    accounts = {
        "account": "@hospital@mastodon.example",
        "exercise_account": "@hospital_drills@mastodon.example",
    }
    return Settings.model_validate({"channels": {"mastodon": {"instance_url": url, **accounts, **mastodon}}})


def secrets_from(env: dict[str, str]) -> Secrets:
    return Secrets.model_validate({k.removeprefix("CRISISCAST_").lower(): v for k, v in env.items()})


@pytest.fixture
async def channel(fake: FakeMastodon) -> AsyncIterator[MastodonChannel]:
    ch = build(settings_for(fake.base_url), secrets_from(sandbox_env()), exercise=False)
    await ch.start()
    yield ch
    await ch.aclose()


def status(text: str | None = None, *, key: str | None = None, **payload: object) -> Delivery:
    n = next(_texts)
    return Delivery(
        dispatch_id=key or f"d{n}",
        channel="mastodon",
        target="en",
        part=1,
        body=text or f"Water outage in building C (notice {n}). Use bottled water.",
        language="en",
        payload=payload,
    )


def message(**kw: object) -> CrisisMessage:
    fields: dict[str, object] = {
        "status": Status.ACTUAL,
        "headline": "Power failure in the main building",
        "instruction": "Avoid the lifts; use the stairs.",
        "web": "https://example.org/status",
    }
    return CrisisMessage.model_validate(fields | kw)


# -- text ----------------------------------------------------------------------------------
def test_length_counts_graphemes_links_as_23_and_remote_mentions_as_local() -> None:
    """Mastodon's count: a flag or accented letter is one, any link 23, @user@host as @user."""
    assert status_length("é👩‍⚕️🇪🇸") == 3
    assert status_length("see https://example.org/" + "a" * 200 + ".") == len("see ") + 23 + 1
    assert status_length("cc @press@news.example") == len("cc @press")


# -- build and isolation -------------------------------------------------------------------
def test_build_names_the_missing_token() -> None:
    """No token: the channel is unavailable, naming the variable to set."""
    with pytest.raises(ChannelUnavailable, match="CRISISCAST_MASTODON_ACCESS_TOKEN"):
        build(settings_for("http://127.0.0.1:9"), secrets_from({}), exercise=False)


def test_build_for_an_exercise_needs_the_drill_account_and_its_token() -> None:
    """An Exercise posts from the drill account with its own token, or not at all."""
    ch = build(settings_for("http://127.0.0.1:9"), secrets_from(sandbox_env()), exercise=True)
    assert ch.account == "mastodon:@hospital_drills@mastodon.example"
    only_production = {"CRISISCAST_MASTODON_ACCESS_TOKEN": SANDBOX_ACCOUNT.token}
    with pytest.raises(ChannelUnavailable, match="CRISISCAST_MASTODON_EXERCISE_ACCESS_TOKEN"):
        build(settings_for("http://127.0.0.1:9"), secrets_from(only_production), exercise=True)
    with pytest.raises(ChannelUnavailable, match="exercise_account"):
        build(
            settings_for("http://127.0.0.1:9", exercise_account=None),
            secrets_from(sandbox_env()),
            exercise=True,
        )
    with pytest.raises(ChannelUnavailable, match="disabled"):
        build(settings_for("http://127.0.0.1:9", enabled=False), secrets_from(sandbox_env()), exercise=False)


def test_a_drill_account_equal_to_production_is_refused_at_load(tmp_path: Path) -> None:
    """The configuration naming the hospital's own account for drills (spelt differently) does not load."""
    config = tmp_path / "crisiscast.toml"
    config.write_text(
        '[channels.mastodon]\ninstance_url = "https://mastodon.example"\n'
        'account = "@Hospital@mastodon.example"\n'
        'exercise_account = "hospital"\n'
    )
    with pytest.raises(ConfigError, match=r"\[channels\.mastodon\] exercise_account"):
        load_settings(config)


def test_a_drill_on_the_production_token_is_skipped() -> None:
    """Another handle but the production token: the Exercise is not sent to Mastodon, with the reason."""
    same = {
        "CRISISCAST_MASTODON_ACCESS_TOKEN": SANDBOX_ACCOUNT.token,
        "CRISISCAST_MASTODON_EXERCISE_ACCESS_TOKEN": SANDBOX_ACCOUNT.token,
    }
    drill = message(status=Status.EXERCISE, audiences=("exercise",))
    channels, skipped = build_channels(
        settings_for("http://127.0.0.1:9"), secrets_from(same), drill, only=["mastodon"]
    )
    assert channels == []
    assert "production account's token" in dict(skipped)["mastodon"]


async def test_an_exercise_posts_from_the_drill_account_with_the_marker(fake: FakeMastodon) -> None:
    """Built for an Exercise, the status goes to the drill account and starts with the marker."""
    ch = build(settings_for(fake.base_url), secrets_from(sandbox_env()), exercise=True)
    drill = message(status=Status.EXERCISE, audiences=("exercise",))
    [delivery] = ch.render(drill, RenderContext(dispatch_id="x1"))
    try:
        await ch.start()
        await assert_delivers(ch, delivery)
    finally:
        await ch.aclose()
    [posted] = fake.statuses
    assert posted["account"]["id"] == EXERCISE_ACCOUNT.account_id
    assert posted["text"].startswith("EXERCISE EXERCISE EXERCISE Power failure")


# -- render and preview ----------------------------------------------------------------------
def test_preview_is_the_exact_text_with_mastodons_count() -> None:
    """The preview shows the status as it will be posted and Mastodon's count of it."""
    settings = settings_for("http://127.0.0.1:9")
    preview = SPEC.preview(message(), settings)
    [panel] = preview.panels()
    text = (
        "Power failure in the main building\n\nAvoid the lifts; use the stairs.\n\nhttps://example.org/status"
    )
    assert panel.parts == (text,)
    assert panel.measure == f"characters (links count 23) {status_length(text)} of 500, public"
    counted = 34 + 2 + 32 + 2 + 23  # the link counts 23
    assert preview.to_json()["renderings"] == [{"language": "en", "parts": [text], "characters": [counted]}]


def test_a_long_message_is_a_numbered_thread_within_the_limit(channel: MastodonChannel) -> None:
    """Over 500 characters: a numbered thread, each status within the limit, chained with after."""
    deliveries = channel.render(message(description=LONG_DESCRIPTION), RenderContext(dispatch_id="t1"))
    assert len(deliveries) == 2
    assert [d.body.rsplit(" ", 1)[1] for d in deliveries] == ["1/2", "2/2"]
    assert all(status_length(d.body) <= 500 for d in deliveries)
    assert deliveries[0].after is None and deliveries[1].after == deliveries[0].key
    assert "https://example.org/status" in deliveries[0].body


def test_a_public_channel_refuses_patient_information() -> None:
    """PHI in a message: the Mastodon preview is refused (the channel is public)."""
    preview = preview_message(message(headline="Patient MRN 99887766 moved to ward 3"), settings_for("x"))
    assert "Mastodon is public" in preview.refused["mastodon"]


# -- send --------------------------------------------------------------------------------------
async def test_a_status_is_json_with_an_idempotency_key_and_a_bearer_token(
    channel: MastodonChannel, fake: FakeMastodon
) -> None:
    """The create carries status, visibility, language, the Bearer token and the delivery's key."""
    delivery = status("Fire drill at 14:00.")
    receipt = await assert_delivers(channel, delivery)
    seen = fake.requests[-1]
    assert (seen.method, seen.path) == ("POST", "/api/v1/statuses")
    assert json.loads(seen.body) == {
        "status": "Fire drill at 14:00.",
        "visibility": "public",
        "language": "en",
    }
    assert seen.headers["Authorization"] == f"Bearer {SANDBOX_ACCOUNT.token}"
    assert seen.headers["Idempotency-Key"] == idempotency_key(delivery.key)
    assert receipt.provider_id == fake.statuses[-1]["id"]


async def test_a_resend_of_the_same_delivery_posts_nothing_new(
    channel: MastodonChannel, fake: FakeMastodon
) -> None:
    """The same delivery sent twice (a lost answer, resent): one status, the same id both times."""
    delivery = status()
    first = await channel.send(delivery, None)
    again = await channel.send(delivery, None)
    assert first.provider_id == again.provider_id and len(fake.statuses) == 1


async def test_a_thread_posts_as_a_reply_chain(channel: MastodonChannel, fake: FakeMastodon) -> None:
    """Each part replies to the part before; the first to the original in an Update."""
    original = await channel.send(status(), None)
    update = message(msg_type=MsgType.UPDATE, references=("x",), description=LONG_DESCRIPTION)
    ctx = RenderContext(dispatch_id="u1", reply_to={"mastodon": original.provider_id or ""})
    first, second = channel.render(update, ctx)
    r1 = await channel.send(first, None)
    await channel.send(second, r1)
    assert [s["in_reply_to_id"] for s in fake.statuses] == [None, original.provider_id, r1.provider_id]


async def test_start_reads_the_instance_limit_and_refuses_longer_statuses(fake: FakeMastodon) -> None:
    """An instance allowing fewer characters than configured: refused before sending, naming the setting."""
    fake.max_characters = 120
    ch = build(settings_for(fake.base_url), secrets_from(sandbox_env()), exercise=False)
    await ch.start()
    try:
        assert ch.instance_max_characters == 120
        before = len(fake.requests)
        with pytest.raises(Permanent, match=r"max_characters = 120"):
            await ch.send(status("x" * 121), None)
        assert len(fake.requests) == before
    finally:
        await ch.aclose()


async def test_an_unreadable_instance_leaves_the_limit_to_the_instance(fake: FakeMastodon) -> None:
    """/api/v2/instance failing at start: no limit of our own; the status is sent, the instance judges."""
    fake.faults.scripted.append(Fault(status=503, path_contains="/api/v2/instance"))
    ch = build(settings_for(fake.base_url, max_characters=600), secrets_from(sandbox_env()), exercise=False)
    fake.max_characters = 600
    await ch.start()
    try:
        assert ch.instance_max_characters is None
        await assert_delivers(ch, status("z" * 550))
    finally:
        await ch.aclose()


def mastodon_cases() -> list[ErrorCase]:
    return [
        ErrorCase("503", Transient, code="http_503", status=503, fault=Fault(status=503)),
        ErrorCase("500", Transient, code="http_500", fault=Fault(status=500)),
        ErrorCase("429", RateLimited, code="rate_limited", retry_after_s=600, fault=rate_limited_fault(600)),
        ErrorCase(
            "422 too long",
            Permanent,
            code="validation",
            reason_contains="character limit of 500 exceeded",
            fault=Fault(
                status=422, body={"error": "Validation failed: Text character limit of 500 exceeded"}
            ),
        ),
        ErrorCase(
            "401",
            Permanent,
            code="http_401",
            reason_contains="CRISISCAST_MASTODON_ACCESS_TOKEN",
            fault=Fault(status=401, body={"error": "The access token was revoked"}),
        ),
        ErrorCase(
            "403 scope",
            Permanent,
            code="http_403",
            fault=Fault(status=403, body={"error": "This action is outside the authorized scopes"}),
        ),
        ErrorCase(
            "drop after accept", Ambiguous, code="disconnected", fault=Fault(drop=True, after_accept=True)
        ),
    ]


@pytest.mark.parametrize("name", [case.name for case in mastodon_cases()])
async def test_answers_are_classified(name: str, channel: MastodonChannel, fake: FakeMastodon) -> None:
    """Each answer of the instance maps to its class and code (see the case table)."""
    case = next(c for c in mastodon_cases() if c.name == name)  # built now: reset times are wall-clock
    await assert_classified(channel, status(), case, fake=fake)


async def test_the_fakes_own_answers_are_classified(channel: MastodonChannel, fake: FakeMastodon) -> None:
    """Not scripted: the fake's real 422 (too long), 404 (reply to nothing) and 429 (window spent)."""
    with pytest.raises(Permanent, match="character limit of 500") as too_long:
        channel.instance_max_characters = None  # let the instance judge
        await channel.send(status("y" * 501), None)
    assert too_long.value.code == "validation"
    with pytest.raises(Permanent, match="Record not found"):
        await channel.send(status(in_reply_to_id="404404"), None)
    fake.statuses_per_window = 1
    await channel.send(status(), None)
    with pytest.raises(RateLimited) as limited:
        await channel.send(status(), None)
    assert limited.value.retry_after_s is not None and 3 * 3600 - 60 < limited.value.retry_after_s <= 3 * 3600


async def test_wrong_token_is_permanent_and_says_which_variable(fake: FakeMastodon) -> None:
    """The fake's real 401: a plain sentence naming the variable, never the token."""
    bad = {"CRISISCAST_MASTODON_ACCESS_TOKEN": "not-the-token-at-all"}
    ch = build(settings_for(fake.base_url), secrets_from(bad), exercise=False)
    try:
        with pytest.raises(Permanent, match="CRISISCAST_MASTODON_ACCESS_TOKEN") as info:
            await ch.send(status(), None)
        assert "not-the-token" not in str(info.value)
    finally:
        await ch.aclose()


def test_retry_after_from_the_reset_header() -> None:
    """X-RateLimit-Reset is an ISO 8601 time; seconds until then (None when absent or unreadable)."""
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert mastodon_retry_after_s({"X-RateLimit-Reset": "2026-01-01T12:05:00.000Z"}, now=now) == 300
    assert mastodon_retry_after_s({}, now=now) is None
    assert mastodon_retry_after_s({"X-RateLimit-Reset": "soon"}, now=now) is None


async def test_contract_suite_with_canary_secrets() -> None:
    """The whole contract with canary tokens: every class covered, no token anywhere."""
    canaries = make_canaries("CRISISCAST_MASTODON_ACCESS_TOKEN", "CRISISCAST_MASTODON_EXERCISE_ACCESS_TOKEN")
    fake = FakeMastodon(
        accounts=(
            MastodonAccount(canaries["CRISISCAST_MASTODON_ACCESS_TOKEN"], "1", "hospital"),
            MastodonAccount(canaries["CRISISCAST_MASTODON_EXERCISE_ACCESS_TOKEN"], "2", "drills"),
        )
    )
    await fake.start()
    ch = build(settings_for(fake.base_url), secrets_from(canaries), exercise=False)
    try:
        await ch.start()
        await run_contract_suite(
            ch, make_delivery=status, cases=mastodon_cases(), canaries=canaries.values(), fake=fake
        )
    finally:
        await ch.aclose()
        await fake.stop()


# -- reconcile and resume ------------------------------------------------------------------------
def test_status_text_undoes_mastodons_html() -> None:
    """The fake renders content as Mastodon does; status_text gives back the text that was sent."""
    text = "Fire <drill> & test\nline two\n\nhttps://example.org/a?b=1&c=2 done"
    assert status_text(render_content(text)) == text


async def test_reconcile_finds_a_status_accepted_before_the_connection_dropped(
    channel: MastodonChannel, fake: FakeMastodon
) -> None:
    """Accepted, then the answer lost: reconcile finds the status by its text."""
    delivery = status("Shelter in place. Details: https://example.org/x?y=1&z=2")
    fake.faults.scripted.append(Fault(drop=True, after_accept=True))
    with pytest.raises(Ambiguous):
        await channel.send(delivery, None)
    receipt = await channel.reconcile(delivery)
    assert receipt is not None and receipt.provider_id == fake.statuses[-1]["id"]
    assert await channel.reconcile(status("Never posted.")) is None


async def test_reconcile_checks_the_reply_parent(channel: MastodonChannel, fake: FakeMastodon) -> None:
    """The same text replying to another status is not this delivery."""
    parent = await channel.send(status(), None)
    text = "All clear in building C."
    await channel.send(status(text, in_reply_to_id=parent.provider_id), None)
    assert await channel.reconcile(status(text, in_reply_to_id="999")) is None
    assert await channel.reconcile(status(text, in_reply_to_id=parent.provider_id)) is not None


async def test_reconcile_when_the_token_is_refused_cannot_tell(fake: FakeMastodon) -> None:
    """A refused token: CannotReconcile (the in-doubt policy decides), not a guess."""
    ch = build(
        settings_for(fake.base_url),
        secrets_from({"CRISISCAST_MASTODON_ACCESS_TOKEN": "nope" * 5}),
        exercise=False,
    )
    try:
        with pytest.raises(CannotReconcile):
            await ch.reconcile(status())
    finally:
        await ch.aclose()


async def test_resume_after_a_crash_posts_no_duplicate(tmp_path: Path, fake: FakeMastodon) -> None:
    """A crash after the instance accepted part 1 of a thread but before the audit knew: resume
    reconciles part 1 (found, not posted again) and posts part 2 as its reply."""
    settings, secrets = settings_for(fake.base_url), secrets_from(sandbox_env())
    store = open_store(f"sqlite:///{tmp_path}/audit.db")
    await store.open()
    try:
        dispatcher = Dispatcher(store, limiters=LimiterRegistry())
        first = build(settings, secrets, exercise=False)
        plan = await dispatcher.plan(message(description=LONG_DESCRIPTION), [first], approval=APPROVAL)
        part1, _ = plan.deliveries["mastodon"]
        await store.append(
            [AuditEvent(EventKind.ATTEMPT_STARTED, plan.dispatch_id, {"attempt": 1}, delivery_key=part1.key)]
        )
        await first.start()
        await first.send(part1, None)  # the instance has it; the process dies before recording it
        await first.aclose()

        fresh = build(settings, secrets, exercise=False)
        report = await dispatcher.resume(plan.dispatch_id, [fresh])
        assert report.ok and report.channels["mastodon"].delivered == 2
        assert len(fake.statuses) == 2
        assert fake.statuses[1]["in_reply_to_id"] == fake.statuses[0]["id"]
        states = {r.delivery.part: r.state for r in await store.deliveries(plan.dispatch_id)}
        assert states == {1: DeliveryState.DELIVERED, 2: DeliveryState.DELIVERED}
    finally:
        await store.close()


async def test_update_and_all_clear_reply_in_the_thread(tmp_path: Path, fake: FakeMastodon) -> None:
    """An Update replies to the original's newest status; an all-clear after it replies to the Update."""
    settings, secrets = settings_for(fake.base_url), secrets_from(sandbox_env())
    store = open_store(f"sqlite:///{tmp_path}/audit.db")
    await store.open()
    try:
        dispatcher = Dispatcher(store, limiters=LimiterRegistry())
        original = message(description=LONG_DESCRIPTION)
        report = await dispatcher.dispatch(
            original, [build(settings, secrets, exercise=False)], approval=APPROVAL
        )
        tip = fake.statuses[-1]["id"]
        target = follow_up_target(
            await lineage_reach(store, report.dispatch_id), "update", report.dispatch_id
        )
        assert target.reply_to["mastodon"] == tip
        update = message(
            msg_type=MsgType.UPDATE, references=("x",), headline="Power is back in part of the building"
        )
        upd = await dispatcher.dispatch(
            update, [build(settings, secrets, exercise=False)], approval=APPROVAL, reply_to=target.reply_to
        )
        assert fake.statuses[-1]["in_reply_to_id"] == tip
        plan = SPEC.follow_up
        assert plan is not None
        lineage = [await store.deliveries(report.dispatch_id), await store.deliveries(upd.dispatch_id)]
        assert plan(lineage).reply_to == fake.statuses[-1]["id"]
        assert (
            plan(lineage).note
            == f"Mastodon: a reply in the original thread (to status {fake.statuses[-1]['id']})"
        )
    finally:
        await store.close()


def test_idempotency_keys_are_per_delivery_and_outlive_the_retries() -> None:
    """Distinct deliveries have distinct keys, one delivery always the same; the default retry
    deadline ends well inside the hour Mastodon keeps a key (so a 5xx may be resent)."""
    assert idempotency_key("d1:mastodon:en:1") == idempotency_key("d1:mastodon:en:1")
    assert idempotency_key("d1:mastodon:en:1") != idempotency_key("d1:mastodon:en:2")
    assert timedelta(seconds=SPEC.config_model().deadline_s) < timedelta(hours=1)
