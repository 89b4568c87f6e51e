"""What the staff-chat channels that post through one secret webhook URL have in common.

Such a channel (a chat's incoming webhook, a workflow trigger) holds a URL that is its only
credential: a secret, read from the environment, never logged, never in an error, a receipt or
the audit — the account is a short one-way fingerprint of it. Each alert is one ``POST``; the
provider keeps nothing the webhook can read back, so a post whose answer was lost is never sent
again (``reconcile`` raises ``CannotReconcile(never_resend=True)``).

A channel package subclasses ``WebhookPostChannel`` with its body and its answer classifier, and
builds it with ``choose_webhook`` (the alert or the drill channel, and the variable to name).
Its configuration section derives from ``WebhookSection`` (the names of the two channels and
the sandbox address, which may only be this machine).
"""

from __future__ import annotations

import hashlib
from abc import abstractmethod
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import structlog
from pydantic import SecretStr, field_validator

from crisiscast.channels.base import BaseChannel, ChannelLimits, ChannelUnavailable
from crisiscast.channels.http import HttpResponse, SessionHolder, request
from crisiscast.config import ChannelSection, PolicyConfig, Secrets
from crisiscast.delivery import Delivery, Receipt
from crisiscast.errors import CannotReconcile, DeliveryError
from crisiscast.jsontypes import JsonObject

__all__ = ["ChosenWebhook", "WebhookPostChannel", "WebhookSection", "choose_webhook", "webhook_fingerprint"]

log = structlog.get_logger(__name__)

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def webhook_fingerprint(url: str) -> str:
    """A short, one-way identity of a webhook URL (the account; the URL itself is the secret)."""
    return hashlib.sha256(url.strip().encode("utf-8")).hexdigest()[:16]


class WebhookSection(ChannelSection):
    """The alert channel's and the drill channel's names, and the sandbox address."""

    channel_name: str = ""
    exercise_channel_name: str | None = None
    sandbox_url: str | None = None

    @field_validator("sandbox_url")
    @classmethod
    def _local_only(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).hostname not in LOCAL_HOSTS:
            raise ValueError(
                "sandbox_url may only point at this machine (127.0.0.1 or localhost); remove it to "
                "post to the provider itself"
            )
        return value


@dataclass(frozen=True, slots=True)
class ChosenWebhook:
    """The channel to post to, its secret URL and the environment variable that holds it."""

    channel_name: str
    url: SecretStr
    variable: str


def choose_webhook(
    cfg: WebhookSection, secrets: Secrets, *, exercise: bool, title: str, section: str, url_name: str
) -> ChosenWebhook:
    """The alert channel's webhook, or (``exercise``) the drill channel's.

    ``url_name`` is the secret's name without the ``CRISISCAST_`` prefix (``slack_webhook_url``);
    the drill's is ``<prefix>_exercise_webhook_url``. Raises ``ChannelUnavailable`` when the
    section is disabled, no drill channel is configured, or the URL is not set.
    """
    if not cfg.enabled:
        raise ChannelUnavailable(
            f"{title} is disabled in the configuration ([channels.{section}] enabled = false)."
        )
    name: str | None = cfg.channel_name
    if exercise:
        name = cfg.exercise_channel_name
        url_name = url_name.replace("_webhook_url", "_exercise_webhook_url")
    variable = f"CRISISCAST_{url_name.upper()}"
    if not name:
        raise ChannelUnavailable(
            f"No {title} drill channel is configured; set [channels.{section}] exercise_channel_name and "
            f"{variable} to include {title} in exercises."
        )
    url = secrets.get(url_name)
    if url is None or not url.get_secret_value().strip():
        raise ChannelUnavailable(f"The {title} webhook URL {variable} is not set; set it in the environment.")
    return ChosenWebhook(channel_name=name, url=url, variable=variable)


class WebhookPostChannel(BaseChannel):
    """Posts each delivery once to one secret webhook URL; see the module docstring."""

    public = False
    provider: str = "the webhook"  # how errors name the provider
    never_resend_reason: str = "The webhook keeps nothing to read back; the message is not sent again."

    def __init__(
        self,
        *,
        webhook_url: SecretStr,
        channel_name: str,
        policy: PolicyConfig,
        limits: ChannelLimits,
        env_var: str,
        sandbox_url: str | None = None,
        request_timeout_s: float = 10.0,
    ) -> None:
        self._url = webhook_url
        self._sandbox_url = sandbox_url
        self.channel_name = channel_name
        self._env_var = env_var
        self.policy = policy
        self.limits = limits
        self.account = f"{self.name}:{webhook_fingerprint(webhook_url.get_secret_value())}"
        self._http = SessionHolder(timeout_s=request_timeout_s, pool_key=self.name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(account={self.account!r}, channel={self.channel_name!r})"

    @abstractmethod
    def body(self, delivery: Delivery) -> JsonObject:
        """The JSON body to post for ``delivery``."""

    @abstractmethod
    def classify(self, response: HttpResponse) -> Receipt | DeliveryError:
        """The receipt for an accepted post, or the classified error for any other answer."""

    def _target(self) -> str:
        url = self._url.get_secret_value().strip()
        if not self._sandbox_url:
            return url
        here, there = urlsplit(self._sandbox_url), urlsplit(url)
        return urlunsplit((here.scheme, here.netloc, there.path, there.query, ""))

    async def send(self, delivery: Delivery, previous: Receipt | None) -> Receipt:
        """Post once; the receipt says the provider accepted it (there is nothing to read back)."""
        response = await request(
            self._http.get(), "POST", self._target(), provider=self.provider, json=self.body(delivery)
        )
        outcome = self.classify(response)
        if isinstance(outcome, DeliveryError):
            log.info(
                f"{self.name}_post_refused", delivery=delivery.key, status=response.status, code=outcome.code
            )
            raise outcome
        return outcome

    async def reconcile(self, delivery: Delivery) -> Receipt | None:
        raise CannotReconcile(self.never_resend_reason, never_resend=True)

    async def aclose(self) -> None:
        await self._http.aclose()
