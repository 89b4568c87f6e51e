"""The e-mail channel over real SMTP: the sandbox's aiosmtpd server on 127.0.0.1.

The error map per recipient (4xx transient, rate limits, 5xx permanent, connection lost after
DATA ambiguous), the message on the wire (plain text first, escaped HTML, subject with
severity and marker, Message-ID stable across retries), exercise isolation, follow-ups to
exactly the addresses the original reached, and secrets never leaking.
"""

from __future__ import annotations

import itertools
import ssl
import tomllib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trustme

from crisiscast.audit.base import DeliveryRecord
from crisiscast.channels.base import ChannelUnavailable, RenderContext
from crisiscast.channels.email import SPEC
from crisiscast.channels.email.channel import EmailChannel, build
from crisiscast.config import Secrets, Settings, default_config_text
from crisiscast.delivery import Delivery, DeliveryState
from crisiscast.errors import Ambiguous, Permanent, RateLimited, Transient
from crisiscast.message import CrisisMessage, MessageText, MsgType, Severity, Status
from crisiscast.sandbox.runner import secrets_from_env
from crisiscast.sandbox.smtp import SANDBOX_USER, FakeSmtp
from tests.channels.contract import ErrorCase, make_canaries, run_contract_suite, watch_for_leaks

CONTACTS = """\
name,phone,groups,language,email,paths
Avery Chen,+16175550101,staff,en,avery@hospital.example,
Marisol Vega,+16175550102,staff,es,Marisol@Hospital.Example,
Sofia Park,+16175550126,drill-team,en,sofia@hospital.example,
Elena Ramos,+16175550191,drill-team,es,elena@hospital.example,
No Mail,+16175550103,staff,en,,
Texts Only,+16175550104,staff,en,texts.only@hospital.example,sms
Avery Again,+16175550105,staff,en,AVERY@hospital.example,
"""
STAFF = ["avery@hospital.example", "Marisol@hospital.example"]
DRILL = ["sofia@hospital.example", "elena@hospital.example"]


def _settings(tmp_path: Path, url: str, **email: Any) -> Settings:
    raw: dict[str, Any] = tomllib.loads(default_config_text())
    (tmp_path / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
    raw["channels"]["email"].update(smtp_url=url, contacts=str(tmp_path / "contacts.csv"), **email)
    return Settings.model_validate(raw)


def _alert(**kw: Any) -> CrisisMessage:
    values: dict[str, Any] = {
        "status": Status.ACTUAL,
        "severity": Severity.SEVERE,
        "headline": "Fire in Building A <east> & west",
        "instruction": "Evacuate by the north stairs.",
        "web": "https://www.example-hospital.org/alerts?id=1&lang=en",
        "translations": {"es": MessageText(headline="Incendio en el edificio A")},
        "audiences": ("all-staff",),
    }
    values.update(kw)
    return CrisisMessage(**values)


@pytest.fixture
async def smtp() -> AsyncIterator[FakeSmtp]:
    fake = FakeSmtp()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


def _secrets() -> Secrets:
    return secrets_from_env({"CRISISCAST_EMAIL_PASSWORD": "sandbox-smtp-password"})


async def _deliver_all(channel: EmailChannel, deliveries: list[Delivery]) -> dict[str, Exception | None]:
    outcome: dict[str, Exception | None] = {}
    for delivery in deliveries:
        try:
            await channel.send(delivery, None)
            outcome[delivery.target] = None
        except (Transient, Permanent, Ambiguous) as exc:
            outcome[delivery.target] = exc
    return outcome


async def test_contract_suite_over_real_smtp(tmp_path: Path) -> None:
    """Every SMTP outcome is raised as exactly its class, per recipient, and no secret leaks."""
    canaries = make_canaries("CRISISCAST_EMAIL_PASSWORD")
    fake = FakeSmtp(password=canaries["CRISISCAST_EMAIL_PASSWORD"])
    url = await fake.start()
    try:
        settings = _settings(tmp_path, url)
        channel = build(settings, secrets_from_env(canaries), exercise=False)
        counter = itertools.count()

        def make_delivery() -> Delivery:
            return channel.render(_alert(), RenderContext(dispatch_id=f"contract-{next(counter)}"))[0]

        def script(action: Callable[[], None]) -> Callable[[], Any]:
            async def arrange() -> None:
                action()

            return arrange

        cases = [
            ErrorCase(
                "451 at RCPT",
                Transient,
                code="smtp_451",
                no_retry_after=True,
                arrange=script(lambda: fake.fail_next("rcpt", 451, "4.3.0 try again later")),
            ),
            ErrorCase(
                "452 rate limit",
                RateLimited,
                code="smtp_452",
                retry_after_s=60.0,
                arrange=script(
                    lambda: fake.fail_next("rcpt", 452, "4.7.500 Server busy, rate limit exceeded")
                ),
            ),
            ErrorCase(
                "550 no such mailbox",
                Permanent,
                code="smtp_550",
                reason_contains="5.1.1",
                arrange=script(lambda: fake.fail_next("rcpt", 550, "5.1.1 mailbox unavailable")),
            ),
            ErrorCase(
                "554 at DATA",
                Permanent,
                code="smtp_554",
                arrange=script(lambda: fake.fail_next("data", 554, "5.7.1 message refused")),
            ),
            ErrorCase(
                "lost after DATA",
                Ambiguous,
                code="smtp_lost_after_data",
                arrange=script(fake.drop_after_data),
            ),
            ErrorCase("server down", Transient, code="smtp_connection", arrange=fake.stop),
        ]
        await run_contract_suite(
            channel, make_delivery=make_delivery, cases=cases, canaries=canaries.values()
        )
        assert fake.pending_faults == 0
    finally:
        await fake.stop()


async def test_wrong_password_is_permanent_and_never_echoed(tmp_path: Path, smtp: FakeSmtp) -> None:
    """A refused login is Permanent (535) and the password appears in no error or log."""
    password = make_canaries("CRISISCAST_EMAIL_PASSWORD")["CRISISCAST_EMAIL_PASSWORD"]
    channel = build(
        _settings(tmp_path, smtp.base_url),
        secrets_from_env({"CRISISCAST_EMAIL_PASSWORD": password}),
        exercise=False,
    )
    [delivery, *_] = channel.render(_alert(), RenderContext(dispatch_id="d-login"))
    with watch_for_leaks([password]) as watch, pytest.raises(Permanent) as info:
        await channel.send(delivery, None)
    watch.add(info.value)
    assert info.value.code == "smtp_535" and smtp.received == []


async def test_xoauth2_login_delivers(tmp_path: Path, smtp: FakeSmtp) -> None:
    """auth = "xoauth2" logs in with CRISISCAST_EMAIL_OAUTH_TOKEN (Microsoft 365, Google)."""
    settings = _settings(tmp_path, smtp.base_url, auth="xoauth2")
    secrets = secrets_from_env({"CRISISCAST_EMAIL_OAUTH_TOKEN": smtp.oauth_token})
    channel = build(settings, secrets, exercise=False)
    [delivery, *_] = channel.render(_alert(), RenderContext(dispatch_id="d-oauth"))
    await channel.send(delivery, None)
    assert [m.login for m in smtp.received] == [SANDBOX_USER]


async def test_one_refused_recipient_leaves_the_others_delivered(tmp_path: Path, smtp: FakeSmtp) -> None:
    """A 550 for one address fails only that delivery; every other address gets its message."""
    channel = build(_settings(tmp_path, smtp.base_url), _secrets(), exercise=False)
    deliveries = channel.render(_alert(), RenderContext(dispatch_id="d-550"))
    assert [d.target for d in deliveries] == STAFF  # one per address, paths respected
    smtp.refuse("avery@hospital.example")
    outcome = await _deliver_all(channel, deliveries)
    assert isinstance(outcome["avery@hospital.example"], Permanent)
    assert outcome["Marisol@hospital.example"] is None
    assert [m.rcpt_tos for m in smtp.received] == [["Marisol@hospital.example"]]


async def test_message_id_is_stable_across_retries_and_unique_per_recipient(
    tmp_path: Path, smtp: FakeSmtp
) -> None:
    """A retry after a lost reply sends the same Message-ID; each recipient has their own."""
    channel = build(_settings(tmp_path, smtp.base_url), _secrets(), exercise=False)
    first = channel.render(_alert(), RenderContext(dispatch_id="d-retry"))
    again = channel.render(_alert(), RenderContext(dispatch_id="d-retry"))
    assert [d.payload["message_id"] for d in first] == [d.payload["message_id"] for d in again]
    smtp.drop_after_data()
    with pytest.raises(Ambiguous):
        await channel.send(first[0], None)
    receipt = await channel.send(first[0], None)
    ids = [m.message["Message-ID"].strip() for m in smtp.received]  # a long header may be folded
    assert len(ids) == 2 and ids[0] == ids[1] == receipt.provider_id
    await channel.send(first[1], None)
    assert smtp.received[-1].message["Message-ID"].strip() != ids[0]
    other = channel.render(_alert(), RenderContext(dispatch_id="d-other"))
    assert other[0].payload["message_id"] != first[0].payload["message_id"]


async def test_the_message_on_the_wire(tmp_path: Path, smtp: FakeSmtp) -> None:
    """Plain text first, then escaped accessible HTML; subject with severity; the contact's language."""
    channel = build(_settings(tmp_path, smtp.base_url), _secrets(), exercise=False)
    deliveries = channel.render(_alert(), RenderContext(dispatch_id="d-wire"))
    await _deliver_all(channel, deliveries)
    english, spanish = (m.message for m in smtp.received)
    assert english["Subject"] == "Severe: Fire in Building A <east> & west"
    assert spanish["Subject"] == "Severe: Incendio en el edificio A"
    assert english["Auto-Submitted"] == "auto-generated" and english["Content-Language"] == "en"
    assert english.get_content_type() == "multipart/alternative"
    plain, html = english.iter_parts()
    assert plain.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    assert _text(plain).startswith("Fire in Building A <east> & west\n\nEvacuate by the north stairs.")
    assert "https://www.example-hospital.org/alerts?id=1&lang=en" in _text(plain)
    markup = html.get_content()
    assert "<h1>Fire in Building A &lt;east&gt; &amp; west</h1>" in markup
    assert 'href="https://www.example-hospital.org/alerts?id=1&amp;lang=en"' in markup
    assert '<html lang="en">' in markup and "<east>" not in markup


async def test_preview_shows_exactly_what_is_sent(tmp_path: Path, smtp: FakeSmtp) -> None:
    """The preview's subject and body per language are the ones on the wire; recipients counted."""
    settings = _settings(tmp_path, smtp.base_url)
    preview = SPEC.preview(_alert(), settings)
    data = preview.to_json()
    channel = build(settings, _secrets(), exercise=False)
    await _deliver_all(channel, channel.render(_alert(), RenderContext(dispatch_id="d-preview")))
    sent = {m.message["Content-Language"]: m.message for m in smtp.received}
    renderings = data["renderings"]
    assert isinstance(renderings, list)
    for rendering in renderings:
        assert isinstance(rendering, dict)
        wire = sent[str(rendering["language"])]
        assert rendering["subject"] == wire["Subject"]
        assert rendering["text"] == _text(wire.get_body(("plain",))).rstrip("\n")
    assert data["recipients"] == 2 and "2 addresses" in (preview.summary() or "")


async def test_exercise_reaches_only_the_exercise_audience(tmp_path: Path, smtp: FakeSmtp) -> None:
    """A drill to all-staff goes to the drill team only, marked; a production address is never added."""
    channel = build(_settings(tmp_path, smtp.base_url), _secrets(), exercise=True)
    drill = _alert(status=Status.EXERCISE)
    ctx = RenderContext(dispatch_id="d-drill", only_targets={"email": frozenset([*DRILL, *STAFF])})
    deliveries = channel.render(drill, ctx)
    assert [d.target for d in deliveries] == DRILL
    await _deliver_all(channel, deliveries)
    assert sorted(r for m in smtp.received for r in m.rcpt_tos) == sorted(DRILL)
    for mail in smtp.received:
        assert mail.message["Subject"].startswith("EXERCISE EXERCISE EXERCISE ")
        text = _text(mail.message.get_body(("plain",))).strip()
        assert text.startswith("EXERCISE EXERCISE EXERCISE") and text.endswith("EXERCISE EXERCISE EXERCISE")


def test_exercise_without_exercise_audience_is_unavailable(tmp_path: Path) -> None:
    """No exercise audience: the channel refuses to build for a drill, with a plain reason."""
    raw: dict[str, Any] = tomllib.loads(default_config_text())
    (tmp_path / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
    raw["channels"]["email"]["contacts"] = str(tmp_path / "contacts.csv")
    raw["exercise_audiences"] = []
    settings = Settings.model_validate(raw)
    with pytest.raises(ChannelUnavailable, match="exercise audience"):
        build(settings, _secrets(), exercise=True)


def test_mail_in_clear_is_refused_beyond_this_machine(tmp_path: Path) -> None:
    """security = "none" to another host would send the password in clear: the channel will not build."""
    settings = _settings(tmp_path, "smtp://smtp.example.org:25", security="none")
    with pytest.raises(ChannelUnavailable, match="in clear"):
        build(settings, _secrets(), exercise=False)


def test_staff_channel_is_not_guarded_for_patient_information(tmp_path: Path) -> None:
    """E-mail goes to staff, not the public: the PHI guard does not apply and MRN-like text renders."""
    assert SPEC.public is False and EmailChannel.public is False
    settings = _settings(tmp_path, "smtp://127.0.0.1:9", security="none")
    channel = build(settings, _secrets(), exercise=False)
    deliveries = channel.render(
        _alert(headline="Patient MRN 12345678 moved to ICU bed 4"), RenderContext("d")
    )
    assert deliveries and "MRN 12345678" in deliveries[0].body


def _text(part: Any) -> str:
    """A text part's content as written (SMTP puts CRLF line ends on the wire)."""
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def _record(delivery: Delivery, provider_id: str) -> DeliveryRecord:
    return DeliveryRecord(delivery, DeliveryState.DELIVERED, 1, provider_id, None, None, datetime.now(UTC))


async def test_update_reaches_exactly_the_addresses_the_original_reached(
    tmp_path: Path, smtp: FakeSmtp
) -> None:
    """An Update goes only to who the original reached (even after they left the file), as a reply."""
    settings = _settings(tmp_path, smtp.base_url)
    channel = build(settings, _secrets(), exercise=False)
    original = channel.render(_alert(), RenderContext(dispatch_id="d-orig"))
    reached = [
        original[0],
        original[0].__class__(**{**_fields(original[0]), "target": "left@hospital.example"}),
    ]
    assert SPEC.follow_up is not None
    plan = SPEC.follow_up([[_record(d, f"<id-{i}@hospital.example>") for i, d in enumerate(reached)]])
    assert plan.only_targets == frozenset({"avery@hospital.example", "left@hospital.example"})
    ctx = RenderContext(
        dispatch_id="d-update",
        only_targets={"email": plan.only_targets},
        reply_to={f"email:{t}": p for t, p in plan.reply_to_target.items()},
    )
    update = _alert(
        msg_type=MsgType.UPDATE,
        headline="Fire contained in Building A",
        references=("crisiscast,crisiscast-1,2026-12-03T10:00:00+00:00",),
    )
    deliveries = channel.render(update, ctx)
    assert sorted(d.target for d in deliveries) == ["avery@hospital.example", "left@hospital.example"]
    await _deliver_all(channel, deliveries)
    first = next(m.message for m in smtp.received if m.rcpt_tos == ["avery@hospital.example"])
    assert first["Subject"] == "Update: Severe: Fire contained in Building A"
    assert first["In-Reply-To"].strip() == "<id-0@hospital.example>"


def _fields(delivery: Delivery) -> dict[str, Any]:
    return {
        k: getattr(delivery, k)
        for k in ("dispatch_id", "channel", "target", "part", "body", "language", "payload")
    }


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_tls_before_login_with_a_trusted_certificate(tmp_path: Path, security: str) -> None:
    """STARTTLS (required before AUTH) or implicit TLS, verified against the configured CA."""
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    fake = FakeSmtp(tls=server_tls, implicit_tls=security == "tls")
    url = await fake.start()
    try:
        settings = _settings(tmp_path, url, security=security, ca_file=str(tmp_path / "ca.pem"))
        channel = build(settings, _secrets(), exercise=False)
        [delivery, *_] = channel.render(_alert(), RenderContext(dispatch_id=f"d-{security}"))
        await channel.send(delivery, None)
        assert [m.rcpt_tos for m in fake.received] == [["avery@hospital.example"]]

        untrusted = build(_settings(tmp_path, url, security=security), _secrets(), exercise=False)
        with pytest.raises(Permanent) as info:
            await untrusted.send(delivery, None)
        assert info.value.code == "smtp_tls" and len(fake.received) == 1
    finally:
        await fake.stop()
