"""The CAP 1.2 feed: documents valid against the OASIS schema, served from the audit by real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import xmlschema
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from defusedxml.ElementTree import fromstring

from crisiscast.adapt.preview import preview_message
from crisiscast.audit.base import AuditStore
from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.audit.open import open_store
from crisiscast.channels.base import ChannelUnavailable, RenderContext
from crisiscast.channels.cap_feed import SPEC
from crisiscast.channels.cap_feed.channel import CapChannel, build
from crisiscast.channels.cap_feed.document import cap_time, cap_xml
from crisiscast.channels.cap_feed.routes import Published, add_cap_routes, current_entries
from crisiscast.channels.spec import RouteDeps
from crisiscast.config import Secrets, Settings, load_settings
from crisiscast.dispatch import Dispatcher
from crisiscast.dispatch.limiter import LimiterRegistry
from crisiscast.errors import Ambiguous, ConfigError, Permanent, RateLimited, Transient
from crisiscast.lifecycle.followup import cap_reference
from crisiscast.message import CrisisMessage, MessageText, MsgType, Severity, Status
from tests.channels.contract import ErrorCase, run_contract_suite

SCHEMA = xmlschema.XMLSchema(str(Path(__file__).resolve().parents[1] / "data" / "cap-v1.2.xsd"))
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
ATOM = "{http://www.w3.org/2005/Atom}"
APPROVAL = {"approver": "alice.approver", "method": "cli-confirm"}
NO_SECRETS = Secrets.model_validate({})


def settings(**cap: object) -> Settings:
    base = {"sender_name": "St Example Hospital", "area_desc": "St Example campus, 1 Main St"}
    return Settings.model_validate({"channels": {"cap_feed": base | cap}})


def message(**kw: object) -> CrisisMessage:
    fields: dict[str, object] = {
        "status": Status.ACTUAL,
        "sender": "hospital@example.org",
        "headline": "Fire in Building B",
        "instruction": "Avoid Building B; use the east entrance.",
        "description": "Crews are on site.",
        "web": "https://example.org/status",
        "severity": Severity.SEVERE,
        "translations": {"es": MessageText(headline="Incendio en el edificio B")},
        "audiences": ("all-staff", "security-team"),
        "expires": datetime.now(UTC) + timedelta(hours=2),
    }
    return CrisisMessage.model_validate(fields | kw)


def document(m: CrisisMessage, s: Settings | None = None) -> str:
    s = s or settings()
    return cap_xml(m, SPEC.config(s), s.policy)


# -- the document ------------------------------------------------------------------------------------
def test_an_alert_is_valid_cap_1_2_with_one_info_per_language() -> None:
    """The Alert validates against the OASIS schema; each language is an info block; times have offsets."""
    m = message()
    xml = document(m)
    SCHEMA.validate(xml)
    root = fromstring(xml)
    assert root.findtext(f"{CAP}sent") == cap_time(m.sent) and cap_time(m.sent).endswith("+00:00")
    assert [i.findtext(f"{CAP}language") for i in root.iter(f"{CAP}info")] == ["en", "es"]
    assert root.findtext(f"{CAP}info/{CAP}expires") == cap_time(m.expires or m.sent)
    assert root.findtext(f"{CAP}info/{CAP}area/{CAP}areaDesc") == "St Example campus, 1 Main St"


def test_update_and_cancel_reference_the_earlier_messages_exactly() -> None:
    """An Update references the Alert, a Cancel both, each as sender,identifier,sent as published."""
    alert = message()
    update = message(msg_type=MsgType.UPDATE, references=(cap_reference(alert),), headline="Fire contained")
    cancel = message(
        msg_type=MsgType.CANCEL,
        references=(cap_reference(alert), cap_reference(update)),
        headline="All clear in Building B",
    )
    published = {m.identifier: fromstring(document(m)) for m in (alert, update, cancel)}
    for m in (update, cancel):
        SCHEMA.validate(document(m))

    def triple(m: CrisisMessage) -> str:
        root = published[m.identifier]
        return ",".join(root.findtext(f"{CAP}{tag}") or "" for tag in ("sender", "identifier", "sent"))

    assert published[update.identifier].findtext(f"{CAP}references") == triple(alert)
    assert published[cancel.identifier].findtext(f"{CAP}references") == f"{triple(alert)} {triple(update)}"
    assert published[cancel.identifier].findtext(f"{CAP}msgType") == "Cancel"


def test_an_exercise_says_so_in_status_and_headline() -> None:
    """Exercise status, and the marker before each headline for people who read the headline alone."""
    xml = document(message(status=Status.EXERCISE, audiences=("exercise",)))
    SCHEMA.validate(xml)
    root = fromstring(xml)
    assert root.findtext(f"{CAP}status") == "Exercise"
    assert all(
        (i.findtext(f"{CAP}headline") or "").startswith("EXERCISE EXERCISE EXERCISE ")
        for i in root.iter(f"{CAP}info")
    )


def test_no_staff_data_in_the_document() -> None:
    """Audiences, contact groups and another channel's own words never reach the public feed."""
    m = message(channel_text={"sms": {"en": MessageText(headline="Code red: staff to posts, pager 4411")}})
    xml = document(m)
    for secret in ("security-team", "all-staff", "pager 4411", "Code red"):
        assert secret not in xml
    assert "<addresses" not in xml and "<note" not in xml


def test_a_drill_feed_equal_to_the_production_feed_is_refused(tmp_path: Path) -> None:
    """The configuration that publishes exercises on the production feed path does not load."""
    config = tmp_path / "crisiscast.toml"
    config.write_text(
        '[channels.cap_feed]\nfeed_path = "/cap/feed.atom"\nexercise_feed_path = "/CAP/feed.atom/"\n'
    )
    with pytest.raises(ConfigError, match=r"\[channels\.cap_feed\] exercise_feed_path"):
        load_settings(config)
    with pytest.raises(ChannelUnavailable, match="exercise_feed_path"):
        build(settings(exercise_feed_path=None), NO_SECRETS, exercise=True)


def test_the_preview_is_the_exact_document_and_phi_is_refused() -> None:
    """The preview shows the document as served; the public feed refuses patient information."""
    m = message()
    [panel] = SPEC.preview(m, settings()).panels()
    assert panel.parts == (document(m),)
    assert panel.measure.startswith("CAP 1.2 on /cap/feed.atom, ")
    refused = preview_message(message(headline="Patient MRN 99887766 moved to ward 3"), settings()).refused
    assert "CAP feed is public" in refused["cap_feed"]


async def test_contract_suite() -> None:
    """Limits declared, a publication has the identifier as receipt, a foreign delivery is refused."""
    channel = build(settings(), NO_SECRETS, exercise=False)
    made = iter(range(1000))

    def fresh() -> object:
        [d] = channel.render(message(), RenderContext(dispatch_id=f"c{next(made)}"))
        return d

    exercise_delivery = build(settings(), NO_SECRETS, exercise=True).render(
        message(status=Status.EXERCISE), RenderContext(dispatch_id="x")
    )[0]

    async def arrange() -> None:
        return None

    cases = [
        ErrorCase(
            "an exercise document on the production feed", Permanent, code="wrong_feed", arrange=arrange
        )
    ]
    no_network = "publishing is a record in the audit store; nothing goes over a network"
    first = True

    def make() -> object:
        nonlocal first
        if first:
            first = False
            return fresh()
        return exercise_delivery

    await run_contract_suite(
        channel,
        make_delivery=make,  # type: ignore[arg-type]
        cases=cases,
        canaries=[],
        not_applicable={Transient: no_network, RateLimited: no_network, Ambiguous: no_network},
    )


# -- the feeds over HTTP -------------------------------------------------------------------------------
@dataclass
class Feed:
    client: TestClient[web.Request, web.Application]
    store: AuditStore
    settings: Settings

    async def publish(self, m: CrisisMessage) -> str:
        channel: CapChannel = build(self.settings, NO_SECRETS, exercise=m.status is not Status.ACTUAL)
        report = await Dispatcher(self.store, limiters=LimiterRegistry()).dispatch(
            m, [channel], approval=APPROVAL
        )
        assert report.ok
        return report.dispatch_id


@pytest.fixture
async def feed(tmp_path: Path) -> AsyncIterator[Feed]:
    store = open_store(f"sqlite:///{tmp_path}/audit.db")
    await store.open()
    s = settings()
    app = web.Application()
    hooks = add_cap_routes(app, RouteDeps(settings=s, secrets=NO_SECRETS, store=store, count=lambda _: None))
    assert ("CAP feed (actual)", "/cap/feed.atom") in hooks.links
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Feed(client, store, s)
    finally:
        await client.close()
        await store.close()


def _entries(atom: str) -> list[tuple[str, str]]:
    root = fromstring(atom)
    return [
        (e.findtext(f"{ATOM}title") or "", e.findtext(f"{CAP}status") or "")
        for e in root.iter(f"{ATOM}entry")
    ]


async def test_the_feed_lists_actual_alerts_newest_first_with_expiry(feed: Feed) -> None:
    """Actual alerts newest first, each with cap:expires; drills only on the exercise feed."""
    now = datetime.now(UTC)
    older = message(headline="Water outage in Building C", sent=now - timedelta(minutes=5))
    newer = message(headline="Fire in Building B", sent=now)
    drill = message(status=Status.EXERCISE, headline="Drill in Building A", audiences=("exercise",))
    for m in (older, newer, drill):
        await feed.publish(m)
    resp = await feed.client.get("/cap/feed.atom")
    assert resp.status == 200 and resp.content_type == "application/atom+xml"
    atom = await resp.text()
    assert _entries(atom) == [("Fire in Building B", "Actual"), ("Water outage in Building C", "Actual")]
    assert atom.count("<cap:expires>") == 2
    assert resp.headers["Cache-Control"] == "public, max-age=60"
    drills = await (await feed.client.get("/cap/exercise/feed.atom")).text()
    assert _entries(drills) == [("Drill in Building A", "Exercise")]


def test_an_expired_alert_leaves_the_feed() -> None:
    """Past its expires an alert is no longer listed (its document stays available)."""
    now = datetime.now(UTC)
    items = [
        Published("actual", message(headline="Current", expires=now + timedelta(minutes=1)), ""),
        Published(
            "actual",
            message(headline="Expired", sent=now - timedelta(hours=1), expires=now - timedelta(seconds=1)),
            "",
        ),
        Published("actual", message(headline="No expiry", expires=None), ""),
        Published("exercise", message(headline="Drill"), ""),
    ]
    assert [p.message.headline for p in current_entries(items, "actual", now=now, limit=10)] == [
        "Current",
        "No expiry",
    ]
    later = now + timedelta(minutes=2)
    assert [p.message.headline for p in current_entries(items, "actual", now=later, limit=1)] == ["No expiry"]


async def test_each_alert_is_served_as_its_approved_document(feed: Feed) -> None:
    """/cap/{identifier}.xml is the planned document byte for byte, schema-valid, cacheable (ETag → 304)."""
    m = message()
    dispatch_id = await feed.publish(m)
    [record] = await feed.store.deliveries(dispatch_id)
    resp = await feed.client.get(f"/cap/{m.identifier}.xml")
    body = await resp.text()
    assert resp.status == 200 and resp.content_type == "application/cap+xml"
    assert body == record.delivery.body
    SCHEMA.validate(body)
    assert "alice.approver" not in body
    again = await feed.client.get(f"/cap/{m.identifier}.xml", headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status == 304
    assert (await feed.client.get("/cap/crisiscast-unknown.xml")).status == 404


async def test_an_update_and_cancel_appear_with_their_references(feed: Feed) -> None:
    """The Update and the Cancel are served, each referencing what came before."""
    alert = message()
    await feed.publish(alert)
    cancel = message(msg_type=MsgType.CANCEL, references=(cap_reference(alert),), headline="All clear")
    await feed.publish(cancel)
    body = await (await feed.client.get(f"/cap/{cancel.identifier}.xml")).text()
    SCHEMA.validate(body)
    assert (
        fromstring(body).findtext(f"{CAP}references")
        == f"{alert.sender},{alert.identifier},{cap_time(alert.sent)}"
    )
    newest, _ = _entries(await (await feed.client.get("/cap/feed.atom")).text())[0]
    assert newest == "All clear"


async def test_resume_after_a_crash_publishes_once(feed: Feed) -> None:
    """A crash after the attempt started: resume reconciles it as published; the feed shows it once."""
    m = message(headline="Power failure")
    channel = build(feed.settings, NO_SECRETS, exercise=False)
    dispatcher = Dispatcher(feed.store, limiters=LimiterRegistry())
    plan = await dispatcher.plan(m, [channel], approval=APPROVAL)
    [delivery] = plan.deliveries["cap_feed"]
    await feed.store.append(
        [AuditEvent(EventKind.ATTEMPT_STARTED, plan.dispatch_id, {"attempt": 1}, delivery_key=delivery.key)]
    )
    assert _entries(await (await feed.client.get("/cap/feed.atom")).text()) == []  # not published yet
    report = await dispatcher.resume(plan.dispatch_id, [build(feed.settings, NO_SECRETS, exercise=False)])
    assert report.ok
    assert _entries(await (await feed.client.get("/cap/feed.atom")).text()) == [("Power failure", "Actual")]
