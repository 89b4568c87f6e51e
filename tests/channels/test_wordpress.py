"""The WordPress news post channel against the fake WordPress REST API over real HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from itertools import count

import pytest
from pydantic import ValidationError

from crisiscast.audit.base import DeliveryRecord
from crisiscast.channels.base import ChannelUnavailable, RenderContext
from crisiscast.channels.registry import build_channels, spec_for
from crisiscast.channels.wordpress.adapt import slug_for
from crisiscast.channels.wordpress.channel import WordPressChannel, build
from crisiscast.config import Secrets, Settings
from crisiscast.delivery import Delivery, DeliveryState
from crisiscast.dispatch.plan import render_all
from crisiscast.errors import Ambiguous, CannotReconcile, Permanent, RateLimited, Transient
from crisiscast.message import CrisisMessage, MessageText, MsgType, Severity, Status
from crisiscast.sandbox.common import Fault
from crisiscast.sandbox.wordpress import (
    SANDBOX_CREDENTIALS,
    FakeWordPress,
    WordPressUser,
    sandbox_env,
    wp_error,
)
from tests.channels.contract import ErrorCase, assert_classified, make_canaries, run_contract_suite
from tests.channels.crash import crash_then_resume

_ids = count(1)
SENT = datetime(2026, 12, 3, 14, 5, tzinfo=UTC)


@pytest.fixture
async def fake() -> AsyncIterator[FakeWordPress]:
    site = FakeWordPress()
    await site.start()
    yield site
    await site.stop()


def settings_for(url: str, **wordpress: object) -> Settings:
    section = {"site_url": url, "username": "crisiscast", "category_id": 7, **wordpress}
    return Settings.model_validate({"channels": {"wordpress": section}})


def secrets_from(env: dict[str, str]) -> Secrets:
    return Secrets.model_validate({k.removeprefix("CRISISCAST_").lower(): v for k, v in env.items()})


@pytest.fixture
async def channel(fake: FakeWordPress) -> AsyncIterator[WordPressChannel]:
    ch = build(settings_for(fake.base_url), secrets_from(sandbox_env()), exercise=False)
    yield ch
    await ch.aclose()


def message(**kw: object) -> CrisisMessage:
    fields: dict[str, object] = {
        "identifier": f"crisiscast-{next(_ids)}",
        "status": Status.ACTUAL,
        "severity": Severity.SEVERE,
        "sent": SENT,
        "headline": "Water outage in Building C",
        "instruction": "Use bottled water.",
        "web": "https://example.org/status",
    }
    return CrisisMessage.model_validate(fields | kw)


def fresh() -> Delivery:
    n = next(_ids)
    payload = {
        "title": f"Notice {n}",
        "sticky": True,
        "slug": f"crisiscast-c{n}",
        "status": "publish",
        "categories": [7],
    }
    return Delivery("d1", "wordpress", "site", 1, f"<p>Notice {n}</p>", payload=payload)


# -- configuration and build ----------------------------------------------------------------
def test_a_plain_http_site_is_refused_at_load_unless_it_is_this_machine() -> None:
    """The application password never travels unencrypted: http:// is only for 127.0.0.1/localhost."""
    with pytest.raises(ValidationError, match="is not an https:// address"):
        settings_for("http://news.example-hospital.org")
    with pytest.raises(ValidationError, match="exercise_site_url"):
        settings_for("https://news.example-hospital.org", exercise_site_url="http://staging.example.org")
    assert (
        spec_for("wordpress").config(settings_for("http://localhost:8704")).site_url
        == "http://localhost:8704"
    )
    assert spec_for("wordpress").config(settings_for("https://news.example-hospital.org/")).site_url == (
        "https://news.example-hospital.org"
    )


def test_build_names_what_is_missing() -> None:
    """No password, no user, no drill site: unavailable, naming the variable or setting to fix."""
    with pytest.raises(ChannelUnavailable, match="CRISISCAST_WORDPRESS_APP_PASSWORD"):
        build(settings_for("http://127.0.0.1:9"), secrets_from({}), exercise=False)
    with pytest.raises(ChannelUnavailable, match="username"):
        build(settings_for("http://127.0.0.1:9", username=""), secrets_from(sandbox_env()), exercise=False)
    with pytest.raises(ChannelUnavailable, match="exercise_site_url"):
        build(settings_for("http://127.0.0.1:9"), secrets_from(sandbox_env()), exercise=True)
    drill = settings_for("http://127.0.0.1:9", exercise_site_url="http://127.0.0.1:10")
    with pytest.raises(ChannelUnavailable, match="CRISISCAST_WORDPRESS_EXERCISE_APP_PASSWORD"):
        build(drill, secrets_from(sandbox_env()), exercise=True)
    ch = build(drill, secrets_from(sandbox_env(exercise=True)), exercise=True)
    assert ch.account == "wordpress:127.0.0.1:10"


def test_exercise_site_equal_to_production_is_refused_by_the_configuration() -> None:
    """An exercise site that is the production site in another spelling is refused at load."""
    with pytest.raises(ValidationError, match="exercise_site_url"):
        settings_for("https://www.example-hospital.org", exercise_site_url="HTTPS://example-hospital.org/")


def test_exercise_clash_at_build_time_skips_the_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Built for a drill, a channel whose site is the production one is skipped with the reason."""
    settings = settings_for("http://127.0.0.1:9", exercise_site_url="http://127.0.0.1:10")
    monkeypatch.setattr("crisiscast.channels.wordpress.channel.site_identity", lambda url: "same-site")
    drill = message(status=Status.EXERCISE, audiences=("exercise",), channels=("wordpress",))
    env = {**sandbox_env(), **sandbox_env(exercise=True)}
    channels, skipped = build_channels(settings, secrets_from(env), drill)
    assert channels == []
    [(name, reason)] = skipped
    assert name == "wordpress" and "production" in reason


# -- render and preview ---------------------------------------------------------------------
def test_render_escapes_html_and_asks_for_a_sticky_published_post(channel: WordPressChannel) -> None:
    """Words are escaped (never markup); the create names the slug, category, publish and sticky."""
    msg = message(headline='Lifts <B> & "C" closed', instruction="Use <script>alert(1)</script> stairs")
    [d] = channel.render(msg, RenderContext(dispatch_id="d1"))
    assert d.payload == {
        "title": 'Lifts &lt;B&gt; &amp; "C" closed',
        "sticky": True,
        "slug": slug_for(msg.identifier),
        "status": "publish",
        "categories": [7],
    }
    assert "<script>" not in d.body and "&lt;script&gt;alert(1)&lt;/script&gt;" in d.body
    assert '<a href="https://example.org/status">https://example.org/status</a>' in d.body


def test_slug_is_deterministic_and_url_safe() -> None:
    """The same identifier gives the same slug; odd characters and great length stay URL-safe."""
    assert slug_for("crisiscast-ABC_12") == slug_for("crisiscast-ABC_12") == "crisiscast-abc-12"
    assert slug_for("urn:oid:2.49.0.1") == "crisiscast-urn-oid-2-49-0-1"
    long = slug_for("x" * 400)
    assert len(long) <= 190 and long.startswith("crisiscast-xxx")


def test_preview_is_the_exact_post() -> None:
    """The preview shows the title and HTML exactly as sent, the length, the slug and sticky."""
    msg = message(
        identifier="crisiscast-7f3a",
        status=Status.EXERCISE,
        translations={"es": MessageText(headline="Corte de agua en el edificio C")},
    )
    preview = spec_for("wordpress").preview(msg, Settings())
    [panel] = preview.panels()
    [shown] = panel.parts
    title, _, content = shown.partition("\n\n")
    assert title == "EXERCISE EXERCISE EXERCISE Water outage in Building C"
    assert content == (
        "<p><strong>EXERCISE EXERCISE EXERCISE</strong></p>\n"
        '<div lang="en"><p><strong>Use bottled water.</strong></p>\n'
        '<p><a href="https://example.org/status">https://example.org/status</a></p></div>\n'
        '<div lang="es"><h2>Corte de agua en el edificio C</h2>\n'
        '<p><a href="https://example.org/status">https://example.org/status</a></p></div>'
    )
    assert panel.measure == f"{len(title) + len(content)} characters of HTML · slug crisiscast-7f3a · sticky"
    assert json.loads(json.dumps(preview.to_json()))["slug"] == "crisiscast-7f3a"


def test_phi_is_refused_before_anything_is_rendered(channel: WordPressChannel) -> None:
    """A public channel: text that looks like a medical record number is refused at planning."""
    _, deliveries, failed = render_all(
        message(description="Patient MRN 12345678 moved to ward 4."),
        [channel],
        RenderContext(dispatch_id="d1"),
    )
    assert deliveries["wordpress"] == []
    [failure] = failed
    assert failure.channel == "wordpress" and "WordPress news post" in failure.reason


# -- send, Update and all-clear ---------------------------------------------------------------
async def test_alert_creates_a_sticky_post_with_basic_auth(
    channel: WordPressChannel, fake: FakeWordPress
) -> None:
    """POST /wp-json/wp/v2/posts with Basic auth; the receipt is the post id."""
    msg = message()
    [d] = channel.render(msg, RenderContext(dispatch_id="d1"))
    receipt = await channel.send(d, None)
    [post] = fake.posts.values()
    assert receipt.provider_id == str(post["id"])
    assert (post["status"], post["sticky"], post["categories"], post["slug"]) == (
        "publish",
        True,
        [7],
        slug_for(msg.identifier),
    )
    seen = fake.requests[-1]
    pair = f"crisiscast:{SANDBOX_CREDENTIALS.app_password}".encode()
    assert seen.headers["Authorization"] == "Basic " + base64.b64encode(pair).decode()
    assert seen.query == {}


async def test_update_edits_the_same_post_and_all_clear_unpins_it(
    channel: WordPressChannel, fake: FakeWordPress
) -> None:
    """An Update edits the original post ("Updated at …", still sticky); the all-clear unpins it."""
    [d] = channel.render(message(), RenderContext(dispatch_id="d1"))
    post_id = (await channel.send(d, None)).provider_id
    assert post_id is not None
    ctx = RenderContext(dispatch_id="d2", reply_to={"wordpress": post_id})
    update = message(
        msg_type=MsgType.UPDATE, references=("crisiscast,crisiscast-1,x",), headline="Water back in C"
    )
    [u] = channel.render(update, ctx)
    assert (await channel.send(u, None)).provider_id == post_id
    assert fake.requests[-1].path == f"/wp-json/wp/v2/posts/{post_id}"
    post = fake.posts[int(post_id)]
    assert post["title"] == "Water back in C" and post["sticky"] is True
    assert "<p><em>Updated at 2026-12-03 14:05 UTC</em></p>" in post["content"]
    cancel = message(msg_type=MsgType.CANCEL, references=("crisiscast,crisiscast-1,x",), headline="All clear")
    [c] = channel.render(cancel, RenderContext(dispatch_id="d3", reply_to={"wordpress": post_id}))
    await channel.send(c, None)
    assert len(fake.posts) == 1 and post["sticky"] is False and post["title"] == "All clear"


def test_follow_up_plan_points_at_the_original_post() -> None:
    """The spec's follow-up edits the original's post id and tells the operator so."""
    record = DeliveryRecord(fresh(), DeliveryState.DELIVERED, 1, "101", None, None, SENT)
    follow_up = spec_for("wordpress").follow_up
    assert follow_up is not None
    plan = follow_up([[record]])
    assert plan.reply_to == "101" and plan.note is not None and "edits post 101" in plan.note


# -- errors -----------------------------------------------------------------------------------
def wordpress_cases() -> list[ErrorCase]:
    return [
        ErrorCase(
            "maintenance 503",
            Transient,
            code="http_503",
            retry_after_s=600,
            fault=Fault(
                status=503,
                body="Briefly unavailable for scheduled maintenance.",
                headers={"Retry-After": "600"},
            ),
        ),
        ErrorCase(
            "429",
            RateLimited,
            code="too_many_requests",
            retry_after_s=30,
            fault=Fault(status=429, headers={"Retry-After": "30"}),
        ),
        ErrorCase("critical error 500", Ambiguous, code="internal_server_error", fault=Fault(status=500)),
        ErrorCase("bad gateway 502", Ambiguous, code="http_502", fault=Fault(status=502, body="Bad Gateway")),
        ErrorCase(
            "password 401",
            Permanent,
            code="incorrect_password",
            reason_contains="application password",
            fault=Fault(status=401),
        ),
        ErrorCase(
            "cannot create 403",
            Permanent,
            code="rest_cannot_create",
            reason_contains="Editor role",
            fault=Fault(
                status=403,
                body=wp_error(
                    "rest_cannot_create", "Sorry, you are not allowed to create posts as this user.", 403
                ),
            ),
        ),
        ErrorCase("bad param 400", Permanent, code="rest_invalid_param", fault=Fault(status=400)),
        ErrorCase(
            "drop after accept", Ambiguous, code="disconnected", fault=Fault(drop=True, after_accept=True)
        ),
    ]


@pytest.mark.parametrize("case", wordpress_cases(), ids=str)
async def test_wordpress_errors_are_classified(
    case: ErrorCase, channel: WordPressChannel, fake: FakeWordPress
) -> None:
    """Each WordPress answer maps to its class and code (a 5xx may have saved the post: Ambiguous)."""
    await assert_classified(channel, fresh(), case, fake=fake)


async def test_the_fakes_real_refusals(fake: FakeWordPress) -> None:
    """The fake's own checks: a wrong password, an unknown category, an edit of a missing post."""
    wrong = build(
        settings_for(fake.base_url),
        secrets_from({"CRISISCAST_WORDPRESS_APP_PASSWORD": "nope nope"}),
        exercise=False,
    )
    await assert_classified(
        wrong, fresh(), ErrorCase("401", Permanent, code="incorrect_password", status=401)
    )
    await wrong.aclose()
    ch = build(settings_for(fake.base_url, category_id=99), secrets_from(sandbox_env()), exercise=False)
    [d] = ch.render(message(), RenderContext(dispatch_id="d1"))
    await assert_classified(ch, d, ErrorCase("category", Permanent, code="rest_invalid_param", status=400))
    [e] = ch.render(
        message(msg_type=MsgType.UPDATE, references=("a,b,c",)),
        RenderContext(dispatch_id="d2", reply_to={"wordpress": "999"}),
    )
    await assert_classified(
        ch, e, ErrorCase("gone", Permanent, code="rest_post_invalid_id", reason_contains="gone")
    )
    await ch.aclose()
    assert fake.posts == {}


# -- reconcile and resume -----------------------------------------------------------------------
async def test_reconcile_finds_the_post_by_its_slug(channel: WordPressChannel, fake: FakeWordPress) -> None:
    """After an ambiguous drop, reconcile finds the post by slug; a post never made is absent."""
    d = fresh()
    fake.faults.scripted.append(Fault(drop=True, after_accept=True))
    with pytest.raises(Ambiguous):
        await channel.send(d, None)
    found = await channel.reconcile(d)
    assert found is not None and found.provider_id == str(next(iter(fake.posts)))
    assert fake.requests[-1].query["slug"] == d.payload["slug"]
    assert await channel.reconcile(fresh()) is None


async def test_a_blind_resend_would_duplicate_so_the_slug_matters(
    channel: WordPressChannel, fake: FakeWordPress
) -> None:
    """WordPress never refuses a taken slug: it makes slug-2, a second post. Hence reconcile first."""
    d = fresh()
    await channel.send(d, None)
    second = await channel.send(d, None)
    assert fake.posts[int(str(second.provider_id))]["slug"] == f"{d.payload['slug']}-2"


async def test_reconcile_refused_cannot_reconcile(fake: FakeWordPress) -> None:
    """A look-up the site refuses (wrong password) is CannotReconcile, never 'absent'."""
    env = {"CRISISCAST_WORDPRESS_APP_PASSWORD": "wrong wrong"}
    ch = build(settings_for(fake.base_url), secrets_from(env), exercise=False)
    with pytest.raises(CannotReconcile, match="application password"):
        await ch.reconcile(fresh())
    await ch.aclose()


@pytest.mark.parametrize("accepted", [True, False], ids=["site-had-it", "site-did-not"])
async def test_resume_after_a_crash_never_posts_twice(
    channel: WordPressChannel, fake: FakeWordPress, accepted: bool
) -> None:
    """Killed after the create left: resume looks the slug up and posts only if it is not there."""
    report, store = await crash_then_resume(channel, message(), accepted=accepted)
    try:
        assert report.ok and report.channels["wordpress"].delivered == 1
        assert len(fake.posts) == 1
        creates = [r for r in fake.requests if r.method == "POST"]
        assert len(creates) == 1
    finally:
        await store.close()


# -- the shared contract ------------------------------------------------------------------------
async def test_contract_suite_with_a_canary_password() -> None:
    """Success, every error class, limits, and the canary password in no error or log line."""
    canaries = make_canaries("CRISISCAST_WORDPRESS_APP_PASSWORD")
    site = FakeWordPress(users=(WordPressUser("crisiscast", canaries["CRISISCAST_WORDPRESS_APP_PASSWORD"]),))
    url = await site.start()
    ch = build(settings_for(url), secrets_from(canaries), exercise=False)
    try:
        await run_contract_suite(
            ch, fake=site, make_delivery=fresh, cases=wordpress_cases(), canaries=canaries.values()
        )
    finally:
        await ch.aclose()
        await site.stop()
