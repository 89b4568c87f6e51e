"""The X channel against the fake X API over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from itertools import count

import aiohttp
import pytest
from multidict import CIMultiDict
from oauthlib import oauth1

from crisiscast.channels.base import ChannelUnavailable, RenderContext
from crisiscast.channels.twitter.channel import TwitterChannel, build, x_retry_after_s
from crisiscast.config import Secrets, Settings
from crisiscast.delivery import Delivery, Receipt
from crisiscast.errors import (
    Ambiguous,
    CannotReconcile,
    Duplicate,
    Permanent,
    PolicyError,
    RateLimited,
    Transient,
)
from crisiscast.message import CrisisMessage, MsgType, Status
from crisiscast.sandbox.common import Fault
from crisiscast.sandbox.x import (
    SANDBOX_CREDENTIALS,
    FakeX,
    XAccountCredentials,
    duplicate_fault,
    problem,
    rate_limited_fault,
    sandbox_env,
)
from tests.channels.contract import (
    ErrorCase,
    assert_classified,
    assert_delivers,
    make_canaries,
    run_contract_suite,
    watch_for_leaks,
)

X_VARS = ("CONSUMER_KEY", "CONSUMER_SECRET", "ACCESS_TOKEN", "ACCESS_TOKEN_SECRET")
_texts = count(1)


@pytest.fixture
async def fake_x() -> AsyncIterator[FakeX]:
    fake = FakeX()
    await fake.start()
    yield fake
    await fake.stop()


def settings_for(url: str, **twitter: object) -> Settings:
    return Settings.model_validate({"channels": {"twitter": {"api_base_url": url, **twitter}}})


def secrets_from(env: dict[str, str]) -> Secrets:
    return Secrets.model_validate({k.removeprefix("CRISISCAST_").lower(): v for k, v in env.items()})


@pytest.fixture
async def channel(fake_x: FakeX) -> AsyncIterator[TwitterChannel]:
    ch = build(
        settings_for(fake_x.base_url, request_timeout_s=2.0), secrets_from(sandbox_env()), exercise=False
    )
    yield ch
    await ch.aclose()


def post(text: str | None = None, *, part: int = 1, after: str | None = None, **payload: object) -> Delivery:
    return Delivery(
        dispatch_id="d1",
        channel="twitter",
        target="en",
        part=part,
        body=text or f"Water outage in building C, update {next(_texts)}. Use bottled water.",
        payload=payload,
        after=after,
    )


# -- build ---------------------------------------------------------------------------------
def test_build_names_the_missing_secret() -> None:
    """A missing credential makes the channel unavailable, naming the environment variable."""
    env = sandbox_env()
    del env["CRISISCAST_TWITTER_ACCESS_TOKEN_SECRET"]
    with pytest.raises(ChannelUnavailable, match="CRISISCAST_TWITTER_ACCESS_TOKEN_SECRET"):
        build(settings_for("http://127.0.0.1:9"), secrets_from(env), exercise=False)


def test_exercise_account_is_its_credentials_at_the_production_host() -> None:
    """Without an exercise base URL, an Exercise goes to the production API host (as on real X)
    but with the exercise account's own credentials: a different account."""
    env = sandbox_env() | sandbox_env(exercise=True)
    production = build(settings_for("http://127.0.0.1:9"), secrets_from(env), exercise=False)
    drill = build(settings_for("http://127.0.0.1:9"), secrets_from(env), exercise=True)
    assert drill.api_base_url == production.api_base_url == "http://127.0.0.1:9"
    assert drill.account != production.account


def test_build_for_an_exercise_needs_exercise_credentials() -> None:
    """The exercise account's own credentials are required; the production ones are not used."""
    with pytest.raises(ChannelUnavailable, match=r"No X exercise account .* CRISISCAST_TWITTER_EXERCISE_\*"):
        build(
            settings_for("http://127.0.0.1:9", exercise_api_base_url="http://127.0.0.1:10"),
            secrets_from(sandbox_env()),
            exercise=True,
        )
    partial = sandbox_env() | sandbox_env(exercise=True)
    del partial["CRISISCAST_TWITTER_EXERCISE_ACCESS_TOKEN_SECRET"]
    with pytest.raises(ChannelUnavailable, match="CRISISCAST_TWITTER_EXERCISE_ACCESS_TOKEN_SECRET"):
        build(settings_for("http://127.0.0.1:9"), secrets_from(partial), exercise=True)


def test_build_refuses_a_disabled_channel() -> None:
    """A disabled X channel is unavailable with a reason that says so."""
    with pytest.raises(ChannelUnavailable, match="disabled"):
        build(settings_for("http://127.0.0.1:9", enabled=False), secrets_from(sandbox_env()), exercise=False)


def test_account_is_a_fingerprint_not_a_key() -> None:
    """The account id is stable per credentials and never contains a credential."""
    env = sandbox_env()
    ch = build(settings_for("http://127.0.0.1:9"), secrets_from(env), exercise=False)
    again = build(settings_for("http://127.0.0.1:9"), secrets_from(env), exercise=False)
    drill = build(
        settings_for("http://127.0.0.1:9", exercise_api_base_url="http://127.0.0.1:10"),
        secrets_from(sandbox_env(exercise=True)),
        exercise=True,
    )
    assert ch.account == again.account
    assert ch.account.startswith("twitter:")
    assert drill.account != ch.account
    for value in env.values():
        assert value not in ch.account and value[:8] not in ch.account


async def test_exercise_posts_go_to_the_exercise_account() -> None:
    """An Exercise is posted with the exercise credentials at the exercise base URL."""
    drills = FakeX(exercise=True)
    url = await drills.start()
    try:
        settings = settings_for("http://127.0.0.1:9", exercise_api_base_url=url)
        ch = build(settings, secrets_from(sandbox_env(exercise=True)), exercise=True)
        await assert_delivers(ch, post())
        assert [p["author_id"] for p in drills.posts] == ["1600000000000000002"]
        await ch.aclose()
    finally:
        await drills.stop()


# -- render ---------------------------------------------------------------------------------
def message(description: str = "", **kw: object) -> CrisisMessage:
    fields: dict[str, object] = {
        "status": Status.EXERCISE,
        "headline": "Power failure in the main building",
        "description": description,
        "instruction": "Avoid the lifts; use the stairs.",
        "web": "https://example.org/status",
    }
    return CrisisMessage.model_validate(fields | kw)


LONG = "Generators are running and critical care has power. " * 12


def test_render_short_message_is_one_post(channel: TwitterChannel) -> None:
    """A message that fits is one delivery, unchained, labelled as an exercise."""
    [only] = channel.render(message(), RenderContext(dispatch_id="d9"))
    assert (only.key, only.after, only.language) == ("d9:twitter:en:1", None, "en")
    assert only.body.startswith("EXERCISE EXERCISE EXERCISE")
    assert "in_reply_to_tweet_id" not in only.payload


def test_render_thread_chains_parts_and_replies_to_the_original(channel: TwitterChannel) -> None:
    """A long message is a thread: each part waits for the one before; part 1 replies to the original."""
    update = message(LONG, msg_type=MsgType.UPDATE, references=("crisiscast-1",))
    parts = channel.render(update, RenderContext(dispatch_id="d9", reply_to={"twitter": "1799"}))
    assert len(parts) > 1
    assert [p.part for p in parts] == list(range(1, len(parts) + 1))
    assert [p.after for p in parts] == [None, *(p.key for p in parts[:-1])]
    assert parts[0].payload["in_reply_to_tweet_id"] == "1799"
    assert all("in_reply_to_tweet_id" not in p.payload for p in parts[1:])


def test_render_each_language_thread_replies_to_its_own_original_thread(channel: TwitterChannel) -> None:
    """An Update with one thread per language continues each language's own original thread;
    a language the original had no thread for replies to the main thread."""
    update = message(
        LONG,
        msg_type=MsgType.UPDATE,
        references=("crisiscast-1",),
        translations={"es": {"headline": "Corte de luz", "description": "Los generadores funcionan. " * 12}},
    )
    ctx = RenderContext(dispatch_id="d9", reply_to={"twitter": "1799", "twitter:es": "1805"})
    firsts = {d.target: d for d in channel.render(update, ctx) if d.part == 1}
    assert firsts["en"].payload["in_reply_to_tweet_id"] == "1799"
    assert firsts["es"].payload["in_reply_to_tweet_id"] == "1805"
    only_main = RenderContext(dispatch_id="d9", reply_to={"twitter": "1799"})
    firsts = {d.target: d for d in channel.render(update, only_main) if d.part == 1}
    assert firsts["es"].payload["in_reply_to_tweet_id"] == "1799"


def test_render_refuses_a_thread_longer_than_configured(fake_x: FakeX) -> None:
    """More parts than max_thread_parts is a PolicyError at render time, before any send."""
    ch = build(settings_for(fake_x.base_url, max_thread_parts=1), secrets_from(sandbox_env()), exercise=False)
    with pytest.raises(PolicyError):
        ch.render(message(LONG), RenderContext(dispatch_id="d9"))


async def test_rendered_thread_posts_as_a_reply_chain(channel: TwitterChannel, fake_x: FakeX) -> None:
    """Sending a rendered thread in order yields one X reply chain with the rendered texts."""
    parts = channel.render(message(LONG), RenderContext(dispatch_id="d9"))
    previous: Receipt | None = None
    for delivery in parts:
        previous = await channel.send(delivery, previous if delivery.after else None)
    assert [p["text"] for p in fake_x.posts] == [d.body for d in parts]
    assert [p["in_reply_to_tweet_id"] for p in fake_x.posts[1:]] == [p["id"] for p in fake_x.posts[:-1]]


# -- send ----------------------------------------------------------------------------------
async def test_post_is_signed_json_and_returns_the_post_id(channel: TwitterChannel, fake_x: FakeX) -> None:
    """A post is a signed JSON POST /2/tweets; the receipt carries X's post id."""
    delivery = post("Fire drill at 14:00 in the east wing.")
    receipt = await assert_delivers(channel, delivery)
    assert receipt.provider_id == fake_x.posts[-1]["id"]
    seen = fake_x.requests[-1]
    assert (seen.method, seen.path, seen.status) == ("POST", "/2/tweets", 201)
    assert seen.headers["Authorization"].startswith("OAuth ")
    assert json.loads(seen.body) == {"text": "Fire drill at 14:00 in the east wing."}


async def test_thread_parts_reply_to_the_previous_part(channel: TwitterChannel, fake_x: FakeX) -> None:
    """Each chained part replies to the post id of the part before it."""
    first = post("1/3 Power failure in the main building.")
    second = post("2/3 Generators are running.", part=2, after=first.key)
    third = post("3/3 Avoid the lifts.", part=3, after=second.key)
    r1 = await channel.send(first, None)
    r2 = await channel.send(second, r1)
    r3 = await channel.send(third, r2)
    assert [p["in_reply_to_tweet_id"] for p in fake_x.posts] == [None, r1.provider_id, r2.provider_id]
    assert r3.provider_id == fake_x.posts[-1]["id"]


async def test_first_part_replies_to_the_original_post(channel: TwitterChannel, fake_x: FakeX) -> None:
    """An Update's first part continues the original thread via its payload's reply id."""
    original = await channel.send(post("Original alert."), None)
    await channel.send(post("Update: all clear soon.", in_reply_to_tweet_id=original.provider_id), None)
    assert fake_x.posts[-1]["in_reply_to_tweet_id"] == original.provider_id


async def test_chained_part_without_a_previous_id_is_permanent(
    channel: TwitterChannel, fake_x: FakeX
) -> None:
    """A chained part whose predecessor has no post id fails without a request."""
    with pytest.raises(Permanent) as info:
        await channel.send(post(part=2, after="d1:twitter:en:1"), Receipt(provider_id=None))
    assert info.value.code == "chain_broken"
    assert fake_x.requests == []


# -- classification --------------------------------------------------------------------------
def x_cases() -> dict[str, ErrorCase]:
    return {
        "503": ErrorCase("503", Transient, code="http_503", status=503, fault=Fault(status=503)),
        "429 window": ErrorCase(
            "429 window", RateLimited, status=429, retry_after_s=30, fault=rate_limited_fault(30)
        ),
        "429 daily": ErrorCase(
            "429 daily", RateLimited, retry_after_s=3600, fault=rate_limited_fault(3600, daily=True)
        ),
        "429 no headers": ErrorCase(
            "429 no headers", RateLimited, code="rate_limited", no_retry_after=True, fault=Fault(status=429)
        ),
        "403 duplicate": ErrorCase(
            "403 duplicate",
            Duplicate,
            code="duplicate",
            status=403,
            fault=duplicate_fault(),
        ),
        "400 invalid": ErrorCase(
            "400 invalid",
            Permanent,
            code="http_400",
            reason_contains="text is too long",
            fault=Fault(status=400, body=problem(400, "Your Tweet text is too long.")),
        ),
        "drop after accept": ErrorCase(
            "drop after accept", Ambiguous, code="disconnected", fault=Fault(drop=True, after_accept=True)
        ),
    }


@pytest.mark.parametrize("name", list(x_cases()))
async def test_x_answers_are_classified(name: str, channel: TwitterChannel, fake_x: FakeX) -> None:
    """Each X answer maps to its error class, code and retry_after_s (see the case table)."""
    await assert_classified(channel, post(), x_cases()[name], fake=fake_x)


async def test_real_duplicate_text_is_permanent_duplicate(channel: TwitterChannel, fake_x: FakeX) -> None:
    """Posting the same text twice: X's own 403 duplicate answer is Duplicate (a Permanent) 'duplicate'."""
    await channel.send(post("Same words."), None)
    case = ErrorCase("duplicate", Duplicate, code="duplicate", status=403)
    await assert_classified(channel, post("Same words."), case)


async def test_over_280_weighted_is_permanent_with_x_detail(channel: TwitterChannel) -> None:
    """The fake enforces the weighted limit; X's detail reaches the error reason."""
    case = ErrorCase("too long", Permanent, code="http_400", reason_contains="too long")
    await assert_classified(channel, post("日本語" * 50), case)


async def test_wrong_secret_is_permanent_401(fake_x: FakeX) -> None:
    """The fake really checks the OAuth 1.0a signature: a wrong secret is refused with 401."""
    env = sandbox_env() | {"CRISISCAST_TWITTER_CONSUMER_SECRET": "not-the-right-secret-at-all"}
    ch = build(settings_for(fake_x.base_url), secrets_from(env), exercise=False)
    case = ErrorCase("bad signature", Permanent, code="http_401", status=401)
    await assert_classified(ch, post(), case)
    assert fake_x.posts == []
    await ch.aclose()


async def test_timeout_after_send_is_ambiguous(fake_x: FakeX) -> None:
    """No answer in time after the request was written: the post may exist (Ambiguous)."""
    ch = build(
        settings_for(fake_x.base_url, request_timeout_s=0.2), secrets_from(sandbox_env()), exercise=False
    )
    case = ErrorCase("timeout", Ambiguous, code="timeout", fault=Fault(status=201, delay_s=0.6))
    await assert_classified(ch, post(), case, fake=fake_x)
    await ch.aclose()


async def test_connection_refused_is_transient() -> None:
    """Nothing listening: nothing was sent, so it is safe to retry (Transient)."""
    ch = build(settings_for("http://127.0.0.1:9"), secrets_from(sandbox_env()), exercise=False)
    await assert_classified(ch, post(), ErrorCase("refused", Transient, code="connect_error"))
    await ch.aclose()


@pytest.mark.parametrize(
    ("headers", "expected_s"),
    [
        ({}, None),
        ({"x-rate-limit-reset": "1030"}, 30.0),
        ({"x-rate-limit-reset": "990"}, 1.0),
        ({"x-rate-limit-reset": "1000"}, 1.0),
        (
            {
                "x-rate-limit-reset": "1030",
                "x-user-limit-24hour-remaining": "5",
                "x-user-limit-24hour-reset": "9000",
            },
            30.0,
        ),
        (
            {
                "x-rate-limit-reset": "1030",
                "x-user-limit-24hour-remaining": "0",
                "x-user-limit-24hour-reset": "9000",
            },
            8000.0,
        ),
        ({"x-app-limit-24hour-remaining": "0", "x-app-limit-24hour-reset": "1500"}, 500.0),
        ({"x-rate-limit-reset": "soon"}, None),
    ],
)
def test_retry_after_from_x_rate_headers(headers: dict[str, str], expected_s: float | None) -> None:
    """retry_after_s is the latest relevant reset minus now, never under a second; an exhausted
    daily window wins."""
    assert x_retry_after_s(CIMultiDict(headers), now_s=1000.0) == expected_s


# -- reconcile ------------------------------------------------------------------------------
async def test_reconcile_finds_a_post_accepted_before_the_connection_dropped(
    channel: TwitterChannel, fake_x: FakeX
) -> None:
    """After an ambiguous drop, reconcile finds the post by its text and returns its id."""
    delivery = post("Shelter in place: chemical spill near the loading dock https://example.org/a?x=1")
    fake_x.faults.scripted.append(Fault(drop=True, after_accept=True))
    with pytest.raises(Ambiguous):
        await channel.send(delivery, None)
    receipt = await channel.reconcile(delivery)
    assert receipt is not None and receipt.provider_id == fake_x.posts[-1]["id"]
    paths = [r.path for r in fake_x.requests[-2:]]
    assert paths == ["/2/users/me", "/2/users/1600000000000000001/tweets"]


async def test_reconcile_returns_none_when_the_post_is_absent(channel: TwitterChannel, fake_x: FakeX) -> None:
    """A post that never arrived is reported as absent (None), so it may be sent."""
    await channel.send(post("Something else entirely."), None)
    assert await channel.reconcile(post("The one that was lost.")) is None


async def test_reconcile_checks_the_reply_parent(channel: TwitterChannel, fake_x: FakeX) -> None:
    """Same text replying to a different post is not the delivery being reconciled."""
    first = await channel.send(post("Root A."), None)
    await channel.send(post("Root B."), None)
    await channel.send(post("Follow-up text.", in_reply_to_tweet_id=first.provider_id), None)
    other_parent = fake_x.posts[1]["id"]
    assert await channel.reconcile(post("Follow-up text.", in_reply_to_tweet_id=other_parent)) is None
    found = await channel.reconcile(post("Follow-up text.", in_reply_to_tweet_id=first.provider_id))
    assert found is not None and found.provider_id == fake_x.posts[-1]["id"]


async def test_reconcile_when_x_cannot_be_reached_now() -> None:
    """X unreachable this time: Transient (the dispatcher asks again later), never a guess."""
    ch = build(settings_for("http://127.0.0.1:9"), secrets_from(sandbox_env()), exercise=False)
    with pytest.raises(Transient):
        await ch.reconcile(post())
    await ch.aclose()


async def test_reconcile_throttled_by_x_is_rate_limited_until_the_reset(
    channel: TwitterChannel, fake_x: FakeX
) -> None:
    """X answering the look-up with 429 is RateLimited with the wait until x-rate-limit-reset,
    so the dispatcher pauses the account instead of asking again at once."""
    fault = rate_limited_fault(reset_in_s=120)
    fault.path_contains = "/2/users"
    fake_x.faults.scripted.append(fault)
    with pytest.raises(RateLimited) as info:
        await channel.reconcile(post())
    assert info.value.retry_after_s is not None and 100 <= info.value.retry_after_s <= 120


async def test_reconcile_when_x_refuses_the_credentials(fake_x: FakeX) -> None:
    """X refusing the lookup (401): CannotReconcile, so the in-doubt policy decides."""
    fake_x.faults.scripted.append(Fault(status=401, path_contains="/2/users"))
    ch = build(settings_for(fake_x.base_url), secrets_from(sandbox_env()), exercise=False)
    with pytest.raises(CannotReconcile):
        await ch.reconcile(post())
    await ch.aclose()


# -- the shared contract ----------------------------------------------------------------------
@pytest.fixture
def canary_env() -> Iterator[dict[str, str]]:
    yield make_canaries(*(f"CRISISCAST_TWITTER_{v}" for v in X_VARS))


async def test_contract_suite_with_canary_secrets(canary_env: dict[str, str]) -> None:
    """Success, every error class, limits, and no canary secret in any error or log line."""
    creds = XAccountCredentials(
        consumer_key=canary_env["CRISISCAST_TWITTER_CONSUMER_KEY"],
        consumer_secret=canary_env["CRISISCAST_TWITTER_CONSUMER_SECRET"],
        access_token=canary_env["CRISISCAST_TWITTER_ACCESS_TOKEN"],
        access_token_secret=canary_env["CRISISCAST_TWITTER_ACCESS_TOKEN_SECRET"],
    )
    fake = FakeX(credentials=(creds,))
    url = await fake.start()
    ch = build(settings_for(url), secrets_from(canary_env), exercise=False)
    try:
        cases = list(x_cases().values())
        await run_contract_suite(ch, fake=fake, make_delivery=post, cases=cases, canaries=canary_env.values())
        wrong = canary_env | make_canaries("CRISISCAST_TWITTER_CONSUMER_SECRET")
        bad = build(settings_for(url), secrets_from(wrong), exercise=False)
        with watch_for_leaks([*canary_env.values(), *wrong.values()]) as watch:
            watch.add(await assert_classified(bad, post(), ErrorCase("401", Permanent, code="http_401")))
        await bad.aclose()
    finally:
        await ch.aclose()
        await fake.stop()


def test_limits_match_the_configuration() -> None:
    """Declared limits come from [channels.twitter]; the body limit is X's weighted 280."""
    settings = settings_for("http://127.0.0.1:9", max_requests_per_s=0.5, burst=3, max_attempts=7)
    ch = build(settings, secrets_from(sandbox_env()), exercise=False)
    assert (ch.limits.max_requests_per_s, ch.limits.burst) == (0.5, 3)
    assert ch.limits.max_attempts == 7
    assert SANDBOX_CREDENTIALS.consumer_key not in repr(ch)


# -- the fake's own fidelity ----------------------------------------------------------------
async def test_fake_enforces_the_rate_window_with_real_headers() -> None:
    """An exhausted 15-minute window: X's 429 with reset headers, read as a ~15 minute wait."""
    fake = FakeX(posts_per_window=2)
    url = await fake.start()
    ch = build(settings_for(url), secrets_from(sandbox_env()), exercise=False)
    try:
        await ch.send(post(), None)
        await ch.send(post(), None)
        case = ErrorCase("window", RateLimited, status=429, retry_after_s=900, retry_after_tolerance_s=5)
        await assert_classified(ch, post(), case)
        assert fake.requests[-1].status == 429 and len(fake.posts) == 2
    finally:
        await ch.aclose()
        await fake.stop()


async def test_fake_refuses_a_stale_timestamp(fake_x: FakeX) -> None:
    """A correctly signed request with a timestamp 10 minutes old is refused like X does (401)."""
    c = SANDBOX_CREDENTIALS
    url = f"{fake_x.base_url}/2/users/me"
    client = oauth1.Client(
        c.consumer_key,
        client_secret=c.consumer_secret,
        resource_owner_key=c.access_token,
        resource_owner_secret=c.access_token_secret,
        timestamp=str(int(time.time()) - 600),
    )
    _, headers, _ = client.sign(url, "GET")
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
        assert resp.status == 401
        assert (await resp.json())["title"] == "Unauthorized"
