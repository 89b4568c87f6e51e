"""The Bluesky channel against the fake PDS over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from itertools import count
from pathlib import Path

import pytest

from crisiscast.adapt.preview import preview_message
from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.audit.open import open_store
from crisiscast.channels.base import ChannelUnavailable, RenderContext
from crisiscast.channels.bluesky import SPEC
from crisiscast.channels.bluesky.channel import BlueskyChannel, build
from crisiscast.channels.bluesky.session import bluesky_retry_after_s
from crisiscast.channels.bluesky.text import link_facets, post_bytes, post_graphemes
from crisiscast.channels.registry import build_channels
from crisiscast.config import Secrets, Settings, load_settings
from crisiscast.delivery import Delivery, DeliveryState
from crisiscast.dispatch import Dispatcher
from crisiscast.dispatch.limiter import LimiterRegistry
from crisiscast.errors import Ambiguous, CannotReconcile, ConfigError, Permanent, RateLimited, Transient
from crisiscast.lifecycle.followup import follow_up_target, lineage_reach
from crisiscast.message import CrisisMessage, MsgType, Status
from crisiscast.sandbox.bluesky import (
    EXERCISE_ACCOUNT,
    SANDBOX_ACCOUNT,
    BlueskyAccount,
    FakeBluesky,
    rate_limited_fault,
    sandbox_env,
)
from crisiscast.sandbox.common import Fault
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
    f"Sentence {i} explains which entrance, car park and clinic is affected." for i in range(1, 6)
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeBluesky]:
    f = FakeBluesky()
    await f.start()
    yield f
    await f.stop()


def settings_for(url: str, **bluesky: object) -> Settings:
    handles = {"handle": SANDBOX_ACCOUNT.handle, "exercise_handle": EXERCISE_ACCOUNT.handle}
    return Settings.model_validate({"channels": {"bluesky": {"service_url": url, **handles, **bluesky}}})


def secrets_from(env: dict[str, str]) -> Secrets:
    return Secrets.model_validate({k.removeprefix("CRISISCAST_").lower(): v for k, v in env.items()})


@pytest.fixture
async def channel(fake: FakeBluesky) -> AsyncIterator[BlueskyChannel]:
    ch = build(settings_for(fake.base_url), secrets_from(sandbox_env()), exercise=False)
    await ch.start()
    yield ch
    await ch.aclose()


def post(text: str | None = None, *, language: str = "en", **payload: object) -> Delivery:
    n = next(_texts)
    return Delivery(
        dispatch_id=f"d{n}",
        channel="bluesky",
        target=language,
        part=1,
        body=text or f"Water outage in building C (notice {n}). Use bottled water.",
        language=language,
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


# -- text --------------------------------------------------------------------------------------
def test_graphemes_and_bytes_are_bluesky_units() -> None:
    """A family emoji is one grapheme of 25 bytes; an accented letter one grapheme of 2 bytes."""
    family = "👩‍👩‍👧‍👦"
    assert (post_graphemes(family), post_bytes(family)) == (1, 25)
    assert (post_graphemes("é"), post_bytes("é")) == (1, 2)


def test_link_facets_use_utf8_byte_offsets() -> None:
    """After non-ASCII text the facet's offsets are bytes, not characters; trailing punctuation stays out."""
    text = "Évacuez 🚒 : https://example.org/évac."
    [facet] = link_facets(text)
    start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
    assert text.encode()[start:end].decode() == "https://example.org/évac"
    assert start == len("Évacuez 🚒 : ".encode()) and start != text.index("https")
    assert facet["features"] == [{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.org/évac"}]


# -- build and isolation -------------------------------------------------------------------------
def test_build_names_the_missing_app_password() -> None:
    """No app password: unavailable, naming the variable; an Exercise needs the drill account."""
    with pytest.raises(ChannelUnavailable, match="CRISISCAST_BLUESKY_APP_PASSWORD"):
        build(settings_for("http://127.0.0.1:9"), secrets_from({}), exercise=False)
    only_production = {"CRISISCAST_BLUESKY_APP_PASSWORD": SANDBOX_ACCOUNT.app_password}
    with pytest.raises(ChannelUnavailable, match="CRISISCAST_BLUESKY_EXERCISE_APP_PASSWORD"):
        build(settings_for("http://127.0.0.1:9"), secrets_from(only_production), exercise=True)
    with pytest.raises(ChannelUnavailable, match="exercise_handle"):
        build(
            settings_for("http://127.0.0.1:9", exercise_handle=None),
            secrets_from(sandbox_env()),
            exercise=True,
        )
    ch = build(settings_for("http://127.0.0.1:9"), secrets_from(sandbox_env()), exercise=True)
    assert ch.account == f"bluesky:{EXERCISE_ACCOUNT.handle}"


def test_a_drill_handle_equal_to_production_is_refused_at_load(tmp_path: Path) -> None:
    """The configuration naming the hospital's own handle for drills (spelt differently) does not load."""
    config = tmp_path / "crisiscast.toml"
    config.write_text(
        '[channels.bluesky]\nhandle = "hospital.example.org"\nexercise_handle = "@Hospital.example.org"\n'
    )
    with pytest.raises(ConfigError, match=r"\[channels\.bluesky\] exercise_handle"):
        load_settings(config)


def test_a_drill_on_the_production_app_password_is_skipped() -> None:
    """Another handle but the production app password: the Exercise is not sent to Bluesky."""
    same = {
        "CRISISCAST_BLUESKY_APP_PASSWORD": SANDBOX_ACCOUNT.app_password,
        "CRISISCAST_BLUESKY_EXERCISE_APP_PASSWORD": SANDBOX_ACCOUNT.app_password,
    }
    drill = message(status=Status.EXERCISE, audiences=("exercise",))
    channels, skipped = build_channels(
        settings_for("http://127.0.0.1:9"), secrets_from(same), drill, only=["bluesky"]
    )
    assert channels == [] and "production account's" in dict(skipped)["bluesky"]


async def test_an_exercise_posts_from_the_drill_account_with_the_marker(fake: FakeBluesky) -> None:
    """Built for an Exercise, the post goes to the drill account's repo and starts with the marker."""
    ch = build(settings_for(fake.base_url), secrets_from(sandbox_env()), exercise=True)
    [delivery] = ch.render(
        message(status=Status.EXERCISE, audiences=("exercise",)), RenderContext(dispatch_id="x")
    )
    try:
        await assert_delivers(ch, delivery)
    finally:
        await ch.aclose()
    [posted] = fake.posts
    assert posted["uri"].startswith(f"at://{EXERCISE_ACCOUNT.did}/")
    assert posted["value"]["text"].startswith("EXERCISE EXERCISE EXERCISE Power failure")


# -- render and preview -----------------------------------------------------------------------------
def test_preview_is_the_exact_text_in_graphemes_and_bytes() -> None:
    """The preview shows the post as it will be posted, with its graphemes and bytes."""
    preview = SPEC.preview(message(headline="Panne de courant 🔌"), settings_for("http://127.0.0.1:9"))
    [panel] = preview.panels()
    text = "Panne de courant 🔌\n\nAvoid the lifts; use the stairs.\n\nhttps://example.org/status"
    assert panel.parts == (text,)
    assert panel.measure == f"graphemes {post_graphemes(text)} of 300; bytes {post_bytes(text)} of 3000"
    assert post_bytes(text) == post_graphemes(text) + 3  # the plug emoji: one grapheme, four bytes


def test_a_long_message_is_a_numbered_thread_within_300_graphemes(channel: BlueskyChannel) -> None:
    """Over 300 graphemes: a numbered thread, each post within both limits, chained with after."""
    deliveries = channel.render(message(description=LONG_DESCRIPTION), RenderContext(dispatch_id="t1"))
    assert len(deliveries) == 2
    assert [d.body.rsplit(" ", 1)[1] for d in deliveries] == ["1/2", "2/2"]
    assert all(post_graphemes(d.body) <= 300 and post_bytes(d.body) <= 3000 for d in deliveries)
    assert deliveries[1].after == deliveries[0].key


def test_a_public_channel_refuses_patient_information() -> None:
    """PHI in a message: the Bluesky preview is refused (the channel is public)."""
    preview = preview_message(message(headline="Patient MRN 99887766 moved to ward 3"), settings_for("x"))
    assert "Bluesky is public" in preview.refused["bluesky"]


# -- send --------------------------------------------------------------------------------------------
async def test_a_post_is_one_login_then_records_with_facets_and_langs(
    channel: BlueskyChannel, fake: FakeBluesky
) -> None:
    """One createSession for many posts; each createRecord carries text, createdAt, langs and link facets."""
    await assert_delivers(channel, post("Shelter now: https://example.org/évac"))
    await assert_delivers(channel, post("Second notice.", language="en+es"))
    assert fake.logins == 1
    creates = [r for r in fake.requests if r.path.endswith("createRecord")]
    first, second = (json.loads(r.body) for r in creates)
    assert first["repo"] == SANDBOX_ACCOUNT.did and first["collection"] == "app.bsky.feed.post"
    assert first["record"]["langs"] == ["en"] and second["record"]["langs"] == ["en", "es"]
    assert first["record"]["facets"][0]["features"][0]["uri"] == "https://example.org/évac"
    assert "facets" not in second["record"]
    assert creates[0].headers["Authorization"].startswith("Bearer ey")


async def test_an_expired_access_token_is_refreshed_not_a_new_login(
    channel: BlueskyChannel, fake: FakeBluesky
) -> None:
    """After two hours the PDS says ExpiredToken: the session is refreshed and the post made, no login."""
    await channel.send(post(), None)
    fake.expire_access_tokens()
    await assert_delivers(channel, post())
    assert (fake.logins, fake.refreshes) == (1, 1) and len(fake.posts) == 2


async def test_a_revoked_refresh_token_logs_in_again(channel: BlueskyChannel, fake: FakeBluesky) -> None:
    """Only a refused refresh (tokens revoked) logs in again."""
    await channel.send(post(), None)
    fake.reset_state()  # every token the PDS issued is forgotten
    await assert_delivers(channel, post())
    assert fake.logins == 2


async def test_a_rate_limited_login_waits_until_the_reset(fake: FakeBluesky) -> None:
    """createSession is limited per account: the fake's own 429 becomes RateLimited until its reset."""
    fake.logins_per_window = 0
    ch = build(settings_for(fake.base_url), secrets_from(sandbox_env()), exercise=False)
    try:
        with pytest.raises(RateLimited) as info:
            await ch.send(post(), None)
    finally:
        await ch.aclose()
    assert info.value.code == "session_rate_limited"
    assert info.value.retry_after_s is not None and 0 <= info.value.retry_after_s <= 300


async def test_a_wrong_app_password_is_permanent_and_names_the_variable(fake: FakeBluesky) -> None:
    """The fake's real 401 on login: a plain sentence naming the variable, never the password."""
    bad = {"CRISISCAST_BLUESKY_APP_PASSWORD": "wrong-pass-word-here"}
    ch = build(settings_for(fake.base_url), secrets_from(bad), exercise=False)
    try:
        with pytest.raises(Permanent, match="CRISISCAST_BLUESKY_APP_PASSWORD") as info:
            await ch.send(post(), None)
    finally:
        await ch.aclose()
    assert "wrong-pass" not in str(info.value)


async def test_a_thread_replies_with_root_and_parent(channel: BlueskyChannel, fake: FakeBluesky) -> None:
    """Part 2 replies to part 1 (parent) in the thread of the original (root), with their cids."""
    original = await channel.send(post(), None)
    update = message(msg_type=MsgType.UPDATE, references=("x",), description=LONG_DESCRIPTION)
    first, second = channel.render(
        update, RenderContext(dispatch_id="u1", reply_to={"bluesky": original.provider_id or ""})
    )
    r1 = await channel.send(first, None)
    await channel.send(second, r1)
    root = {"uri": fake.posts[0]["uri"], "cid": fake.posts[0]["cid"]}
    assert fake.posts[1]["value"]["reply"] == {"root": root, "parent": root}
    assert fake.posts[2]["value"]["reply"] == {
        "root": root,
        "parent": {"uri": fake.posts[1]["uri"], "cid": fake.posts[1]["cid"]},
    }


async def test_the_fake_refuses_what_bluesky_refuses(channel: BlueskyChannel, fake: FakeBluesky) -> None:
    """301 graphemes, and a facet whose bytes do not spell its link, are refused as InvalidRequest."""
    with pytest.raises(Permanent, match="300 graphemes") as too_long:
        await channel.send(post("é" * 301), None)
    assert too_long.value.code == "InvalidRequest"
    session = await channel.session.current()
    body = {
        "repo": session.did,
        "collection": "app.bsky.feed.post",
        "record": {
            "$type": "app.bsky.feed.post",
            "text": "Évacuez: https://example.org",
            "createdAt": "2026-01-01T00:00:00.000Z",
            "facets": [
                {
                    "index": {"byteStart": 8, "byteEnd": 27},
                    "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.org"}],
                }
            ],  # character offsets, not bytes: off by one after the É
        },
    }
    import aiohttp

    async with aiohttp.ClientSession() as http:
        resp = await http.post(
            f"{fake.base_url}/xrpc/com.atproto.repo.createRecord", json=body, headers=session.auth()
        )
        assert resp.status == 400 and "facets" in (await resp.json())["message"]
    assert len(fake.posts) == 0


def bluesky_cases() -> list[ErrorCase]:
    return [
        ErrorCase("503", Transient, code="http_503", status=503, fault=Fault(status=503)),
        ErrorCase("500", Ambiguous, code="http_500", status=500, fault=Fault(status=500)),
        ErrorCase("429", RateLimited, code="rate_limited", retry_after_s=900, fault=rate_limited_fault(900)),
        ErrorCase(
            "400 invalid",
            Permanent,
            code="InvalidRequest",
            reason_contains="Record/text",
            fault=Fault(
                status=400,
                body={
                    "error": "InvalidRequest",
                    "message": "Invalid app.bsky.feed.post record: Record/text must not be longer than "
                    "300 graphemes",
                },
            ),
        ),
        ErrorCase(
            "drop after accept", Ambiguous, code="disconnected", fault=Fault(drop=True, after_accept=True)
        ),
    ]


@pytest.mark.parametrize("name", [case.name for case in bluesky_cases()])
async def test_answers_are_classified(name: str, channel: BlueskyChannel, fake: FakeBluesky) -> None:
    """Each answer of the PDS maps to its class and code (see the case table)."""
    await channel.session.current()  # logged in: the scripted fault meets the create
    case = next(c for c in bluesky_cases() if c.name == name)  # built now: reset times are wall-clock
    await assert_classified(channel, post(), case, fake=fake)


def test_retry_after_from_ratelimit_reset() -> None:
    """ratelimit-reset is epoch seconds; seconds until then (None when absent or unreadable)."""
    assert bluesky_retry_after_s({"ratelimit-reset": "1000"}, now_s=700) == 300
    assert bluesky_retry_after_s({}, now_s=700) is None
    assert bluesky_retry_after_s({"ratelimit-reset": "soon"}, now_s=700) is None


async def test_contract_suite_with_canary_secrets() -> None:
    """The whole contract with canary app passwords: every class covered, no secret or token anywhere."""
    canaries = make_canaries("CRISISCAST_BLUESKY_APP_PASSWORD", "CRISISCAST_BLUESKY_EXERCISE_APP_PASSWORD")
    fake = FakeBluesky(
        accounts=(
            BlueskyAccount(
                SANDBOX_ACCOUNT.handle, canaries["CRISISCAST_BLUESKY_APP_PASSWORD"], SANDBOX_ACCOUNT.did
            ),
            BlueskyAccount(
                EXERCISE_ACCOUNT.handle,
                canaries["CRISISCAST_BLUESKY_EXERCISE_APP_PASSWORD"],
                EXERCISE_ACCOUNT.did,
            ),
        )
    )
    await fake.start()
    ch = build(settings_for(fake.base_url), secrets_from(canaries), exercise=False)
    try:
        session = await ch.session.current()
        tokens = [session.access_jwt.get_secret_value(), session.refresh_jwt.get_secret_value()]
        await run_contract_suite(
            ch, make_delivery=post, cases=bluesky_cases(), canaries=[*canaries.values(), *tokens], fake=fake
        )
    finally:
        await ch.aclose()
        await fake.stop()


# -- reconcile and resume ------------------------------------------------------------------------------
async def test_reconcile_finds_a_post_accepted_before_the_connection_dropped(
    channel: BlueskyChannel, fake: FakeBluesky
) -> None:
    """Accepted, then the answer lost: listRecords on the own repo finds it by its text."""
    await channel.session.current()
    delivery = post("Shelter in place: https://example.org/x")
    fake.faults.scripted.append(Fault(drop=True, after_accept=True))
    with pytest.raises(Ambiguous):
        await channel.send(delivery, None)
    receipt = await channel.reconcile(delivery)
    assert receipt is not None and receipt.provider_id == fake.posts[-1]["uri"]
    assert await channel.reconcile(post("Never posted.")) is None


async def test_reconcile_checks_the_reply_parent(channel: BlueskyChannel, fake: FakeBluesky) -> None:
    """The same text replying to another post is not this delivery."""
    parent = await channel.send(post(), None)
    text = "All clear in building C."
    await channel.send(post(text, reply_to=parent.provider_id), None)
    assert await channel.reconcile(post(text, reply_to="at://did:plc:x/app.bsky.feed.post/3k")) is None
    assert await channel.reconcile(post(text, reply_to=parent.provider_id)) is not None


async def test_reconcile_when_bluesky_refuses_the_login_cannot_tell(fake: FakeBluesky) -> None:
    """A refused app password: CannotReconcile (the in-doubt policy decides), not a guess."""
    ch = build(
        settings_for(fake.base_url),
        secrets_from({"CRISISCAST_BLUESKY_APP_PASSWORD": "nope-nope-nope"}),
        exercise=False,
    )
    try:
        with pytest.raises(CannotReconcile):
            await ch.reconcile(post())
    finally:
        await ch.aclose()


async def test_resume_after_a_crash_posts_no_duplicate(tmp_path: Path, fake: FakeBluesky) -> None:
    """A crash after the PDS accepted part 1 of a thread but before the audit knew: resume finds
    part 1 in the repo (not posted again) and posts part 2 as its reply."""
    settings, secrets = settings_for(fake.base_url), secrets_from(sandbox_env())
    store = open_store(f"sqlite:///{tmp_path}/audit.db")
    await store.open()
    try:
        dispatcher = Dispatcher(store, limiters=LimiterRegistry())
        first = build(settings, secrets, exercise=False)
        plan = await dispatcher.plan(message(description=LONG_DESCRIPTION), [first], approval=APPROVAL)
        part1, _ = plan.deliveries["bluesky"]
        await store.append(
            [AuditEvent(EventKind.ATTEMPT_STARTED, plan.dispatch_id, {"attempt": 1}, delivery_key=part1.key)]
        )
        await first.send(part1, None)  # the PDS has it; the process dies before recording it
        await first.aclose()

        fresh = build(settings, secrets, exercise=False)
        report = await dispatcher.resume(plan.dispatch_id, [fresh])
        assert report.ok and report.channels["bluesky"].delivered == 2
        assert len(fake.posts) == 2
        assert fake.posts[1]["value"]["reply"]["parent"]["uri"] == fake.posts[0]["uri"]
        states = {r.delivery.part: r.state for r in await store.deliveries(plan.dispatch_id)}
        assert states == {1: DeliveryState.DELIVERED, 2: DeliveryState.DELIVERED}
    finally:
        await store.close()


async def test_update_and_all_clear_reply_in_the_thread(tmp_path: Path, fake: FakeBluesky) -> None:
    """An Update replies to the original's newest post; an all-clear after it replies to the Update."""
    settings, secrets = settings_for(fake.base_url), secrets_from(sandbox_env())
    store = open_store(f"sqlite:///{tmp_path}/audit.db")
    await store.open()
    try:
        dispatcher = Dispatcher(store, limiters=LimiterRegistry())
        report = await dispatcher.dispatch(
            message(description=LONG_DESCRIPTION),
            [build(settings, secrets, exercise=False)],
            approval=APPROVAL,
        )
        tip = fake.posts[-1]["uri"]
        target = follow_up_target(
            await lineage_reach(store, report.dispatch_id), "update", report.dispatch_id
        )
        assert target.reply_to["bluesky"] == tip
        update = message(
            msg_type=MsgType.UPDATE, references=("x",), headline="Power is back in part of the building"
        )
        upd = await dispatcher.dispatch(
            update, [build(settings, secrets, exercise=False)], approval=APPROVAL, reply_to=target.reply_to
        )
        assert fake.posts[-1]["value"]["reply"]["parent"]["uri"] == tip
        assert fake.posts[-1]["value"]["reply"]["root"]["uri"] == fake.posts[0]["uri"]
        follow_up = SPEC.follow_up
        assert follow_up is not None
        lineage = [await store.deliveries(report.dispatch_id), await store.deliveries(upd.dispatch_id)]
        assert follow_up(lineage).reply_to == fake.posts[-1]["uri"]
    finally:
        await store.close()
