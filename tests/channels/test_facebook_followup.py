"""A Facebook Update or all-clear links to the original post, over real HTTP to the fake Graph API.

The original post id (Graph's ``{page}_{post}``) comes from ``ctx.reply_to["facebook"]``; the
follow-up post carries the original's permalink as its ``link`` when the message has no web
link of its own, else as a last line ``Earlier post: …``. A new Alert never does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import pytest

from crisiscast.channels.base import RenderContext
from crisiscast.channels.facebook.channel import FacebookChannel, build, post_permalink
from crisiscast.config import Secrets, Settings
from crisiscast.message import CrisisMessage, MessageText, MsgType, Status
from crisiscast.sandbox.graph import EXERCISE_PAGE_ID, SANDBOX_PAGE_ID, FakeGraph, sandbox_env

WEB = "https://example.org/status"


@pytest.fixture
async def fake_graph() -> AsyncIterator[FakeGraph]:
    fake = FakeGraph()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def channel(fake_graph: FakeGraph) -> AsyncIterator[FacebookChannel]:
    settings = Settings.model_validate(
        {
            "channels": {
                "facebook": {
                    "graph_base_url": fake_graph.base_url,
                    "page_id": SANDBOX_PAGE_ID,
                    "exercise_page_id": EXERCISE_PAGE_ID,
                }
            }
        }
    )
    env = sandbox_env()
    secrets = Secrets.model_validate({k.removeprefix("CRISISCAST_").lower(): v for k, v in env.items()})
    ch = build(settings, secrets, exercise=False)
    yield ch
    await ch.aclose()


def _message(msg_type: MsgType, **kw: object) -> CrisisMessage:
    fields: dict[str, object] = {
        "status": Status.ACTUAL,
        "msg_type": msg_type,
        "headline": "Power failure in the main building",
        "instruction": "Avoid the lifts; use the stairs.",
    }
    if msg_type is not MsgType.ALERT:
        fields["references"] = ("crisiscast,crisiscast-1,2026-11-28T10:00:00+00:00",)
    return CrisisMessage.model_validate(fields | kw)


async def _post_original(channel: FacebookChannel) -> str:
    [alert] = channel.render(_message(MsgType.ALERT, web=WEB), RenderContext(dispatch_id="d1"))
    receipt = await channel.send(alert, None)
    assert receipt.provider_id is not None
    return receipt.provider_id


async def test_update_without_a_link_of_its_own_links_the_original(
    channel: FacebookChannel, fake_graph: FakeGraph
) -> None:
    """An Update with no web link posts the original's permalink as Graph's link."""
    original = await _post_original(channel)
    page, _, post = original.partition("_")
    ctx = RenderContext(dispatch_id="d2", reply_to={"facebook": original})
    [update] = channel.render(_message(MsgType.UPDATE, headline="Update: power is back"), ctx)
    await channel.send(update, None)
    sent = parse_qs(fake_graph.requests[-1].body)
    assert sent["link"] == [f"https://www.facebook.com/{page}/posts/{post}"]
    assert fake_graph.posts[-1]["link"] == f"https://www.facebook.com/{page}/posts/{post}"
    assert "Earlier post" not in sent["message"][0]


async def test_cancel_with_its_own_link_names_the_original_on_a_last_line(
    channel: FacebookChannel, fake_graph: FakeGraph
) -> None:
    """An all-clear with its own web link keeps it as the link and ends with 'Earlier post: …'."""
    original = await _post_original(channel)
    page, _, post = original.partition("_")
    ctx = RenderContext(dispatch_id="d3", reply_to={"facebook": original})
    [cancel] = channel.render(
        _message(MsgType.CANCEL, headline="All clear", web="https://example.org/all-clear"), ctx
    )
    await channel.send(cancel, None)
    sent = parse_qs(fake_graph.requests[-1].body)
    assert sent["link"] == ["https://example.org/all-clear"]
    assert sent["message"][0].endswith(f"\n\nEarlier post: https://www.facebook.com/{page}/posts/{post}")
    assert fake_graph.posts[-1]["message"] == sent["message"][0]
    found = await channel.reconcile(cancel)  # the body sent is the body reconcile looks for
    assert found is not None and found.provider_id == fake_graph.posts[-1]["id"]


async def test_spanish_post_names_the_original_in_spanish(channel: FacebookChannel) -> None:
    """A Spanish rendering of an Update with a link says 'Publicación anterior: …'."""
    update = _message(
        MsgType.UPDATE,
        language="es",
        headline="Actualización: vuelve la luz",
        web=WEB,
    )
    [only] = channel.render(update, RenderContext(dispatch_id="d4", reply_to={"facebook": "1_2"}))
    assert only.body.endswith("\n\nPublicación anterior: https://www.facebook.com/1/posts/2")


def test_alert_never_links_an_earlier_post(channel: FacebookChannel) -> None:
    """A new Alert is not a follow-up: no permalink even if a reply id were passed."""
    [only] = channel.render(
        _message(MsgType.ALERT, web=WEB), RenderContext(dispatch_id="d5", reply_to={"facebook": "1_2"})
    )
    assert only.payload["link"] == WEB and "Earlier post" not in only.body


def test_channel_wording_link_is_the_post_link(channel: FacebookChannel) -> None:
    """The Facebook wording's own web link (channel_text) is the post's link."""
    message = _message(
        MsgType.ALERT,
        web=WEB,
        channel_text={
            "facebook": {"en": MessageText(headline="Power failure", web="https://example.org/fb")}
        },
    )
    [only] = channel.render(message, RenderContext(dispatch_id="d6"))
    assert only.payload["link"] == "https://example.org/fb"


def test_permalink_of_a_post_id() -> None:
    """Graph's page_post id becomes facebook.com/page/posts/post; an id without a page stays whole."""
    assert post_permalink("100_200") == "https://www.facebook.com/100/posts/200"
    assert post_permalink("300") == "https://www.facebook.com/300"
