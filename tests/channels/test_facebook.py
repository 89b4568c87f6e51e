"""The Facebook Page channel against the fake Graph API over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from itertools import count
from urllib.parse import parse_qs

import pytest
from multidict import CIMultiDict

from crisiscast.channels.base import ChannelUnavailable, RenderContext
from crisiscast.channels.facebook.channel import (
    REAUTHORISE_REASON,
    FacebookChannel,
    build,
    graph_retry_after_s,
)
from crisiscast.config import Secrets, Settings
from crisiscast.delivery import Delivery
from crisiscast.errors import Ambiguous, CannotReconcile, Duplicate, Permanent, RateLimited, Transient
from crisiscast.message import CrisisMessage, MsgType, Status
from crisiscast.sandbox.common import Fault
from crisiscast.sandbox.graph import (
    EXERCISE_PAGE_ID,
    SANDBOX_PAGE_ID,
    FakeGraph,
    GraphPage,
    graph_error,
    permanent_fault,
    sandbox_env,
    throttled_fault,
)
from tests.channels.contract import (
    ErrorCase,
    assert_classified,
    assert_delivers,
    make_canaries,
    run_contract_suite,
    watch_for_leaks,
)

_texts = count(1)


@pytest.fixture
async def fake_graph() -> AsyncIterator[FakeGraph]:
    fake = FakeGraph()
    await fake.start()
    yield fake
    await fake.stop()


def settings_for(url: str, **facebook: object) -> Settings:
    pages = {"page_id": SANDBOX_PAGE_ID, "exercise_page_id": EXERCISE_PAGE_ID}
    return Settings.model_validate({"channels": {"facebook": {"graph_base_url": url, **pages, **facebook}}})


def secrets_from(env: dict[str, str]) -> Secrets:
    return Secrets.model_validate({k.removeprefix("CRISISCAST_").lower(): v for k, v in env.items()})


@pytest.fixture
async def channel(fake_graph: FakeGraph) -> AsyncIterator[FacebookChannel]:
    ch = build(settings_for(fake_graph.base_url), secrets_from(sandbox_env()), exercise=False)
    yield ch
    await ch.aclose()


def post(text: str | None = None, **payload: object) -> Delivery:
    return Delivery(
        dispatch_id="d1",
        channel="facebook",
        target="en",
        part=1,
        body=text or f"Water outage in building C (notice {next(_texts)}). Use bottled water.",
        payload=payload,
    )


# -- build ---------------------------------------------------------------------------------
def test_build_names_the_missing_token() -> None:
    """No Page token: the channel is unavailable, naming the variable to set."""
    with pytest.raises(ChannelUnavailable, match="CRISISCAST_FACEBOOK_PAGE_TOKEN"):
        build(settings_for("http://127.0.0.1:9"), secrets_from({}), exercise=False)


def test_build_for_an_exercise_uses_the_exercise_page_and_token() -> None:
    """An Exercise posts to the exercise Page with its own token, or not at all."""
    ch = build(settings_for("http://127.0.0.1:9"), secrets_from(sandbox_env()), exercise=True)
    assert ch.account == f"facebook:{EXERCISE_PAGE_ID}"
    with pytest.raises(ChannelUnavailable, match="CRISISCAST_FACEBOOK_EXERCISE_PAGE_TOKEN"):
        only_page = {"CRISISCAST_FACEBOOK_PAGE_TOKEN": "x" * 20}
        build(settings_for("http://127.0.0.1:9"), secrets_from(only_page), exercise=True)
    with pytest.raises(ChannelUnavailable, match="exercise_page_id"):
        build(
            settings_for("http://127.0.0.1:9", exercise_page_id=None),
            secrets_from(sandbox_env()),
            exercise=True,
        )


def test_build_refuses_a_disabled_channel() -> None:
    """A disabled Facebook channel is unavailable with a reason that says so."""
    with pytest.raises(ChannelUnavailable, match="disabled"):
        build(settings_for("http://127.0.0.1:9", enabled=False), secrets_from(sandbox_env()), exercise=False)


def test_limits_and_account_come_from_the_configuration() -> None:
    """The account is the Page; declared limits come from [channels.facebook]."""
    ch = build(
        settings_for("http://127.0.0.1:9", max_requests_per_s=2.0, burst=2),
        secrets_from(sandbox_env()),
        exercise=False,
    )
    assert ch.account == f"facebook:{SANDBOX_PAGE_ID}"
    assert (ch.limits.max_requests_per_s, ch.limits.burst) == (2.0, 2)


# -- render ---------------------------------------------------------------------------------
def message(**kw: object) -> CrisisMessage:
    fields: dict[str, object] = {
        "status": Status.ACTUAL,
        "headline": "Power failure in the main building",
        "instruction": "Avoid the lifts; use the stairs.",
        "web": "https://example.org/status",
    }
    return CrisisMessage.model_validate(fields | kw)


def test_render_is_one_post_with_the_link(channel: FacebookChannel) -> None:
    """One delivery per rendering; the web link goes in the payload as Graph's link."""
    [only] = channel.render(message(), RenderContext(dispatch_id="d9"))
    assert (only.key, only.after) == ("d9:facebook:en:1", None)
    assert only.payload["link"] == "https://example.org/status"
    assert "Power failure" in only.body


def test_render_update_refers_to_the_original_post(channel: FacebookChannel) -> None:
    """An Update is a new post that keeps the original post id it refers to (and links to it)."""
    update = message(msg_type=MsgType.UPDATE, references=("crisiscast-1",), web=None)
    ctx = RenderContext(dispatch_id="d9", reply_to={"facebook": f"{SANDBOX_PAGE_ID}_42"})
    [only] = channel.render(update, ctx)
    assert only.payload == {
        "refers_to": f"{SANDBOX_PAGE_ID}_42",
        "link": f"https://www.facebook.com/{SANDBOX_PAGE_ID}/posts/42",
    }


# -- send ----------------------------------------------------------------------------------
async def test_post_is_a_form_with_the_token_in_a_header(
    channel: FacebookChannel, fake_graph: FakeGraph
) -> None:
    """The post is form-encoded message+link; the token is a Bearer header, never in the URL."""
    receipt = await assert_delivers(channel, post("Fire drill at 14:00.", link="https://example.org/a"))
    seen = fake_graph.requests[-1]
    assert seen.path == f"/v21.0/{SANDBOX_PAGE_ID}/feed"
    assert parse_qs(seen.body) == {"message": ["Fire drill at 14:00."], "link": ["https://example.org/a"]}
    assert seen.query == {}
    assert seen.headers["Authorization"] == f"Bearer {sandbox_env()['CRISISCAST_FACEBOOK_PAGE_TOKEN']}"
    assert receipt.provider_id == fake_graph.posts[-1]["id"]
    assert str(receipt.provider_id).startswith(f"{SANDBOX_PAGE_ID}_")


def graph_cases() -> dict[str, ErrorCase]:
    def fault(code: int, message: str, status: int = 400, subcode: int | None = None) -> Fault:
        body = graph_error(code, message)
        if subcode:
            body["error"]["error_subcode"] = subcode
        return Fault(status=status, body=body)

    return {
        "is_transient": ErrorCase(
            "is_transient",
            Transient,
            code="2",
            fault=Fault(status=500),  # the fake's Graph 5xx shape
        ),
        "code 1": ErrorCase("code 1", Transient, code="1", fault=fault(1, "An unknown error occurred")),
        "code 341": ErrorCase(
            "code 341", Transient, code="341", fault=fault(341, "(#341) Application limit reached")
        ),
        "plain 503": ErrorCase(
            "plain 503", Transient, code="http_503", fault=Fault(status=503, body="upstream down")
        ),
        "throttled 32 with BUC": ErrorCase(
            "throttled 32 with BUC", RateLimited, code="32", retry_after_s=420, fault=throttled_fault(7)
        ),
        "throttled 80001": ErrorCase(
            "throttled 80001",
            RateLimited,
            code="80001",
            no_retry_after=True,
            fault=fault(80001, "There have been too many calls to this Page account.", subcode=2494055),
        ),
        "throttled 4": ErrorCase(
            "throttled 4", RateLimited, code="4", fault=fault(4, "(#4) Application request limit reached")
        ),
        "throttled 17": ErrorCase(
            "throttled 17", RateLimited, code="17", fault=fault(17, "(#17) User request limit reached")
        ),
        "throttled 613": ErrorCase(
            "throttled 613", RateLimited, code="613", fault=fault(613, "Calls exceeded the rate")
        ),
        "token 190": ErrorCase(
            "token 190",
            Permanent,
            code="190",
            reason_contains=REAUTHORISE_REASON,
            fault=fault(190, "Error validating access token: Session has expired", subcode=463),
        ),
        "permission 10": ErrorCase(
            "permission 10", Permanent, code="10", fault=fault(10, "(#10) Permission denied", 403)
        ),
        "permission 200": ErrorCase(
            "permission 200", Permanent, code="200", fault=fault(200, "(#200) Permissions error", 403)
        ),
        "permission 299": ErrorCase(
            "permission 299", Permanent, code="299", fault=fault(299, "(#299) Permission", 403)
        ),
        "parameter 100": ErrorCase(
            "parameter 100",
            Permanent,
            code="100",
            reason_contains="Invalid parameter",
            fault=fault(100, "(#100) Invalid parameter"),
        ),
        "policy 368": ErrorCase(
            "policy 368", Permanent, code="368", fault=fault(368, "(#368) Temporarily blocked")
        ),
        "duplicate 506": ErrorCase(
            "duplicate 506", Duplicate, code="506", fault=permanent_fault(506, "(#506) Dup")
        ),
        "drop after accept": ErrorCase(
            "drop after accept", Ambiguous, code="disconnected", fault=Fault(drop=True, after_accept=True)
        ),
    }


@pytest.mark.parametrize("name", list(graph_cases()))
async def test_graph_errors_are_classified(
    name: str, channel: FacebookChannel, fake_graph: FakeGraph
) -> None:
    """Each Graph error code maps to its class and code (see the case table)."""
    await assert_classified(channel, post(), graph_cases()[name], fake=fake_graph)


async def test_expired_token_is_said_plainly(fake_graph: FakeGraph) -> None:
    """A wrong/expired token: the fake's real 190 answer becomes the plain re-authorise sentence."""
    ch = build(
        settings_for(fake_graph.base_url),
        secrets_from({"CRISISCAST_FACEBOOK_PAGE_TOKEN": "EAAexpired0000"}),
        exercise=False,
    )
    err = await assert_classified(ch, post(), ErrorCase("190", Permanent, code="190", status=400))
    assert str(err) == REAUTHORISE_REASON
    assert fake_graph.posts == []
    await ch.aclose()


async def test_another_pages_token_is_a_permission_error(fake_graph: FakeGraph) -> None:
    """A valid token of another Page cannot post here: Graph's permission code 200."""
    env = {"CRISISCAST_FACEBOOK_PAGE_TOKEN": sandbox_env()["CRISISCAST_FACEBOOK_EXERCISE_PAGE_TOKEN"]}
    ch = build(settings_for(fake_graph.base_url), secrets_from(env), exercise=False)
    await assert_classified(ch, post(), ErrorCase("200", Permanent, code="200", status=403))
    await ch.aclose()


async def test_consecutive_duplicate_is_506(channel: FacebookChannel) -> None:
    """Posting the Page's last message again: Graph's own 506 answer, permanent."""
    await channel.send(post("Same words."), None)
    await assert_classified(channel, post("Same words."), ErrorCase("506", Duplicate, code="506"))


async def test_timeout_after_send_is_ambiguous(fake_graph: FakeGraph) -> None:
    """No answer in time after the request was written: the post may exist (Ambiguous)."""
    ch = build(
        settings_for(fake_graph.base_url, request_timeout_s=0.2), secrets_from(sandbox_env()), exercise=False
    )
    case = ErrorCase("timeout", Ambiguous, code="timeout", fault=Fault(status=200, delay_s=0.6))
    await assert_classified(ch, post(), case, fake=fake_graph)
    await ch.aclose()


async def test_connection_refused_is_transient() -> None:
    """Nothing listening: nothing was sent, so it is safe to retry (Transient)."""
    ch = build(settings_for("http://127.0.0.1:9"), secrets_from(sandbox_env()), exercise=False)
    await assert_classified(ch, post(), ErrorCase("refused", Transient, code="connect_error"))
    await ch.aclose()


@pytest.mark.parametrize(
    ("header", "expected_s"),
    [
        (None, None),
        ("not json", None),
        ('{"1": [{"type": "pages", "estimated_time_to_regain_access": 0}]}', None),
        ('{"1": [{"type": "pages", "estimated_time_to_regain_access": 3}]}', 180.0),
        (
            '{"1": [{"estimated_time_to_regain_access": 3}], "2": [{"estimated_time_to_regain_access": 10}]}',
            600.0,
        ),
    ],
)
def test_retry_after_from_business_use_case_usage(header: str | None, expected_s: float | None) -> None:
    """retry_after_s is the longest estimated_time_to_regain_access, in minutes → seconds."""
    headers = CIMultiDict({"X-Business-Use-Case-Usage": header} if header else {})
    assert graph_retry_after_s(headers) == expected_s


# -- reconcile ------------------------------------------------------------------------------
async def test_reconcile_finds_a_post_accepted_before_the_drop(
    channel: FacebookChannel, fake_graph: FakeGraph
) -> None:
    """After an ambiguous drop, reconcile finds the post in the Page feed by its text."""
    delivery = post("Shelter in place.\n\nChemical spill near the loading dock.")
    fake_graph.faults.scripted.append(Fault(drop=True, after_accept=True))
    with pytest.raises(Ambiguous):
        await channel.send(delivery, None)
    receipt = await channel.reconcile(delivery)
    assert receipt is not None and receipt.provider_id == fake_graph.posts[-1]["id"]
    seen = fake_graph.requests[-1]
    assert (seen.method, seen.query["fields"]) == ("GET", "id,message,created_time")
    assert "access_token" not in seen.query


async def test_reconcile_returns_none_when_absent(channel: FacebookChannel) -> None:
    """A post that never arrived is reported absent (None), so it may be sent."""
    await channel.send(post("Something else."), None)
    assert await channel.reconcile(post("The lost one.")) is None


async def test_reconcile_throttled_by_graph_is_rate_limited(
    channel: FacebookChannel, fake_graph: FakeGraph
) -> None:
    """Graph throttling the feed look-up (code 32) is RateLimited with the wait from
    X-Business-Use-Case-Usage, so the dispatcher pauses the Page instead of asking again at once."""
    fake_graph.faults.scripted.append(throttled_fault(regain_minutes=2))
    with pytest.raises(RateLimited) as info:
        await channel.reconcile(post())
    assert info.value.retry_after_s == 120.0


async def test_reconcile_with_a_bad_token_cannot_reconcile(fake_graph: FakeGraph) -> None:
    """Graph refusing to list the feed is CannotReconcile, never 'absent'."""
    ch = build(
        settings_for(fake_graph.base_url),
        secrets_from({"CRISISCAST_FACEBOOK_PAGE_TOKEN": "EAAwrong000"}),
        exercise=False,
    )
    with pytest.raises(CannotReconcile, match="expired or is invalid"):
        await ch.reconcile(post())
    await ch.aclose()


# -- the shared contract ----------------------------------------------------------------------
async def test_contract_suite_with_a_canary_token() -> None:
    """Success, every error class, limits, and the canary token in no error or log line."""
    canaries = make_canaries("CRISISCAST_FACEBOOK_PAGE_TOKEN")
    fake = FakeGraph(pages=(GraphPage(SANDBOX_PAGE_ID, canaries["CRISISCAST_FACEBOOK_PAGE_TOKEN"]),))
    url = await fake.start()
    ch = build(settings_for(url), secrets_from(canaries), exercise=False)
    try:
        cases = list(graph_cases().values())
        await run_contract_suite(ch, fake=fake, make_delivery=post, cases=cases, canaries=canaries.values())
        wrong = make_canaries("CRISISCAST_FACEBOOK_PAGE_TOKEN")
        bad = build(settings_for(url), secrets_from(wrong), exercise=False)
        with watch_for_leaks([*canaries.values(), *wrong.values()]) as watch:
            watch.add(await assert_classified(bad, post(), ErrorCase("190", Permanent, code="190")))
            with pytest.raises(CannotReconcile) as info:
                await bad.reconcile(post())
            watch.add(info.value)
        await bad.aclose()
    finally:
        await ch.aclose()
        await fake.stop()
