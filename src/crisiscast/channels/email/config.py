"""``[channels.email]``: the SMTP server, the login, the sender and the sending rate."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from crisiscast.config import ChannelSection

__all__ = ["EmailConfig"]


class EmailConfig(ChannelSection):
    """One SMTP submission account.

    ``smtp_url`` is ``smtp://host:port`` (``security`` says how it is protected) or
    ``smtps://host:port`` (TLS from the first byte, port 465). ``security``: ``starttls``
    (port 587, required before login), ``tls`` (implicit TLS) or ``none`` (only to a server on
    this machine, e.g. the sandbox: a password never crosses a network in clear). ``auth``:
    ``password`` (``CRISISCAST_EMAIL_PASSWORD``), ``xoauth2`` (``CRISISCAST_EMAIL_OAUTH_TOKEN``,
    Microsoft 365 and Google Workspace) or ``none``.

    One SMTP transaction per recipient; ``max_requests_per_s`` is the messages per second the
    provider allows (Microsoft 365: 30 a minute per mailbox, i.e. 0.5).
    """

    enabled: bool = False  # off until a sender and server are configured (no default can work)
    smtp_url: str = "smtp://127.0.0.1:8725"
    security: Literal["starttls", "tls", "none"] = "starttls"
    auth: Literal["password", "xoauth2", "none"] = "password"
    ca_file: str | None = None  # a CA bundle to trust (an in-house relay); default: the system's
    username: str = ""
    from_address: str = ""
    from_name: str = "crisiscast"
    reply_to: str | None = None
    contacts: str = "config/contacts.csv"
    default_region: str = "US"
    public_page_url: str | None = None  # the link when the message has none of its own
    message_id_domain: str | None = None  # default: the domain of from_address
    max_concurrency: int = Field(default=4, ge=1)
    max_requests_per_s: float | None = Field(default=1.0, gt=0)
    burst: int = Field(default=4, ge=1)
