"""E-mail to staff over SMTP: one message per recipient of the message's audiences.

``render`` turns a message into ONE delivery per address: the message's audiences name
contact groups (``[audiences]``), the contacts CSV gives each person's ``email`` column and
language, and the words come from ``adapt_email`` once per language. A person whose
``paths`` leave e-mail out is not e-mailed. Exercise and Test messages go only to the
exercise audiences' people, and an Update or all-clear of a drill never widens that.
``ctx.only_targets["email"]`` restricts the recipients to the addresses an earlier message
reached (an Update or all-clear), even if they have left the contacts file since; the
follow-up also carries ``In-Reply-To``/``References`` to the message that person last got,
so mail programs thread it.

Each delivery has its ``Message-ID`` fixed at render time from the delivery key (dispatch,
channel and address): every retry of the same delivery sends the same ``Message-ID``, so a
duplicate after an ambiguous attempt is recognisable (and many mail systems drop it).

``send`` makes exactly one SMTP transaction (``crisiscast.channels.email.smtp.submit``);
errors are classified per recipient from the reply codes there. SMTP cannot be asked later
whether a message arrived, so ``reconcile`` raises ``CannotReconcile`` and the in-doubt
policy decides.

``build`` fails with ``ChannelUnavailable`` (a plain sentence) when the channel is disabled,
the SMTP URL or sender is wrong, a login secret is missing, the contacts file is missing, or
an exercise has no exercise audience.
"""

from __future__ import annotations

import hashlib
import re
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import ClassVar

import structlog
from pydantic import SecretStr

from crisiscast.channels.base import BaseChannel, ChannelLimits, ChannelUnavailable, RenderContext
from crisiscast.channels.email import NAME, SPEC
from crisiscast.channels.email.smtp import SmtpServer, submit
from crisiscast.channels.staff import staff_contacts
from crisiscast.config import Secrets, Settings
from crisiscast.contacts import Contact, ContactProblem, ContactsLoad, load_contacts, normalise_email
from crisiscast.delivery import Delivery, Receipt, delivery_key
from crisiscast.jsontypes import JsonMapping, JsonObject
from crisiscast.message import CrisisMessage, Status
from crisiscast.roster.audiences import check_known, reached

__all__ = ["EmailChannel", "build", "message_id_for"]

log = structlog.get_logger(__name__)
_UNSAFE = re.compile(r"[^A-Za-z0-9.\-]")


def message_id_for(delivery_key: str, domain: str) -> str:
    """The ``Message-ID`` of a delivery: the same for every attempt of it, unique per recipient."""
    digest = hashlib.sha256(delivery_key.encode("utf-8")).hexdigest()[:32]
    dispatch = _UNSAFE.sub("-", delivery_key.split(":", 1)[0])[:64]
    return f"<crisiscast.{dispatch}.{digest}@{domain}>"


class EmailChannel(BaseChannel):
    """One SMTP submission account: ``account`` is ``"email:<user>@<host>:<port>"``."""

    name: ClassVar[str] = NAME
    public: ClassVar[bool] = False

    def __init__(
        self,
        settings: Settings,
        server: SmtpServer,
        contacts: ContactsLoad | None,
        *,
        exercise: bool = False,
    ) -> None:
        cfg = SPEC.config(settings)
        self.settings = settings
        self.server = server
        self._contacts = contacts
        self.exercise = exercise
        self.account = f"email:{server.account}"
        self.limits = ChannelLimits.from_config(cfg)
        self.policy = settings.policy
        self.sender = Address(cfg.from_name, addr_spec=cfg.from_address)
        self.domain = cfg.message_id_domain or cfg.from_address.rpartition("@")[2]
        self._log = log.bind(channel=self.name, account=self.account)

    def __repr__(self) -> str:
        return f"<EmailChannel {self.account}>"

    @property
    def contacts(self) -> ContactsLoad:
        """The contacts (``build`` reads the file; a channel built for a resume, on first use)."""
        if self._contacts is None:
            cfg = SPEC.config(self.settings)
            self._contacts = load_contacts(
                self.settings.resolve(cfg.contacts), default_region=cfg.default_region
            )
            self.log_contact_notes()
        return self._contacts

    def log_contact_notes(self) -> None:
        """One warning per e-mail value left out of the contacts file (line and reason)."""
        for problem in self.contacts.notes:
            self._log.warning("contact_value_ignored", line=problem.line, reason=problem.reason)

    @property
    def contact_problems(self) -> tuple[ContactProblem, ...]:
        """Rows skipped, and rows whose e-mail address was left out."""
        return self.contacts.problems + self.contacts.notes

    # -- who -----------------------------------------------------------------------------------
    def audience_names(self, message: CrisisMessage) -> list[str]:
        """The audiences a message reaches; Exercise/Test messages only exercise audiences."""
        check_known(self.settings, message.audiences)
        names = list(message.audiences)
        if self._drill(message):
            allowed = self.settings.exercise_audiences
            names = [a for a in names if a in allowed] or list(allowed)
        return names

    def recipients(self, message: CrisisMessage, ctx: RenderContext) -> list[Contact]:
        """One contact per address (the first row wins), in contacts-file order."""
        drill = self._drill(message)
        names = self.audience_names(message)
        only = ctx.only_targets.get(NAME) if ctx.only_targets is not None else None
        contacts = self.contacts.contacts
        if only is not None and not drill:
            pool: Sequence[Contact] = contacts  # wherever they are now
        else:  # group and roster audiences, as they stand at render time
            pool = reached(self.settings, names, contacts, ctx.now)
        seen: set[str] = set()
        chosen: list[Contact] = []
        for contact in pool:
            address = contact.email
            if address is None or NAME not in contact.paths:
                continue
            if address.casefold() in seen or (only is not None and address not in only):
                continue
            seen.add(address.casefold())
            chosen.append(contact)
        if only is not None and not drill:
            chosen.extend(
                Contact(name="", phone="", groups=frozenset(), language=message.language, line=0, email=a)
                for a in sorted(only)
                if a.casefold() not in seen
            )
        return chosen

    # -- the channel contract ---------------------------------------------------------------------
    def render(self, message: CrisisMessage, ctx: RenderContext) -> list[Delivery]:
        """One delivery per address; raises ``PolicyError`` (unknown audience, blank marker)."""
        from crisiscast.channels.email.adapt import adapt_email

        cfg = SPEC.config(self.settings)
        shared: dict[str, tuple[str, str, JsonObject]] = {}
        deliveries: list[Delivery] = []
        for contact in self.recipients(message, ctx):
            cached = shared.get(contact.language)
            if cached is None:
                words = adapt_email(message, contact.language, cfg, self.settings.policy)
                payload: JsonObject = {
                    "subject": words.subject,
                    "html": words.html,
                    "rendered_at": ctx.now.astimezone(UTC).isoformat(),
                }
                cached = shared[contact.language] = (words.text, words.language, payload)
            text, language, payload = cached
            address = contact.email or ""
            key = delivery_key(ctx.dispatch_id, self.name, address, 0)
            own: JsonObject = {**payload, "message_id": message_id_for(key, self.domain)}
            reply = ctx.reply_to.get(f"{NAME}:{address}")
            if reply:
                own["in_reply_to"] = reply
            deliveries.append(
                Delivery(ctx.dispatch_id, self.name, address, 0, text, language=language, payload=own)
            )
        if not deliveries:
            self._log.warning("email_no_recipients", audiences=list(message.audiences))
        return deliveries

    def mime(self, delivery: Delivery) -> EmailMessage:
        """The message as it goes on the wire: plain text first, then the HTML alternative."""
        payload = delivery.payload
        msg = EmailMessage(policy=SMTP)
        msg["From"] = self.sender
        msg["To"] = delivery.target
        msg["Subject"] = str(payload.get("subject", ""))
        msg["Message-ID"] = str(payload["message_id"])
        msg["Date"] = format_datetime(_rendered(payload))
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
        msg["X-Auto-Response-Suppress"] = "All"
        reply_to = SPEC.config(self.settings).reply_to
        if reply_to:
            msg["Reply-To"] = reply_to
        earlier = payload.get("in_reply_to")
        if earlier:
            msg["In-Reply-To"] = str(earlier)
            msg["References"] = str(earlier)
        msg.set_content(delivery.body, charset="utf-8")
        html = payload.get("html")
        if html:
            msg.add_alternative(str(html), subtype="html", charset="utf-8")
        msg["Content-Language"] = delivery.language  # after the content, which resets Content-*
        return msg

    async def send(self, delivery: Delivery, previous: Receipt | None) -> Receipt:
        """One SMTP transaction to one recipient; the Message-ID as the provider id."""
        wire = self.mime(delivery).as_bytes()
        try:
            reply = await submit(self.server, self.sender.addr_spec, delivery.target, wire)
        except Exception as exc:
            code = getattr(exc, "code", None)
            self._log.info("email_attempt_failed", delivery=delivery.key, code=code)
            raise
        return Receipt(
            provider_id=str(delivery.payload["message_id"]), status="accepted", detail={"smtp_reply": reply}
        )

    def _drill(self, message: CrisisMessage) -> bool:
        return self.exercise or message.status is not Status.ACTUAL


def _rendered(payload: JsonMapping) -> datetime:
    raw = payload.get("rendered_at")
    try:
        return datetime.fromisoformat(str(raw))
    except ValueError:
        return datetime.now(UTC)


def build(settings: Settings, secrets: Secrets, *, exercise: bool) -> EmailChannel:
    """The e-mail channel, or ``ChannelUnavailable`` saying plainly why it cannot serve."""
    cfg = SPEC.config(settings)
    if not cfg.enabled:
        raise ChannelUnavailable("the email channel is disabled in the configuration")
    if not cfg.from_address:
        raise ChannelUnavailable("channels.email.from_address is not set; add the sender's address")
    try:
        normalise_email(cfg.from_address)
    except ValueError as exc:
        raise ChannelUnavailable(f"channels.email.from_address: {exc}") from None
    secret: SecretStr | None = None
    if cfg.auth != "none":
        if not cfg.username:
            raise ChannelUnavailable("channels.email.username is not set; add the SMTP login name")
        env = "CRISISCAST_EMAIL_PASSWORD" if cfg.auth == "password" else "CRISISCAST_EMAIL_OAUTH_TOKEN"
        secret = secrets.get(env.removeprefix("CRISISCAST_").lower())
        if secret is None or not secret.get_secret_value():
            raise ChannelUnavailable(f"{env} is not set; export the SMTP {cfg.auth} secret")
    tls: ssl.SSLContext | None = None
    if cfg.ca_file:
        try:
            tls = ssl.create_default_context(cafile=str(settings.resolve(cfg.ca_file)))
        except (OSError, ssl.SSLError) as exc:
            raise ChannelUnavailable(f"channels.email.ca_file cannot be read: {exc}") from None
    try:
        server = SmtpServer.from_url(
            cfg.smtp_url,
            security=cfg.security,
            auth=cfg.auth,
            username=cfg.username,
            secret=secret,
            timeout_s=cfg.request_timeout_s,
            tls=tls,
        )
    except ValueError as exc:
        raise ChannelUnavailable(f"channels.email: {exc}") from None
    contacts = staff_contacts(settings, "email", cfg.contacts, cfg.default_region, exercise=exercise)
    channel = EmailChannel(settings, server, contacts, exercise=exercise)
    if contacts is not None:  # else read (and logged) on first use
        channel.log_contact_notes()
    return channel
