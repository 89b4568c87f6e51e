"""The LinkedIn organization post channel against the fake Posts API over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from itertools import count
from typing import Any

import aiohttp
import pytest
from pydantic import ValidationError

from crisiscast.channels.base import ChannelUnavailable, RenderContext
from crisiscast.channels.linkedin.adapt import LINKEDIN_MAX_CHARS, escape_little_text
from crisiscast.channels.linkedin.channel import LinkedInChannel, build
from crisiscast.channels.linkedin.config import LinkedInConfig
from crisiscast.channels.linkedin.token import linkedin_probe, token_notice, token_problem
from crisiscast.channels.registry import build_channels, spec_for
from crisiscast.config import Secrets, Settings
from crisiscast.delivery import Delivery
from crisiscast.dispatch import Dispatcher
from crisiscast.dispatch.limiter import LimiterRegistry
from crisiscast.dispatch.plan import render_all
from crisiscast.errors import Ambiguous, CannotReconcile, Duplicate, Permanent, RateLimited, Transient
from crisiscast.message import CrisisMessage, MessageText, MsgType, Severity, Status
from crisiscast.sandbox.common import Fault
from crisiscast.sandbox.linkedin import (
    EXERCISE_ORGANIZATION_ID,
    SANDBOX_ORGANIZATION_ID,
    FakeLinkedIn,
    LinkedInOrganization,
    sandbox_env,
)
from tests.channels.contract import ErrorCase, assert_classified, make_canaries, run_contract_suite
from tests.channels.crash import APPROVAL, crash_then_resume
from tests.dispatch.recording import RecordingStore

_n = count(1)
TOKEN = sandbox_env()["CRISISCAST_LINKEDIN_ACCESS_TOKEN"]


@pytest.fixture
async def fake() -> AsyncIterator[FakeLinkedIn]:
    api = FakeLinkedIn()
    await api.start()
    yield api
    await api.stop()


def settings_for(url: str, **linkedin: object) -> Settings:
    section = {
        "api_base_url": url,
        "organization_id": SANDBOX_ORGANIZATION_ID,
        "exercise_organization_id": EXERCISE_ORGANIZATION_ID,
        **linkedin,
    }
    return Settings.model_validate({"channels": {"linkedin": section}})


def secrets_from(env: dict[str, str]) -> Secrets:
    return Secrets.model_validate({k.removeprefix("CRISISCAST_").lower(): v for k, v in env.items()})


@pytest.fixture
async def channel(fake: FakeLinkedIn) -> AsyncIterator[LinkedInChannel]:
    ch = build(settings_for(fake.base_url), secrets_from(sandbox_env()), exercise=False)
    yield ch
    await ch.aclose()


def message(**kw: object) -> CrisisMessage:
    fields: dict[str, object] = {
        "status": Status.ACTUAL,
        "severity": Severity.SEVERE,
        "headline": "Emergency department diverting ambulances",
        "instruction": "Walk-in patients: use the urgent care centre on Elm St.",
        "web": "https://example.org/status",
    }
    return CrisisMessage.model_validate(fields | kw)


def fresh() -> Delivery:
    return Delivery("d1", "linkedin", "en", 1, f"Notice {next(_n)}: the car park is closed (use Level 2).")


# -- build and configuration ------------------------------------------------------------------
def test_build_names_what_is_missing() -> None:
    """No token or no drill page: unavailable, naming the variable or setting to fix."""
    with pytest.raises(ChannelUnavailable, match="CRISISCAST_LINKEDIN_ACCESS_TOKEN"):
        build(settings_for("http://127.0.0.1:9"), secrets_from({}), exercise=False)
    with pytest.raises(ChannelUnavailable, match="exercise_organization_id"):
        build(
            settings_for("http://127.0.0.1:9", exercise_organization_id=None),
            secrets_from(sandbox_env()),
            exercise=True,
        )
    drill = build(settings_for("http://127.0.0.1:9"), secrets_from(sandbox_env()), exercise=True)
    assert drill.account == f"linkedin:{EXERCISE_ORGANIZATION_ID}" and drill.author.endswith(
        EXERCISE_ORGANIZATION_ID
    )


def test_exercise_page_equal_to_production_is_refused_by_the_configuration() -> None:
    """The drill page may not be the production page, however the id is written."""
    with pytest.raises(ValidationError, match="exercise_organization_id"):
        settings_for("http://127.0.0.1:9", exercise_organization_id=f"00{SANDBOX_ORGANIZATION_ID}")


def test_exercise_clash_at_build_time_skips_the_channel() -> None:
    """A drill page equal to production that slipped past loading is caught when the channels are built."""
    settings = settings_for("http://127.0.0.1:9")
    section = (
        spec_for("linkedin")
        .config(settings)
        .model_copy(update={"exercise_organization_id": SANDBOX_ORGANIZATION_ID})
    )
    settings = settings.model_copy(
        update={"channels": settings.channels.model_copy(update={"linkedin": section})}
    )
    drill = message(status=Status.EXERCISE, audiences=("exercise",), channels=("linkedin",))
    channels, skipped = build_channels(settings, secrets_from(sandbox_env()), drill)
    assert channels == [] and skipped[0][0] == "linkedin" and "production" in skipped[0][1]


# -- render, preview, token --------------------------------------------------------------------
def test_commentary_escapes_little_text_markup() -> None:
    """LinkedIn's reserved characters are backslash-escaped so the text is never cut or mangled."""
    assert escape_little_text("Call (555) 0100 #ER @desk [now] <3 a_b*c~d|e{f}\\") == (
        "Call \\(555\\) 0100 \\#ER \\@desk \\[now\\] \\<3 a\\_b\\*c\\~d\\|e\\{f\\}\\\\"
    )


def test_follow_up_is_a_new_post_naming_the_original(channel: LinkedInChannel) -> None:
    """An Update refers to the original post by its address; an Alert never does."""
    original = "urn:li:share:7300000000000000001"
    update = message(msg_type=MsgType.UPDATE, references=("a,b,c",), headline="Diversion ended")
    [d] = channel.render(update, RenderContext(dispatch_id="d2", reply_to={"linkedin": original}))
    assert d.body.endswith(f"\n\nEarlier post: https://www.linkedin.com/feed/update/{original}/")
    assert d.payload["refers_to"] == original
    [a] = channel.render(message(), RenderContext(dispatch_id="d3", reply_to={"linkedin": original}))
    assert "Earlier post" not in a.body


def test_preview_is_the_exact_post_with_its_length_and_the_token() -> None:
    """The preview shows the words as readers see them, the length as sent, and the token's expiry."""
    settings = settings_for(
        "http://127.0.0.1:9", token_expires_at=(datetime.now(UTC) + timedelta(days=40)).date()
    )
    msg = message(
        status=Status.EXERCISE, translations={"es": MessageText(headline="Urgencias desviando ambulancias")}
    )
    preview = spec_for("linkedin").preview(msg, settings)
    [panel] = preview.panels()
    [text] = panel.parts
    assert text == (
        "EXERCISE EXERCISE EXERCISE Emergency department diverting ambulances\n"
        "Walk-in patients: use the urgent care centre on Elm St.\n\n"
        "Urgencias desviando ambulancias\n\n"
        "https://example.org/status"
    )
    assert panel.measure == f"{len(text)} of 3,000 characters"
    assert preview.summary() == (
        "LinkedIn: the exercise access token's expiry is not configured; LinkedIn tokens last 60 days, "
        "set [channels.linkedin] exercise_token_expires_at to be warned before it stops working."
    )
    prod = spec_for("linkedin").preview(message(), settings).summary()
    expires = spec_for("linkedin").config(settings).token_expires_at
    days = (expires - datetime.now(UTC).date()).days
    assert prod == f"LinkedIn: the access token expires on {expires}, in {days} days."


def test_a_long_description_is_left_out_and_said() -> None:
    """A post over 3,000 characters as sent drops the description; the preview says so."""
    preview: Any = spec_for("linkedin").preview(message(description="Details (room 4). " * 200), Settings())
    [post] = preview.posts
    assert post.description_left_out and post.characters <= LINKEDIN_MAX_CHARS
    assert "description left out" in preview.panels()[0].measure


def test_token_expiry_is_said_before_it_happens() -> None:
    """Within token_warn_days or past the date: a plain sentence saying what to renew."""
    today = date(2026, 12, 3)
    soon = LinkedInConfig(token_expires_at=date(2026, 12, 10))
    assert token_problem(soon, exercise=False, today=today) == (
        "LinkedIn: the access token expires on 2026-12-10 (in 7 days); re-authorise the LinkedIn app "
        "(w_organization_social) and set CRISISCAST_LINKEDIN_ACCESS_TOKEN and [channels.linkedin] "
        "token_expires_at."
    )
    gone = LinkedInConfig(exercise_token_expires_at=date(2026, 12, 1))
    assert "expired on 2026-12-01" in (token_problem(gone, exercise=True, today=today) or "")
    later = LinkedInConfig(token_expires_at=date(2027, 1, 30))
    assert token_problem(later, exercise=False, today=today) is None
    assert token_notice(later, exercise=False, today=today) == (
        "LinkedIn: the access token expires on 2027-01-30, in 58 days."
    )


async def test_health_probe_turns_unhealthy_near_expiry() -> None:
    """/healthz's probe reports a token near expiry, and nothing for one far from it."""
    near = LinkedInConfig(token_expires_at=(datetime.now(UTC) + timedelta(days=3)).date())
    problem = await linkedin_probe(near, Secrets())()
    assert problem is not None and "re-authorise" in problem
    far = LinkedInConfig(token_expires_at=(datetime.now(UTC) + timedelta(days=50)).date())
    assert await linkedin_probe(far, Secrets())() is None


def test_phi_is_refused_before_anything_is_rendered(channel: LinkedInChannel) -> None:
    """A public channel: text that looks like a date of birth is refused at planning."""
    _, deliveries, failed = render_all(
        message(description="Patient John Smith (DOB 03/14/1956) transferred."),
        [channel],
        RenderContext("d1"),
    )
    assert deliveries["linkedin"] == [] and "LinkedIn page" in failed[0].reason


# -- send ---------------------------------------------------------------------------------------
async def test_post_shape_headers_and_id(channel: LinkedInChannel, fake: FakeLinkedIn) -> None:
    """POST /rest/posts as the organization, PUBLIC/MAIN_FEED/PUBLISHED, versioned Rest.li headers;
    the provider id is x-restli-id."""
    receipt = await channel.send(fresh(), None)
    seen = fake.requests[-1]
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    assert (
        seen.headers["Linkedin-Version"] == "202511" and seen.headers["X-Restli-Protocol-Version"] == "2.0.0"
    )
    [post] = fake.posts
    assert receipt.provider_id == post["id"] and post["id"].startswith("urn:li:share:")
    assert post["author"] == f"urn:li:organization:{SANDBOX_ORGANIZATION_ID}"
    assert "\\(use Level 2\\)" in post["commentary"]


async def test_the_fake_refuses_a_request_without_the_rest_li_headers(fake: FakeLinkedIn) -> None:
    """The fake enforces what LinkedIn does: no version header → 400 VERSION_MISSING; no Rest.li 2.0 → 400."""
    async with aiohttp.ClientSession() as session:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with session.post(f"{fake.base_url}/rest/posts", json={}, headers=auth) as r:
            assert (r.status, (await r.json())["code"]) == (400, "VERSION_MISSING")
        async with session.post(
            f"{fake.base_url}/rest/posts", json={}, headers={**auth, "Linkedin-Version": "202511"}
        ) as r:
            assert r.status == 400 and "2.0.0" in (await r.json())["message"]


def linkedin_cases() -> list[ErrorCase]:
    return [
        ErrorCase(
            "daily 429",
            RateLimited,
            code="TOO_MANY_REQUESTS",
            reason_contains="00:00 UTC",
            fault=Fault(status=429),
        ),
        ErrorCase(
            "429 with Retry-After",
            RateLimited,
            retry_after_s=60,
            fault=Fault(status=429, body={}, headers={"Retry-After": "60"}),
        ),
        ErrorCase("500", Ambiguous, code="INTERNAL_SERVER_ERROR", fault=Fault(status=500)),
        ErrorCase("504 gateway", Ambiguous, code="http_504", fault=Fault(status=504, body="Gateway Timeout")),
        ErrorCase(
            "drop after accept", Ambiguous, code="disconnected", fault=Fault(drop=True, after_accept=True)
        ),
        ErrorCase(
            "revoked 401",
            Permanent,
            code="REVOKED_ACCESS_TOKEN",
            reason_contains="60 days",
            fault=Fault(
                status=401,
                body={
                    "status": 401,
                    "serviceErrorCode": 65602,
                    "code": "REVOKED_ACCESS_TOKEN",
                    "message": "The token used in the request has been revoked by the user",
                },
            ),
        ),
        ErrorCase("bad request 400", Permanent, code="ILLEGAL_ARGUMENT", fault=Fault(status=400)),
    ]


@pytest.mark.parametrize("case", linkedin_cases(), ids=str)
async def test_linkedin_errors_are_classified(
    case: ErrorCase, channel: LinkedInChannel, fake: FakeLinkedIn
) -> None:
    """Each LinkedIn answer maps to its class; any 5xx may have published the post: Ambiguous."""
    await assert_classified(channel, fresh(), case, fake=fake)


async def test_daily_limit_waits_until_utc_midnight(channel: LinkedInChannel, fake: FakeLinkedIn) -> None:
    """A daily 429 without Retry-After pauses the page until 00:00 UTC, when LinkedIn resets it."""
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    case = ErrorCase(
        "day", RateLimited, retry_after_s=(midnight - now).total_seconds(), fault=Fault(status=429)
    )
    await assert_classified(channel, fresh(), case, fake=fake)


async def test_the_fakes_real_refusals(fake: FakeLinkedIn) -> None:
    """Expired token 401, another page's token 403, a retired version 426, too long 422, duplicate 422."""
    expired = FakeLinkedIn(expired_tokens=frozenset({TOKEN}))
    url = await expired.start()
    ch = build(settings_for(url), secrets_from(sandbox_env()), exercise=False)
    await assert_classified(
        ch, fresh(), ErrorCase("expired", Permanent, code="EXPIRED_ACCESS_TOKEN", status=401)
    )
    await ch.aclose()
    await expired.stop()
    other = {"CRISISCAST_LINKEDIN_ACCESS_TOKEN": sandbox_env()["CRISISCAST_LINKEDIN_EXERCISE_ACCESS_TOKEN"]}
    ch = build(settings_for(fake.base_url), secrets_from(other), exercise=False)
    await assert_classified(
        ch,
        fresh(),
        ErrorCase("403", Permanent, code="ACCESS_DENIED", reason_contains="w_organization_social"),
    )
    await ch.aclose()
    ch = build(settings_for(fake.base_url, api_version="202001"), secrets_from(sandbox_env()), exercise=False)
    await assert_classified(
        ch, fresh(), ErrorCase("426", Permanent, code="NONEXISTENT_VERSION", reason_contains="api_version")
    )
    await ch.aclose()
    ch = build(settings_for(fake.base_url), secrets_from(sandbox_env()), exercise=False)
    long = Delivery("d1", "linkedin", "en", 1, "x" * 3001)
    await assert_classified(ch, long, ErrorCase("long", Permanent, code="UNPROCESSABLE_ENTITY", status=422))
    same = fresh()
    first = await ch.send(same, None)
    dup = await assert_classified(ch, same, ErrorCase("dup", Duplicate, code="DUPLICATE_POST", status=422))
    assert str(first.provider_id) in str(dup)
    await ch.aclose()


async def test_connection_refused_is_transient() -> None:
    """Nothing listening: nothing was sent, so it is safe to send (Transient)."""
    ch = build(settings_for("http://127.0.0.1:9"), secrets_from(sandbox_env()), exercise=False)
    await assert_classified(ch, fresh(), ErrorCase("refused", Transient, code="connect_error"))
    await ch.aclose()


# -- reconcile and resume -----------------------------------------------------------------------
async def test_reconcile_reads_the_pages_recent_posts(channel: LinkedInChannel, fake: FakeLinkedIn) -> None:
    """After an ambiguous 500, the post is found among the page's posts (URN URL-encoded in the query)."""
    d = fresh()
    fake.faults.scripted.append(Fault(status=500, after_accept=True))
    with pytest.raises(Ambiguous):
        await channel.send(d, None)
    found = await channel.reconcile(d)
    assert found is not None and found.provider_id == fake.posts[-1]["id"]
    seen = fake.requests[-1]
    assert (seen.method, seen.query["q"], seen.query["author"]) == (
        "GET",
        "author",
        f"urn:li:organization:{SANDBOX_ORGANIZATION_ID}",
    )
    assert await channel.reconcile(fresh()) is None


async def test_reconcile_refused_cannot_reconcile(fake: FakeLinkedIn) -> None:
    """A look-up LinkedIn refuses (bad token) is CannotReconcile, never 'absent'."""
    ch = build(
        settings_for(fake.base_url),
        secrets_from({"CRISISCAST_LINKEDIN_ACCESS_TOKEN": "AQVwrong"}),
        exercise=False,
    )
    with pytest.raises(CannotReconcile, match="60 days"):
        await ch.reconcile(fresh())
    await ch.aclose()


async def test_an_ambiguous_500_is_never_sent_again_blindly(
    channel: LinkedInChannel, fake: FakeLinkedIn
) -> None:
    """The dispatcher reconciles after a 500 that had published the post: one post, delivered."""
    store = RecordingStore()
    await store.open()
    try:
        fake.faults.scripted.append(Fault(status=500, after_accept=True))
        dispatcher = Dispatcher(store, limiters=LimiterRegistry(), backoff_base_s=0.001, backoff_cap_s=0.002)
        report = await dispatcher.dispatch(message(), [channel], approval=APPROVAL)
        assert report.ok and len(fake.posts) == 1
        assert [r.method for r in fake.requests] == ["POST", "GET"]
    finally:
        await store.close()


@pytest.mark.parametrize("accepted", [True, False], ids=["page-had-it", "page-did-not"])
async def test_resume_after_a_crash_never_posts_twice(
    channel: LinkedInChannel, fake: FakeLinkedIn, accepted: bool
) -> None:
    """Killed after the create left: resume reads the page's posts and posts only if it is not there."""
    report, store = await crash_then_resume(channel, message(), accepted=accepted)
    try:
        assert report.ok and report.channels["linkedin"].delivered == 1
        assert len(fake.posts) == 1
    finally:
        await store.close()


# -- the shared contract ------------------------------------------------------------------------
async def test_contract_suite_with_a_canary_token() -> None:
    """Success, every error class, limits, and the canary token in no error or log line."""
    canaries = make_canaries("CRISISCAST_LINKEDIN_ACCESS_TOKEN")
    api = FakeLinkedIn(
        organizations=(
            LinkedInOrganization(SANDBOX_ORGANIZATION_ID, canaries["CRISISCAST_LINKEDIN_ACCESS_TOKEN"]),
        )
    )
    url = await api.start()
    ch = build(settings_for(url), secrets_from(canaries), exercise=False)
    try:
        await run_contract_suite(
            ch,
            fake=api,
            make_delivery=fresh,
            cases=linkedin_cases(),
            canaries=canaries.values(),
            not_applicable={
                Transient: "no idempotency key: every answer after the request left is Ambiguous; "
                "only a request that never left is Transient (test_connection_refused_is_transient)"
            },
        )
    finally:
        await ch.aclose()
        await api.stop()
