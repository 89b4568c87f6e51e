"""A real SMTP server for the sandbox (``aiosmtpd``): it enforces AUTH, stores what it
receives, and can be told to fail.

``FakeSmtp().start(host, port)`` serves SMTP on ``host:port`` (0: a free port) in the running
event loop and returns ``smtp://host:port``; ``stop()`` closes it. Like a submission server it
refuses ``MAIL FROM`` until the client has logged in (``530 5.7.0``), with ``AUTH PLAIN`` or
``AUTH LOGIN`` (user ``crisiscast-sandbox`` and the sandbox password) or ``AUTH XOAUTH2``
(the same user and the sandbox access token; tests may give their own); any other login
answers ``535 5.7.8``. The sandbox speaks without TLS, so the channel's ``security = "none"``
(allowed only to 127.0.0.1); given a server ``tls`` context it requires STARTTLS before the
login, or with ``implicit_tls`` speaks TLS from the first byte (``smtps://``).

What it received: ``received`` (``ReceivedMail``: envelope sender, recipients, the raw and
parsed message, the login), ``messages_to(address)``.

Faults, for tests and drills (``times`` answers, then normal again):

- ``refuse(address, code, text)``: every ``RCPT TO`` for ``address`` answers that reply
  (``550 5.1.1 mailbox unavailable``);
- ``fail_next(stage, code, text, times=1)``: the next ``MAIL``/``RCPT``/``DATA`` answers
  ``code text`` instead (``451 4.3.0``, ``452 4.7.500 rate limit exceeded``, ``554``);
- ``drop_after_data(times=1)``: the message is stored (the server accepted it) and the
  connection is closed without a reply, the "lost after DATA" a client cannot tell apart from
  a failure;
- ``reset()``: forget the messages and the faults.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import ssl
import time
import warnings
from collections import deque
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Literal

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

__all__ = [
    "SANDBOX_OAUTH_TOKEN",
    "SANDBOX_PASSWORD",
    "SANDBOX_USER",
    "FakeSmtp",
    "ReceivedMail",
    "sandbox_env",
]

SANDBOX_USER = "crisiscast-sandbox"
SANDBOX_PASSWORD = "sandbox-smtp-password"  # noqa: S105 - the sandbox's published credential
SANDBOX_OAUTH_TOKEN = "sandbox-smtp-oauth-token"  # noqa: S105 - the sandbox's published credential

Stage = Literal["mail", "rcpt", "data"]


def sandbox_env(exercise: bool = False) -> dict[str, str]:
    """The ``CRISISCAST_*`` secrets this server accepts (one account for drills and production)."""
    return {
        "CRISISCAST_EMAIL_PASSWORD": SANDBOX_PASSWORD,
        "CRISISCAST_EMAIL_OAUTH_TOKEN": SANDBOX_OAUTH_TOKEN,
    }


@dataclass(slots=True)
class ReceivedMail:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    login: str
    at_s: float

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass(slots=True)
class _Fault:
    stage: Stage
    reply: str
    times: int
    drop: bool = False


@dataclass(slots=True)
class _Plan:
    refused: dict[str, str] = field(default_factory=dict)
    scripted: deque[_Fault] = field(default_factory=deque)

    def take(self, stage: Stage) -> _Fault | None:
        for fault in self.scripted:
            if fault.stage == stage:
                fault.times -= 1
                if fault.times <= 0:
                    self.scripted.remove(fault)
                return fault
        return None


class _Handler:
    """aiosmtpd's hooks; ``auth_XOAUTH2`` adds the mechanism (Microsoft 365, Google)."""

    def __init__(self, fake: FakeSmtp) -> None:
        self.fake = fake

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        fault = self.fake.plan.take("mail")
        if fault is not None:
            return fault.reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refused = self.fake.plan.refused.get(address.lower())
        if refused is not None:
            return refused
        fault = self.fake.plan.take("rcpt")
        if fault is not None:
            return fault.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        fault = self.fake.plan.take("data")
        if fault is not None and not fault.drop:
            return fault.reply
        raw = envelope.original_content or b""
        login = session.auth_data if isinstance(session.auth_data, str) else _login(session.auth_data)
        self.fake.received.append(
            ReceivedMail(str(envelope.mail_from), list(envelope.rcpt_tos), raw, login, time.monotonic())
        )
        self.fake.accepted.set()
        transport = server.transport
        if fault is not None and fault.drop and isinstance(transport, asyncio.Transport):
            transport.abort()  # accepted, and the reply never arrives
        return f"250 2.0.0 OK queued as sandbox-{len(self.fake.received)}"

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        try:
            decoded = base64.b64decode(args[1], validate=True).decode("utf-8") if len(args) > 1 else ""
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        fields = dict(p.split("=", 1) for p in decoded.split("\x01") if "=" in p)
        user, auth = fields.get("user", ""), fields.get("auth", "")
        if user == self.fake.user and auth == f"Bearer {self.fake.oauth_token}":
            return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)


def _login(data: Any) -> str:
    if isinstance(data, LoginPassword):
        return data.login.decode("utf-8", "replace")
    return ""


class FakeSmtp:
    """The sandbox's SMTP submission server (see the module docstring)."""

    name = "smtp"

    def __init__(
        self,
        *,
        exercise: bool = False,
        user: str = SANDBOX_USER,
        password: str = SANDBOX_PASSWORD,
        oauth_token: str = SANDBOX_OAUTH_TOKEN,
        tls: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
    ) -> None:
        self.exercise = exercise
        self.tls, self.implicit_tls = tls, implicit_tls
        self.user, self.password, self.oauth_token = user, password, oauth_token
        self.received: list[ReceivedMail] = []
        self.plan = _Plan()
        self.accepted = asyncio.Event()
        self.base_url = ""
        self._server: asyncio.Server | None = None

    # -- faults ---------------------------------------------------------------------------------
    def refuse(self, address: str, code: int = 550, text: str = "5.1.1 mailbox unavailable") -> None:
        """Answer ``code text`` to every ``RCPT TO`` for ``address``."""
        self.plan.refused[address.lower()] = f"{code} {text}"

    def fail_next(self, stage: Stage, code: int, text: str, *, times: int = 1) -> None:
        """The next ``times`` commands of ``stage`` answer ``code text``."""
        self.plan.scripted.append(_Fault(stage, f"{code} {text}", times))

    def drop_after_data(self, *, times: int = 1) -> None:
        """Store the next message(s), then close the connection without replying."""
        self.plan.scripted.append(_Fault("data", "", times, drop=True))

    def _password_check(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.user.encode()
            and auth_data.password == self.password.encode()
        ):
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    def reset(self) -> None:
        self.received.clear()
        self.plan = _Plan()

    @property
    def pending_faults(self) -> int:
        """Scripted faults not yet used."""
        return len(self.plan.scripted)

    @property
    def requests(self) -> list[ReceivedMail]:
        """What was received (the name every sandbox fake's log goes by)."""
        return self.received

    def messages_to(self, address: str) -> list[ReceivedMail]:
        wanted = address.lower()
        return [m for m in self.received if wanted in (r.lower() for r in m.rcpt_tos)]

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0: a free port); returns ``smtp://host:port``."""
        handler = _Handler(self)
        loop = asyncio.get_running_loop()
        # aiosmtpd warns on every connection about AUTH without TLS (on purpose here, 127.0.0.1
        # only) and about its own deprecated session field: noise in the demo's output.
        logging.getLogger("mail.log").setLevel(logging.ERROR)

        def protocol() -> SMTP:
            with warnings.catch_warnings():  # AUTH without TLS: on purpose, and only on 127.0.0.1
                warnings.simplefilter("ignore", UserWarning)
                starttls = self.tls if not self.implicit_tls else None
                return SMTP(
                    handler,
                    hostname="sandbox.crisiscast.test",
                    authenticator=self._password_check,
                    auth_required=True,
                    auth_require_tls=starttls is not None,  # implicit TLS: the socket already is
                    tls_context=starttls,
                    require_starttls=starttls is not None,
                )

        implicit = self.tls if self.implicit_tls else None
        self._server = await loop.create_server(protocol, host, port, ssl=implicit)
        bound = self._server.sockets[0].getsockname()[1]
        self.base_url = f"{'smtps' if implicit else 'smtp'}://{host}:{bound}"
        return self.base_url

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
