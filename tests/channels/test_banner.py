"""The website banner channel: atomic state file, update/clear, expiry, CMS PUT, contract."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from crisiscast.channels.banner.channel import BannerChannel, build, current_banner, write_state_atomically
from crisiscast.channels.base import ChannelUnavailable, RenderContext
from crisiscast.config import PolicyConfig, Secrets, Settings
from crisiscast.delivery import Delivery
from crisiscast.errors import Ambiguous, Permanent, PolicyError, RateLimited, Transient
from crisiscast.message import CrisisMessage, MsgType, Severity, Status
from crisiscast.sandbox.common import FakeProvider, Fault, RecordedRequest
from tests.channels.contract import ErrorCase, make_canaries, run_contract_suite

T0 = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)


def banner_doc(
    ident: str = "alert-1",
    *,
    status: str = "active",
    headline: str = "Fire in Building A: avoid the east wing",
    issued_at: datetime = T0,
    expires_at: datetime | None = None,
    exercise: bool = False,
) -> dict[str, Any]:
    """A banner document shaped like ``adapt_banner``'s output."""
    doc: dict[str, Any] = {
        "id": ident,
        "status": status,
        "issued_at": issued_at.isoformat(),
        "exercise": exercise,
    }
    if status == "active":
        doc.update(
            msg_type="Alert",
            severity="Extreme",
            urgency="Immediate",
            event="Fire",
            headline=headline,
            instruction="Use the west entrance.",
            description="",
            web="https://example-hospital.org/status",
            language="en",
            translations={},
            expires_at=(expires_at or datetime.now(UTC) + timedelta(hours=2)).isoformat(),
        )
    return doc


def delivery_for(channel: BannerChannel, doc: dict[str, Any], dispatch_id: str = "d1") -> Delivery:
    return Delivery(
        dispatch_id=dispatch_id, channel="banner", target=str(channel.path), part=0, body="", payload=doc
    )


@pytest.fixture
def channel(tmp_path: Path) -> BannerChannel:
    return BannerChannel(tmp_path / "var" / "banner.json", PolicyConfig())


async def test_send_writes_the_document_to_the_state_file(channel: BannerChannel) -> None:
    """One send writes the document as JSON at the configured path, readable by a web server."""
    doc = banner_doc()
    receipt = await channel.send(delivery_for(channel, doc), None)
    assert json.loads(channel.path.read_text(encoding="utf-8")) == doc
    assert channel.path.stat().st_mode & 0o777 == 0o644
    assert receipt.status == "published"
    assert receipt.provider_id and receipt.provider_id.startswith("banner.json@")
    assert receipt.detail["path"] == str(channel.path)
    leftovers = [
        p.name for p in channel.path.parent.iterdir() if p.name not in ("banner.json", "banner.json.lock")
    ]
    assert leftovers == [], "no temporary file is left behind"


async def test_update_replaces_and_cancel_clears(channel: BannerChannel) -> None:
    """An Update replaces the banner; a Cancel's cleared document replaces it in turn."""
    await channel.send(delivery_for(channel, banner_doc(headline="Fire: stay out of the east wing")), None)
    update = banner_doc(
        headline="Fire contained: east wing reopens at 16:00", issued_at=T0 + timedelta(minutes=5)
    )
    await channel.send(delivery_for(channel, update, "d2"), None)
    assert json.loads(channel.path.read_bytes())["headline"] == update["headline"]
    cleared = banner_doc(status="cleared", issued_at=T0 + timedelta(minutes=30))
    await channel.send(delivery_for(channel, cleared, "d3"), None)
    assert current_banner(channel.path)["status"] == "cleared"


async def test_a_late_retry_never_overwrites_a_later_banner(channel: BannerChannel) -> None:
    """A document issued earlier than the one on disk is not written (the all-clear stays)."""
    cleared = banner_doc(status="cleared", issued_at=T0 + timedelta(minutes=30))
    await channel.send(delivery_for(channel, cleared, "d3"), None)
    receipt = await channel.send(delivery_for(channel, banner_doc(), "d1"), None)
    assert receipt.status == "superseded"
    assert json.loads(channel.path.read_bytes()) == cleared


async def test_resending_the_same_document_is_idempotent(channel: BannerChannel) -> None:
    """Re-publishing (retry or reconcile) writes the same bytes and returns a receipt again."""
    delivery = delivery_for(channel, banner_doc())
    first = await channel.send(delivery, None)
    channel.path.unlink()
    again = await channel.reconcile(delivery)
    assert again is not None and again.provider_id == first.provider_id
    assert json.loads(channel.path.read_bytes()) == delivery.payload


def test_readers_never_see_a_partial_file(tmp_path: Path) -> None:
    """While documents are replaced repeatedly, every concurrent read parses as a whole document."""
    path = tmp_path / "banner.json"
    write_state_atomically(path, banner_doc(headline="x" * 10))
    stop = threading.Event()
    bad: list[str] = []
    reads = 0

    def reader() -> None:
        nonlocal reads
        while not stop.is_set():
            data = path.read_bytes()
            reads += 1
            try:
                json.loads(data)
            except ValueError:
                bad.append(data[:40].decode(errors="replace"))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(60):
            write_state_atomically(
                path, banner_doc(headline="y" * (1000 + 97 * i), issued_at=T0 + timedelta(i))
            )
    finally:
        stop.set()
        thread.join(timeout=10)
    assert reads > 0
    assert bad == []


async def test_an_unwritable_path_is_a_permanent_error(tmp_path: Path) -> None:
    """A path that can never be written (its directory is a file) fails permanently, plainly."""
    (tmp_path / "not-a-dir").write_text("x")
    channel = BannerChannel(tmp_path / "not-a-dir" / "banner.json", PolicyConfig())
    with pytest.raises(Permanent) as info:
        await channel.send(delivery_for(channel, banner_doc()), None)
    assert info.value.code == "banner_unwritable"
    assert "banner file" in str(info.value)


def test_feed_state_none_active_and_expired(tmp_path: Path) -> None:
    """No file reads as "none"; an active banner as itself; an expired one as cleared."""
    path = tmp_path / "banner.json"
    assert current_banner(path) == {"status": "none"}
    active = banner_doc(expires_at=T0 + timedelta(hours=1))
    write_state_atomically(path, active)
    assert current_banner(path, now=T0) == active
    expired = current_banner(path, now=T0 + timedelta(hours=1, seconds=1))
    assert expired == {"id": "alert-1", "status": "cleared", "reason": "expired", "exercise": False}


def _message(**kw: Any) -> CrisisMessage:
    base: dict[str, Any] = {
        "status": Status.ACTUAL,
        "headline": "Fire in Building A",
        "instruction": "Use the west entrance.",
        "severity": Severity.EXTREME,
        "web": "https://example-hospital.org/status",
    }
    base.update(kw)
    return CrisisMessage(**base)


def test_render_makes_one_delivery_with_the_banner_document(channel: BannerChannel) -> None:
    """An alert renders to one delivery: target the path, part 0, payload the active document."""
    message = _message()
    [delivery] = channel.render(message, RenderContext(dispatch_id="d1"))
    assert (delivery.channel, delivery.target, delivery.part) == ("banner", str(channel.path), 0)
    assert delivery.payload["status"] == "active"
    assert delivery.payload["headline"].startswith("Fire in Building A")
    assert "Fire in Building A" in delivery.body


def test_render_cancel_makes_the_cleared_document(channel: BannerChannel) -> None:
    """A Cancel renders the cleared document."""
    message = _message(msg_type=MsgType.CANCEL, references=("crisiscast-original",))
    [delivery] = channel.render(message, RenderContext(dispatch_id="d2"))
    assert delivery.payload["status"] == "cleared"


def test_an_exercise_never_renders_to_the_production_banner(channel: BannerChannel) -> None:
    """An Exercise message on a production banner channel is refused by policy."""
    with pytest.raises(PolicyError, match="exercise_path"):
        channel.render(_message(status=Status.EXERCISE), RenderContext(dispatch_id="d1"))


def test_build_chooses_the_path_and_refuses_plainly(tmp_path: Path) -> None:
    """build() picks the production or exercise path; disabled or missing exercise path is refused."""
    settings = Settings.model_validate({"base_dir": str(tmp_path)})
    assert build(settings, Secrets(), exercise=False).path == tmp_path / "var" / "banner.json"
    exercise = build(settings, Secrets(), exercise=True)
    assert exercise.path == tmp_path / "var" / "banner-exercise.json" and exercise.cms_url is None
    no_drill = Settings.model_validate({"channels": {"banner": {"exercise_path": None}}})
    with pytest.raises(ChannelUnavailable, match="exercise_path"):
        build(no_drill, Secrets(), exercise=True)
    disabled = Settings.model_validate({"channels": {"banner": {"enabled": False}}})
    with pytest.raises(ChannelUnavailable, match="disabled"):
        build(disabled, Secrets(), exercise=False)


class FakeCms(FakeProvider):
    """A CMS endpoint that stores the banner JSON PUT to it."""

    name = "cms"

    def __init__(self) -> None:
        super().__init__()
        self.document: dict[str, Any] | None = None
        self.route("PUT", "/api/banner", self._put)

    async def _put(self, request: web.Request, rec: RecordedRequest) -> web.Response:
        self.document = json.loads(rec.body)
        return web.json_response({"ok": True})


@pytest.fixture
async def cms() -> AsyncIterator[FakeCms]:
    fake = FakeCms()
    await fake.start()
    yield fake
    await fake.stop()


async def test_the_document_is_put_to_the_cms(tmp_path: Path, cms: FakeCms) -> None:
    """With cms_url set, one send also PUTs the same JSON to the CMS, once."""
    channel = BannerChannel(tmp_path / "banner.json", PolicyConfig(), cms_url=f"{cms.base_url}/api/banner")
    try:
        doc = banner_doc()
        receipt = await channel.send(delivery_for(channel, doc), None)
    finally:
        await channel.aclose()
    assert cms.document == doc
    assert [r.method for r in cms.requests] == ["PUT"]
    assert receipt.detail["cms_status"] == 200


async def test_banner_contract_suite(tmp_path: Path, cms: FakeCms, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared channel contract: limits, success, each applicable error class, no secret leaks."""
    canaries = make_canaries("CRISISCAST_MQTT_PASSWORD", "CRISISCAST_API_TOKENS")
    for name, value in canaries.items():
        monkeypatch.setenv(name, value)
    settings = Settings.model_validate(
        {
            "base_dir": str(tmp_path),
            "channels": {"banner": {"cms_url": f"{cms.base_url}/api/banner", "request_timeout_s": 0.3}},
        }
    )
    channel = build(settings, Secrets(), exercise=False)
    issued = iter(range(1, 1000))

    def make_delivery() -> Delivery:
        return delivery_for(channel, banner_doc(issued_at=T0 + timedelta(seconds=next(issued))))

    cases = [
        ErrorCase("CMS 503", Transient, code="http_503", status=503, fault=Fault(status=503)),
        ErrorCase(
            "CMS 429 with Retry-After",
            RateLimited,
            status=429,
            retry_after_s=7,
            fault=Fault(status=429, headers={"Retry-After": "7"}),
        ),
        ErrorCase("CMS 403", Permanent, code="http_403", status=403, fault=Fault(status=403)),
        ErrorCase(
            "CMS answer lost (timeout after sending)", Transient, code="timeout", fault=Fault(delay_s=1.0)
        ),
        ErrorCase("CMS unreachable", Transient, code="connect_error", arrange=cms.stop),
    ]
    try:
        await run_contract_suite(
            channel,
            make_delivery=make_delivery,
            cases=cases,
            canaries=canaries.values(),
            fake=cms,
            not_applicable={
                Ambiguous: "re-publishing banner state is idempotent, so a lost answer is Transient"
            },
        )
    finally:
        await channel.aclose()
    assert current_banner(channel.path)["status"] == "active"
