"""Voice calls to staff through the Twilio Calls API, with the twilio SDK's async client.

``render`` makes ONE delivery per number to call: the message's audiences name contact
groups (``[audiences]``), the contacts CSV gives each person's number and language
(``number_to_call``), and the spoken script comes from ``adapt_voice`` once per language.
Exercise and Test messages go only to the exercise audiences. ``ctx.only_targets[<name>]``
restricts the numbers to those an earlier message reached (an Update or all-clear).

``send`` places exactly one call — ``POST /2010-04-01/Accounts/{Sid}/Calls.json`` with
``To``, ``From``, inline ``Twiml`` (``crisiscast.channels.voice.twiml``), ``Timeout``
(``ring_timeout_s``), answering-machine detection (``MachineDetection=DetectMessageEnd``,
``AsyncAmd`` with its callback, so a machine gets the short voicemail version) and
``StatusCallback`` for initiated/ringing/answered/completed — and then asks Twilio how the
call went (``GET …/Calls/{CallSid}.json`` after 0.25 s, then less often, up to every
``poll_interval_s``) until it is answered or over, so the outcome is the attempt's outcome:

- ``in-progress`` or ``completed`` (answered by a person or a machine) → a ``Receipt``;
- ``busy`` or ``no-answer`` → ``Unanswered`` with ``retry_after_s = redial_wait_s``: the
  dispatcher calls again later; after ``redial_attempts`` such calls → ``Permanent``;
- ``failed`` (an unreachable or invalid number) or ``canceled`` → ``Permanent``;
- no outcome within ``max_call_wait_s`` (or unreadable) → ``Ambiguous``: the call exists,
  ``reconcile`` finds it.

The redial count lives in this channel object: a resumed dispatch (a new process) starts it
again, still bounded by the delivery's ``deadline_s``.

Callback URLs are ``callback_base_url`` (else ``server.public_url``) + ``/v1/twilio/voice/…``
with ``?key=<delivery key>``, covered by Twilio's signature; without a base URL there are no
callbacks and no "press 1" (the call still says the message twice).

``reconcile`` lists the calls to the number from our number (``To`` + ``StartTime>`` the
day it was rendered, then the newest page for ``To`` alone, which also shows calls still
queued) for one created since the delivery was rendered that is not busy, unanswered, failed
or canceled.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

import structlog
from pydantic import SecretStr
from twilio.rest import Client

from crisiscast.channels.base import (
    BaseChannel,
    ChannelLimits,
    ChannelUnavailable,
    RenderContext,
    lookup_failure,
)
from crisiscast.channels.sms.twilio import TwilioTransport, capture_response
from crisiscast.channels.staff import staff_contacts
from crisiscast.channels.voice import SPEC
from crisiscast.channels.voice.adapt import VoiceScript, adapt_voice
from crisiscast.channels.voice.errors import voice_error
from crisiscast.channels.voice.twiml import call_twiml, twiml_size
from crisiscast.config import Secrets, Settings
from crisiscast.contacts import Contact, ContactProblem, ContactsLoad, load_contacts, select_recipients
from crisiscast.delivery import Delivery, Receipt
from crisiscast.errors import Ambiguous, DeliveryError, Permanent, Unanswered
from crisiscast.message import CrisisMessage, Status
from crisiscast.roster.audiences import check_known, reached

__all__ = [
    "AMD_PATH",
    "GATHER_PATH",
    "STATUS_PATH",
    "VoiceChannel",
    "build",
    "callback_url",
    "number_to_call",
]

STATUS_PATH = "/v1/twilio/voice/status"
GATHER_PATH = "/v1/twilio/voice/gather"
AMD_PATH = "/v1/twilio/voice/amd"
ANSWERED = frozenset({"in-progress", "completed"})
UNANSWERED = frozenset({"busy", "no-answer"})
NOT_REACHED = frozenset({"busy", "no-answer", "failed", "canceled"})
_STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
_RECONCILE_SLACK_S = 120.0
_FIRST_POLL_S = 0.25  # a call answered at once (the sandbox, a fast pick-up) is known quickly

log = structlog.get_logger(__name__)


def number_to_call(contact: Contact) -> str:
    """The number a call goes to: the contact's voice number, else their phone number."""
    return contact.voice  # the voice number, else the phone number (crisiscast.contacts)


def callback_url(base: str | None, path: str, key: str) -> str | None:
    """``base`` + ``path`` + ``?key=<delivery key>`` (None without a base URL)."""
    if not base:
        return None
    return f"{base.rstrip('/')}{path}?key={quote(key, safe=':')}"


class VoiceChannel(BaseChannel):
    """One Twilio account: ``account`` is ``"voice:<AccountSid>"`` (1 call/s is per account)."""

    name: ClassVar[str] = "voice"
    public: ClassVar[bool] = False

    def __init__(
        self,
        settings: Settings,
        auth_token: SecretStr,
        *,
        exercise: bool = False,
        contacts: ContactsLoad | None = None,
    ) -> None:
        cfg = SPEC.config(settings)
        self.settings = settings
        self.policy = settings.policy
        self.exercise = exercise
        self.account = f"voice:{cfg.account_sid}"
        self.limits = ChannelLimits.from_config(cfg)
        self.callback_base = cfg.callback_base_url or settings.server.public_url
        self._contacts = contacts
        self._unanswered: dict[str, int] = {}
        self._transport = TwilioTransport(
            cfg.api_base_url, timeout_s=cfg.request_timeout_s, pool_key=self.name
        )
        client = Client(
            cfg.account_sid,
            auth_token.get_secret_value(),
            http_client=self._transport,
            environment={"TWILIO_EDGE": "", "TWILIO_REGION": ""},
        )
        self._account = client.api.v2010.account
        self._log = log.bind(channel=self.name, account=self.account)

    def __repr__(self) -> str:
        return f"<VoiceChannel {self.account}>"

    # -- contacts -----------------------------------------------------------------------------
    @property
    def contacts(self) -> ContactsLoad:
        """The contacts (``build`` reads the file; a channel made directly, or built for a resume,
        reads it on first use)."""
        if self._contacts is None:
            cfg = SPEC.config(self.settings)
            self._contacts = load_contacts(
                self.settings.resolve(cfg.contacts), default_region=cfg.default_region
            )
            self.log_contact_problems()
        return self._contacts

    def log_contact_problems(self) -> None:
        """One warning per skipped row of the contacts file (line and reason)."""
        for problem in self.contacts.problems:
            self._log.warning("contact_row_skipped", line=problem.line, reason=problem.reason)

    @property
    def contact_problems(self) -> tuple[ContactProblem, ...]:
        return self.contacts.problems

    def audience_names(self, message: CrisisMessage) -> list[str]:
        """The audiences a message reaches; Exercise/Test messages only exercise audiences."""
        check_known(self.settings, message.audiences)
        names = list(message.audiences)
        if self._is_drill(message):
            allowed = self.settings.exercise_audiences
            names = [a for a in names if a in allowed] or list(allowed)
        return names

    def recipients(self, message: CrisisMessage, ctx: RenderContext) -> list[tuple[str, str]]:
        """``(number, language)`` per call, one per number, in contacts-file order."""
        names = self.audience_names(message)
        only = ctx.only_targets.get(self.name) if ctx.only_targets is not None else None
        contacts = self.contacts.contacts
        drill = self._is_drill(message)
        if only is not None and not drill:
            # an Update/all-clear reaches exactly who the original reached, wherever they are now
            pool = select_recipients(contacts, {g for c in contacts for g in c.groups})
        else:  # group and roster audiences, as they stand at render time
            pool = reached(self.settings, names, contacts, ctx.now)
        chosen: dict[str, str] = {}
        for contact in pool:
            number = number_to_call(contact)
            if (only is None or number in only) and number not in chosen:
                chosen[number] = contact.language
        if only is not None and not drill:
            for number in sorted(only - chosen.keys()):
                chosen[number] = message.language
        return list(chosen.items())

    # -- the channel contract -------------------------------------------------------------------
    def script_for(self, message: CrisisMessage, language: str) -> VoiceScript:
        return adapt_voice(message, language, SPEC.config(self.settings), self.policy, size_of=twiml_size)

    def render(self, message: CrisisMessage, ctx: RenderContext) -> list[Delivery]:
        """One delivery per number; raises ``PolicyError`` (unknown audience, script too long)."""
        rendered: dict[str, tuple[str, str, dict[str, Any]]] = {}
        deliveries: list[Delivery] = []
        gather = bool(self.callback_base)
        for number, language in self.recipients(message, ctx):
            cached = rendered.get(language)
            if cached is None:
                script = self.script_for(message, language)
                payload: dict[str, Any] = {
                    "rendered_at": ctx.now.astimezone(UTC).isoformat(),
                    "script": script.to_payload(),
                }
                if message.expires is not None:
                    payload["expires"] = message.expires.isoformat()
                body = "\n".join(script.lines(gather=gather))
                cached = rendered[language] = (body, script.language, payload)
            body, lang, payload = cached
            deliveries.append(Delivery(ctx.dispatch_id, self.name, number, 0, body, lang, payload))
        if not deliveries:
            self._log.warning("voice_no_recipients", audiences=list(message.audiences))
        return deliveries

    def twiml_for(self, delivery: Delivery) -> str:
        """The call's TwiML for one delivery (its own "press 1" callback URL)."""
        script = VoiceScript.from_payload(dict(delivery.payload.get("script") or {}))
        gather_url = callback_url(self.callback_base, GATHER_PATH, delivery.key)
        return call_twiml(script, gather_url, gather_timeout_s=SPEC.config(self.settings).gather_timeout_s)

    def request_params(self, delivery: Delivery, *, now: datetime | None = None) -> dict[str, Any]:
        """The SDK ``create_async`` arguments for one call; ``Permanent`` once the message expired."""
        cfg = SPEC.config(self.settings)
        _check_not_expired(delivery, now or datetime.now(UTC))
        params: dict[str, Any] = {
            "to": delivery.target,
            "from_": cfg.from_number,
            "twiml": self.twiml_for(delivery),
            "timeout": cfg.ring_timeout_s,
        }
        status_url = callback_url(self.callback_base, STATUS_PATH, delivery.key)
        if status_url:
            params.update(
                status_callback=status_url,
                status_callback_event=_STATUS_EVENTS,
                status_callback_method="POST",
            )
        if cfg.machine_detection:
            params["machine_detection"] = "DetectMessageEnd"
            amd_url = callback_url(self.callback_base, AMD_PATH, delivery.key)
            if amd_url:
                params.update(
                    async_amd="true",
                    async_amd_status_callback=amd_url,
                    async_amd_status_callback_method="POST",
                )
        return params

    async def send(self, delivery: Delivery, previous: Receipt | None) -> Receipt:
        """Place one call and wait for its outcome (see the module docstring)."""
        params = self.request_params(delivery)
        with capture_response() as captured:
            try:
                call = await self._account.calls.create_async(**params)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                err = voice_error(exc, captured)
                self._log.info("voice_attempt_failed", delivery=delivery.key, kind=err.kind, code=err.code)
                raise err from None
        status = await self._outcome(call.sid, call.status or "queued")
        return self._settle(delivery, call.sid, status)

    async def _outcome(self, sid: str, status: str) -> str:
        """The call's status once answered or over; ``Ambiguous`` if that takes too long."""
        cfg = SPEC.config(self.settings)
        give_up_at = time.monotonic() + cfg.max_call_wait_s
        last_error: DeliveryError | None = None
        delay_s = min(_FIRST_POLL_S, cfg.poll_interval_s)  # then doubling up to poll_interval_s
        while status not in ANSWERED | NOT_REACHED:
            if time.monotonic() >= give_up_at:
                why = f" ({last_error.reason})" if last_error is not None else ""
                raise Ambiguous(
                    f"the call was placed but its outcome was not known within "
                    f"{cfg.max_call_wait_s:g} s{why}",
                    code="call_outcome_unknown",
                )
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, cfg.poll_interval_s)
            with capture_response() as captured:
                try:
                    fetched = await self._account.calls(sid).fetch_async()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    last_error = voice_error(exc, captured)
                    continue
            status = fetched.status or status
        return status

    def _settle(self, delivery: Delivery, sid: str, status: str) -> Receipt:
        cfg = SPEC.config(self.settings)
        if status in ANSWERED:
            self._unanswered.pop(delivery.key, None)
            return Receipt(provider_id=sid, status=status, detail={"call_status": status})
        if status in UNANSWERED:
            count = self._unanswered.get(delivery.key, 0) + 1
            self._unanswered[delivery.key] = count
            what = "the line was busy" if status == "busy" else "nobody answered"
            if count > cfg.redial_attempts:
                raise Permanent(f"{what} on every one of {count} calls; given up", code=status)
            raise Unanswered(
                f"{what}; calling again in {cfg.redial_wait_s:g} s",
                code=status,
                retry_after_s=cfg.redial_wait_s,
            )
        if status == "failed":
            raise Permanent(
                "Twilio could not place the call (the number is unreachable or not valid)", code="failed"
            )
        raise Permanent(f"the call ended as {status} before anyone answered", code=status)

    async def reconcile(self, delivery: Delivery) -> Receipt | None:
        """Find the call in Twilio's call list (same number and caller, since the render)."""
        since = _rendered_at(delivery) - timedelta(seconds=_RECONCILE_SLACK_S)
        queries: list[dict[str, Any]] = [
            {"start_time_after": since.strftime("%Y-%m-%d"), "limit": 200, "page_size": 100},
            {"limit": 50, "page_size": 50},
        ]
        for query in queries:
            with capture_response() as captured:
                try:
                    found = await self._account.calls.list_async(to=delivery.target, **query)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    err = voice_error(exc, captured)
                    raise lookup_failure(f"Twilio's call list could not be read: {err.reason}", err) from None
            for record in found:
                if self._is_ours(record, delivery, since):
                    status = record.status or "queued"
                    return Receipt(provider_id=record.sid, status=status, detail={"reconciled": True})
        return None

    async def start(self) -> None:
        await self._transport.start()

    async def aclose(self) -> None:
        await self._transport.close()

    # -- internals ----------------------------------------------------------------------------
    def _is_drill(self, message: CrisisMessage) -> bool:
        return self.exercise or message.status is not Status.ACTUAL

    def _is_ours(self, record: Any, delivery: Delivery, since: datetime) -> bool:
        cfg = SPEC.config(self.settings)
        if record.to != delivery.target or record._from != cfg.from_number:
            return False
        if (record.status or "") in NOT_REACHED:
            return False
        created = record.date_created
        return not (isinstance(created, datetime) and created < since)


def _rendered_at(delivery: Delivery) -> datetime:
    raw = delivery.payload.get("rendered_at")
    if isinstance(raw, str):
        with contextlib.suppress(ValueError):  # not a time: fall back to a day ago
            return datetime.fromisoformat(raw)
    return datetime.now(UTC) - timedelta(days=1)


def _check_not_expired(delivery: Delivery, now: datetime) -> None:
    expires = delivery.payload.get("expires")
    if expires and math.floor((datetime.fromisoformat(expires) - now).total_seconds()) < 1:
        raise Permanent("the message expired before this call could be placed", code="expired")


def build(settings: Settings, secrets: Secrets, *, exercise: bool) -> VoiceChannel:
    """The voice channel, or ``ChannelUnavailable`` saying plainly why it cannot serve."""
    cfg = SPEC.config(settings)
    if not cfg.enabled:
        raise ChannelUnavailable("the voice channel is disabled in the configuration")
    if not cfg.account_sid:
        raise ChannelUnavailable("channels.voice.account_sid is not set; add the Twilio account SID (AC…)")
    if not cfg.from_number:
        raise ChannelUnavailable(
            "channels.voice.from_number is not set; add the Twilio number calls come from"
        )
    token = secrets.get("twilio_auth_token")
    if token is None or not token.get_secret_value():
        raise ChannelUnavailable("CRISISCAST_TWILIO_AUTH_TOKEN is not set; export the Twilio auth token")
    contacts = staff_contacts(settings, "voice", cfg.contacts, cfg.default_region, exercise=exercise)
    channel = VoiceChannel(settings, token, exercise=exercise, contacts=contacts)
    if contacts is not None:  # else read (and logged) on first use
        channel.log_contact_problems()
    return channel
