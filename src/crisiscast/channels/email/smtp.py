"""One SMTP transaction per recipient with ``aiosmtplib``, and the map from SMTP replies to errors.

``submit(...)`` connects (implicit TLS, or STARTTLS before anything else is said, or — only
to this machine — in clear), logs in (``AUTH PLAIN/LOGIN`` with the password, or ``AUTH
XOAUTH2`` with an OAuth access token), then ``MAIL FROM``, ``RCPT TO`` for the one recipient,
``DATA`` and ``QUIT``. It returns the server's reply to the message (``250 … queued as …``).

``translate(exc, phase)`` classifies what went wrong, per recipient:

- a reply code 4xx → ``Transient`` (``RateLimited``, retried after a minute, when the reply
  says the sender is over a rate or connection limit: Microsoft 365's ``4.7.500`` "server
  busy", ``421 4.3.2`` too many connections);
- a reply code 5xx → ``Permanent`` (``550 5.1.1`` no such mailbox, ``535`` login refused);
- no connection, a TLS failure before anything was sent, a dropped connection before the
  message was handed over → ``Transient``;
- the connection lost (or the reply not read in time) while the message itself was being
  handed over, after ``DATA`` → ``Ambiguous``: the server may have accepted it;
- a server that lacks what the configuration asks for (STARTTLS, XOAUTH2) → ``Permanent``.

The error's ``code`` is ``smtp_<reply code>`` (``smtp_550``) or a word (``smtp_connection``,
``smtp_lost_after_data``); its reason quotes the server's reply without any credential.
"""

from __future__ import annotations

import contextlib
import re
import ssl
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import aiosmtplib
from pydantic import SecretStr

from crisiscast.errors import Ambiguous, DeliveryError, Permanent, RateLimited, Transient

__all__ = ["Phase", "SmtpServer", "submit", "translate"]

Phase = Literal["connect", "login", "mail", "rcpt", "data", "quit"]
RATE_LIMIT_WAIT_S = 60.0
_RATE_WORDS = re.compile(r"rate|too many|throttl|exceeded|server busy|4\.7\.500", re.IGNORECASE)
_LOCAL = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where and how to submit: host, port, ``security`` and the login."""

    host: str
    port: int
    security: Literal["starttls", "tls", "none"]
    auth: Literal["password", "xoauth2", "none"]
    username: str
    secret: SecretStr | None
    timeout_s: float
    tls: ssl.SSLContext | None = None  # None: the system's trusted CAs

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        security: Literal["starttls", "tls", "none"],
        auth: Literal["password", "xoauth2", "none"],
        username: str,
        secret: SecretStr | None,
        timeout_s: float,
        tls: ssl.SSLContext | None = None,
    ) -> SmtpServer:
        """From ``smtp://host:port`` or ``smtps://host:port``; ``ValueError`` with a plain reason."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"the SMTP URL {url!r} is not smtp://host:port or smtps://host:port")
        if parts.scheme == "smtps":
            security = "tls"
        if security == "none" and parts.hostname not in _LOCAL:
            raise ValueError(
                f"security = \"none\" would send mail to {parts.hostname} in clear; "
                "use starttls or tls (none is only for a server on this machine)"
            )
        default_port = {"tls": 465, "starttls": 587, "none": 25}[security]
        port = parts.port or default_port
        return cls(parts.hostname, port, security, auth, username, secret, timeout_s, tls)

    @property
    def account(self) -> str:
        return f"{self.username or 'anonymous'}@{self.host}:{self.port}"


async def submit(server: SmtpServer, sender: str, recipient: str, message: bytes) -> str:
    """Hand ``message`` to the server for ``recipient``; the reply, or a classified error."""
    client = aiosmtplib.SMTP(
        hostname=server.host,
        port=server.port,
        use_tls=server.security == "tls",
        start_tls=server.security == "starttls",
        timeout=server.timeout_s,
        tls_context=server.tls,
    )
    phase: Phase = "connect"
    try:
        await client.connect()
        phase = "login"
        if client.last_ehlo_response is None:
            await client.ehlo()
        secret = server.secret.get_secret_value() if server.secret is not None else ""
        if server.auth == "password":
            await client.login(server.username, secret)
        elif server.auth == "xoauth2":
            if "xoauth2" not in client.server_auth_methods:
                raise Permanent(
                    f"the SMTP server {server.host} does not offer XOAUTH2; set auth = \"password\"",
                    code="smtp_no_xoauth2",
                )
            await client.auth_xoauth2(server.username, secret)
        phase = "mail"
        await client.mail(sender)
        phase = "rcpt"
        await client.rcpt(recipient)
        phase = "data"
        reply = await client.data(message)
        phase = "quit"
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await client.quit()  # the message was accepted; a goodbye that fails changes nothing
        return f"{reply.code} {reply.message}".strip()
    except DeliveryError:
        raise
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise translate(exc, phase) from None
    finally:
        client.close()


def translate(exc: BaseException, phase: Phase) -> DeliveryError:
    """The classified error for ``exc`` raised while in ``phase`` of the transaction."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        exc = exc.recipients[0]
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return from_reply(exc.code, exc.message, phase)
    if phase == "data" and isinstance(exc, aiosmtplib.SMTPServerDisconnected | TimeoutError | OSError):
        return Ambiguous(
            "the SMTP connection was lost after the message was handed over; it may have been delivered",
            code="smtp_lost_after_data",
        )
    refused = _certificate_error(exc)
    if refused is not None:
        return Permanent(
            f"the SMTP server's TLS certificate was refused: {refused.verify_message}", code="smtp_tls"
        )
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        reason = f"the SMTP server lacks what the configuration asks for: {exc}"
        return Permanent(reason, code="smtp_unsupported")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return Transient(f"the SMTP server did not answer in time ({phase})", code="smtp_timeout")
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected | aiosmtplib.SMTPConnectError | OSError):
        return Transient(f"no SMTP connection ({phase}): {_first_line(str(exc))}", code="smtp_connection")
    return Permanent(f"SMTP failed ({phase}): {_first_line(str(exc))}", code="smtp_error")


def from_reply(code: int, text: str, phase: Phase) -> DeliveryError:
    """4xx → ``Transient`` (or ``RateLimited``), 5xx → ``Permanent``, per the reply code."""
    what = {
        "connect": "refused the connection",
        "login": "refused the login",
        "mail": "refused the sender",
        "rcpt": "refused the recipient",
        "data": "refused the message",
        "quit": "answered",
    }[phase]
    reason = f"the SMTP server {what}: {code} {_first_line(text)}"
    if 400 <= code < 500:
        if _RATE_WORDS.search(text):
            return RateLimited(reason, code=f"smtp_{code}", retry_after_s=RATE_LIMIT_WAIT_S)
        return Transient(reason, code=f"smtp_{code}")
    return Permanent(reason, code=f"smtp_{code}")


def _certificate_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate failure behind ``exc`` (aiosmtplib wraps it in a connect error)."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:200]
