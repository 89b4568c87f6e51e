"""SMS to staff through Twilio Programmable Messaging, with the twilio SDK's async client.

``render`` turns a message into ONE delivery per recipient: the message's audiences name
contact groups (``[audiences]``), the contacts CSV gives each number and language, and the
body comes from ``adapt_sms`` once per language (50,000 recipients in two languages render
twice, not 50,000 times). Exercise and Test messages go only to the exercise audiences.
``ctx.only_targets["sms"]`` restricts recipients to the numbers an earlier message reached
(an Update or all-clear), even if they have left the contacts file since.

``send`` makes exactly one ``POST /2010-04-01/Accounts/{Sid}/Messages.json`` with ``To``,
``MessagingServiceSid`` and/or ``From``, ``Body``, ``ValidityPeriod`` (``sms.validity_period_s``
clipped to the time the message has left before it expires, so a crisis text never arrives
after its end), ``SmartEncoded`` and ``StatusCallback`` (``sms.status_callback_url``, else the
server's public URL + ``/twilio/status``, with ``?key=<delivery key>`` so the server can tie
each signed receipt to its delivery). Errors are classified by
``crisiscast.channels.sms.twilio.translate_error``.

``reconcile`` asks Twilio's message list (``To`` + ``DateSent>``, then the newest page for
``To`` alone, which also shows messages still queued and so without a ``DateSent``) for a
message to the same number, from the same sender, with the same body, created since the
delivery was rendered.

``build`` reads the contacts file (so ``render`` stays pure); its bad rows are logged and kept
in ``contact_problems``. Failure modes of ``build``: disabled, no account SID, no sender, no
``CRISISCAST_TWILIO_AUTH_TOKEN``, a contacts file missing or without its phone/groups columns,
or an exercise with no exercise audience → ``ChannelUnavailable`` with a plain sentence.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Mapping
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
from crisiscast.channels.sms import SPEC
from crisiscast.channels.sms.config import SmsConfig
from crisiscast.channels.sms.twilio import TwilioTransport, capture_response, translate_error
from crisiscast.channels.staff import staff_contacts
from crisiscast.config import Secrets, Settings
from crisiscast.contacts import Contact, ContactProblem, ContactsLoad, load_contacts, select_recipients
from crisiscast.delivery import Delivery, Receipt
from crisiscast.errors import Permanent
from crisiscast.message import CrisisMessage, Status
from crisiscast.roster.audiences import check_known, reached

__all__ = ["STATUS_CALLBACK_PATH", "SmsChannel", "build"]

STATUS_CALLBACK_PATH = "/twilio/status"
BODY_MAX_CHARS = 1600
_RECONCILE_SLACK_S = 120.0  # clock skew between us and Twilio when matching date_created

log = structlog.get_logger(__name__)


class SmsChannel(BaseChannel):
    """One Twilio account: ``account`` is ``"sms:<AccountSid>"`` (limits are per account)."""

    name: ClassVar[str] = "sms"
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
        self.exercise = exercise
        self.account = f"sms:{cfg.account_sid}"
        self.limits = ChannelLimits.from_config(cfg)
        public_url = settings.server.public_url
        self.status_callback_url = cfg.status_callback_url or (
            public_url.rstrip("/") + STATUS_CALLBACK_PATH if public_url else None
        )
        self._contacts = contacts
        self._transport = TwilioTransport(
            cfg.api_base_url, timeout_s=cfg.request_timeout_s, pool_key=self.name
        )
        # An explicit environment keeps TWILIO_EDGE/TWILIO_REGION from rewriting the host.
        client = Client(
            cfg.account_sid,
            auth_token.get_secret_value(),
            http_client=self._transport,
            environment={"TWILIO_EDGE": "", "TWILIO_REGION": ""},
        )
        self._messages = client.api.v2010.account.messages
        self._log = log.bind(channel=self.name, account=self.account)

    def __repr__(self) -> str:
        return f"<SmsChannel {self.account}>"

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
        """Rows of the contacts file that were skipped, with line numbers and reasons."""
        return self.contacts.problems

    def audience_names(self, message: CrisisMessage) -> list[str]:
        """The audiences a message reaches; Exercise/Test messages only exercise audiences."""
        check_known(self.settings, message.audiences)
        names = list(message.audiences)
        if self.exercise or message.status is not Status.ACTUAL:
            allowed = self.settings.exercise_audiences
            names = [a for a in names if a in allowed] or list(allowed)
        return names

    def groups_for(self, message: CrisisMessage) -> set[str]:
        """The contact groups of the group audiences a message reaches."""
        return {g.lower() for a in self.audience_names(message) for g in self.settings.audiences.get(a, ())}

    def recipients(self, message: CrisisMessage, ctx: RenderContext) -> list[Contact]:
        """Who gets the message: one contact per number, in contacts-file order."""
        only = ctx.only_targets.get("sms") if ctx.only_targets is not None else None
        contacts = self.contacts.contacts
        if only is None:  # group and roster audiences, as they stand at render time
            return reached(self.settings, self.audience_names(message), contacts, ctx.now)
        groups = self.groups_for(message)
        exercise = self.exercise or message.status is not Status.ACTUAL
        # An Update/all-clear reaches exactly who the original reached, wherever they are now.
        pool_groups = groups if exercise else {g for c in contacts for g in c.groups}
        chosen = select_recipients(contacts, pool_groups, only=only)
        if not exercise:
            known = {c.phone for c in chosen}
            chosen.extend(
                Contact(name="", phone=n, groups=frozenset(), language=message.language, line=0)
                for n in sorted(only)
                if n not in known
            )
        return chosen

    # -- the channel contract -------------------------------------------------------------------
    def render(self, message: CrisisMessage, ctx: RenderContext) -> list[Delivery]:
        """One delivery per recipient; raises ``PolicyError`` (unknown audience, text over budget)."""
        from crisiscast.channels.sms.adapt import adapt_sms

        cfg = SPEC.config(self.settings)
        recipients = self.recipients(message, ctx)
        rendered: dict[str, tuple[str, str, Mapping[str, Any]]] = {}
        deliveries: list[Delivery] = []
        for contact in recipients:
            cached = rendered.get(contact.language)
            if cached is None:
                adapted = adapt_sms(message, contact.language, cfg, self.settings.policy)
                payload: dict[str, Any] = {"rendered_at": ctx.now.astimezone(UTC).isoformat()}
                if message.expires is not None:
                    payload["expires"] = message.expires.isoformat()
                payload.update(
                    {k: adapted.metrics[k] for k in ("segments", "encoding") if k in adapted.metrics}
                )
                cached = rendered[contact.language] = (adapted.parts[0], adapted.language, payload)
            body, language, shared_payload = cached
            deliveries.append(
                Delivery(
                    dispatch_id=ctx.dispatch_id,
                    channel=self.name,
                    target=contact.phone,
                    part=0,
                    body=body,
                    language=language,
                    payload=shared_payload,
                )
            )
        if not deliveries:
            self._log.warning("sms_no_recipients", audiences=list(message.audiences))
        return deliveries

    def request_params(self, delivery: Delivery, *, now: datetime | None = None) -> dict[str, Any]:
        """The SDK ``create_async`` arguments for one delivery; ``Permanent`` once expired."""
        cfg = SPEC.config(self.settings)
        params: dict[str, Any] = {
            "to": delivery.target,
            "body": delivery.body,
            "validity_period": _validity_period_s(cfg, delivery, now or datetime.now(UTC)),
            "smart_encoded": cfg.smart_encoding,
        }
        if cfg.messaging_service_sid:
            params["messaging_service_sid"] = cfg.messaging_service_sid
        if cfg.from_number:
            params["from_"] = cfg.from_number
        if self.status_callback_url:
            # The delivery key in the URL (covered by Twilio's signature) ties a receipt to its delivery.
            joiner = "&" if "?" in self.status_callback_url else "?"
            params["status_callback"] = (
                f"{self.status_callback_url}{joiner}key={quote(delivery.key, safe=':')}"
            )
        return params

    async def send(self, delivery: Delivery, previous: Receipt | None) -> Receipt:
        """One POST to Twilio; returns the message SID or raises a classified ``DeliveryError``."""
        params = self.request_params(delivery)
        with capture_response() as captured:
            try:
                message = await self._messages.create_async(**params)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                err = translate_error(exc, captured)
                self._log.info("sms_attempt_failed", delivery=delivery.key, kind=err.kind, code=err.code)
                raise err from None
        return Receipt(
            provider_id=message.sid,
            status=message.status or "queued",
            detail={"num_segments": message.num_segments},
        )

    async def reconcile(self, delivery: Delivery) -> Receipt | None:
        """Find the message in Twilio's list (same number, sender and body); None if absent.

        First ``To`` + ``DateSent>`` (the day it was rendered): the messages already sent. A
        message still queued has no ``DateSent`` yet, so when that finds nothing, the newest
        page of messages to the number (``To`` only) is checked too.
        """
        since = _rendered_at(delivery) - timedelta(seconds=_RECONCILE_SLACK_S)
        queries: list[dict[str, Any]] = [
            {"date_sent_after": since.strftime("%Y-%m-%d"), "limit": 200, "page_size": 100},
            {"limit": 50, "page_size": 50},
        ]
        for query in queries:
            with capture_response() as captured:
                try:
                    found = await self._messages.list_async(to=delivery.target, **query)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    err = translate_error(exc, captured)
                    reason = f"Twilio's message list could not be read: {err.reason}"
                    raise lookup_failure(reason, err) from None
            for record in found:
                if self._is_ours(record, delivery, since):
                    detail = {"reconciled": True}
                    return Receipt(provider_id=record.sid, status=record.status or "queued", detail=detail)
        return None

    async def start(self) -> None:
        await self._transport.start()

    async def aclose(self) -> None:
        await self._transport.close()

    # -- internals ----------------------------------------------------------------------------
    def _is_ours(self, record: Any, delivery: Delivery, since: datetime) -> bool:
        cfg = SPEC.config(self.settings)
        if record.to != delivery.target:
            return False
        if cfg.messaging_service_sid:
            if record.messaging_service_sid != cfg.messaging_service_sid:
                return False
        elif record.from_ != cfg.from_number:
            return False
        created = record.date_created
        if isinstance(created, datetime) and created < since:
            return False
        return _same_body(delivery.body, record.body or "", smart=cfg.smart_encoding)


def _validity_period_s(cfg: SmsConfig, delivery: Delivery, now: datetime) -> int:
    validity = cfg.validity_period_s
    expires = delivery.payload.get("expires")
    if not expires:
        return validity
    remaining_s = (datetime.fromisoformat(expires) - now).total_seconds()
    if remaining_s < 1:
        raise Permanent("the message expired before this text could be sent", code="expired")
    return max(1, min(validity, math.floor(remaining_s)))


def _rendered_at(delivery: Delivery) -> datetime:
    raw = delivery.payload.get("rendered_at")
    if isinstance(raw, str):
        with contextlib.suppress(ValueError):  # not a time: fall back to a day ago
            return datetime.fromisoformat(raw)
    return datetime.now(UTC) - timedelta(days=1)


def _same_body(sent: str, stored: str, *, smart: bool) -> bool:
    """Equal, or (with Smart Encoding) equal except where Twilio replaced non-ASCII look-alikes."""
    if sent == stored:
        return True
    if not smart or len(sent) != len(stored):
        return False
    return all(a == b or (ord(a) > 127 and ord(b) < 128) for a, b in zip(sent, stored, strict=True))


def build(settings: Settings, secrets: Secrets, *, exercise: bool) -> SmsChannel:
    """The SMS channel, or ``ChannelUnavailable`` saying plainly why it cannot serve."""
    cfg = SPEC.config(settings)
    if not cfg.enabled:
        raise ChannelUnavailable("the sms channel is disabled in the configuration")
    if not cfg.account_sid:
        raise ChannelUnavailable("channels.sms.account_sid is not set; add the Twilio account SID (AC…)")
    if not (cfg.messaging_service_sid or cfg.from_number):
        raise ChannelUnavailable(
            "no SMS sender is configured; set channels.sms.messaging_service_sid (MG…) or from_number"
        )
    token = secrets.get("twilio_auth_token")
    if token is None or not token.get_secret_value():
        raise ChannelUnavailable("CRISISCAST_TWILIO_AUTH_TOKEN is not set; export the Twilio auth token")
    contacts = staff_contacts(settings, "sms", cfg.contacts, cfg.default_region, exercise=exercise)
    channel = SmsChannel(settings, token, exercise=exercise, contacts=contacts)
    if contacts is not None:  # else logged when the channel reads them
        channel.log_contact_problems()
    return channel
