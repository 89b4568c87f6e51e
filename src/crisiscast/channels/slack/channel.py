"""Slack: the staff alert to a channel through an incoming webhook (Block Kit), at most once.

The webhook URL (``https://hooks.slack.com/services/T…/B…/…``) is the only credential: it is a
secret, read from the environment, never logged, never in an error, a receipt or the audit
(the account is a fingerprint of it). ``POST`` the JSON body; Slack answers ``200 ok``.

Slack keeps no record an incoming webhook can read back, so a post whose answer was lost
cannot be looked up: ``reconcile`` raises ``CannotReconcile(never_resend=True)`` and the
delivery stays in doubt — it is never sent again, whatever the in-doubt policy says (a second
copy of an alert in a clinical channel is noise staff learn to ignore). An answer is recorded
as accepted: the receipt's id is Slack's ``x-slack-req-id`` header, or ``accepted``.

Slack's answers (plain text) are classified: 400 ``invalid_payload``/``invalid_blocks``/
``no_text`` → ``Permanent`` (a bug in the message: fix it, not retried); 403
``invalid_token``/``action_prohibited``, 404 ``no_service``/``channel_not_found``, 410
``channel_is_archived`` → ``Permanent`` (the webhook was revoked or its channel is gone: make a
new one); 429 → ``RateLimited`` with ``Retry-After``; 503 → ``Transient`` (not taken);
any other 5xx, a timeout or a broken connection after the request left → ``Ambiguous``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

import structlog
from pydantic import SecretStr

from crisiscast.channels.base import (
    BaseChannel,
    ChannelLimits,
    ChannelUnavailable,
    RenderContext,
    parse_retry_after_s,
)
from crisiscast.channels.http import HttpResponse, SessionHolder, request
from crisiscast.channels.slack import NAME, SPEC
from crisiscast.channels.slack.adapt import slack_payload
from crisiscast.config import PolicyConfig, Secrets, Settings
from crisiscast.delivery import Delivery, Receipt
from crisiscast.errors import Ambiguous, CannotReconcile, DeliveryError, Permanent, RateLimited, Transient
from crisiscast.jsontypes import JsonObject
from crisiscast.message import CrisisMessage

__all__ = ["SlackChannel", "build", "classify_slack_response", "webhook_fingerprint"]

log = structlog.get_logger(__name__)

PROVIDER = "Slack"
SLACK_HOSTS = frozenset({"hooks.slack.com", "hooks.slack-gov.com"})
GONE = frozenset(
    {"no_service", "channel_not_found", "channel_is_archived", "invalid_token", "action_prohibited"}
)


def webhook_fingerprint(url: str) -> str:
    """A short, one-way identity of a webhook URL (the account; the URL itself is the secret)."""
    return hashlib.sha256(url.strip().encode("utf-8")).hexdigest()[:16]


class SlackChannel(BaseChannel):
    """Posts to one Slack channel's incoming webhook; see the module docstring."""

    name = NAME
    public = False

    def __init__(
        self,
        *,
        webhook_url: SecretStr,
        channel_name: str,
        policy: PolicyConfig,
        limits: ChannelLimits,
        sandbox_url: str | None = None,
        request_timeout_s: float = 10.0,
        env_var: str = "CRISISCAST_SLACK_WEBHOOK_URL",
    ) -> None:
        self._url = webhook_url
        self._sandbox_url = sandbox_url
        self.channel_name = channel_name
        self._env_var = env_var
        self.policy = policy
        self.limits = limits
        self.account = f"slack:{webhook_fingerprint(webhook_url.get_secret_value())}"
        self._http = SessionHolder(timeout_s=request_timeout_s)

    def __repr__(self) -> str:
        return f"SlackChannel(account={self.account!r}, channel={self.channel_name!r})"

    def render(self, message: CrisisMessage, ctx: RenderContext) -> Sequence[Delivery]:
        """One message to the channel (an Update or all-clear is a new message)."""
        payload = slack_payload(message, self.policy)
        return [
            Delivery(
                dispatch_id=ctx.dispatch_id,
                channel=self.name,
                target=self.channel_name,
                part=1,
                body=str(payload["text"]),
                language=message.language,
                payload={"attachments": payload["attachments"]},
            )
        ]

    def _target(self) -> str:
        url = self._url.get_secret_value()
        if not self._sandbox_url:
            return url
        here, there = urlsplit(self._sandbox_url), urlsplit(url)
        return urlunsplit((here.scheme, here.netloc, there.path, there.query, ""))

    async def send(self, delivery: Delivery, previous: Receipt | None) -> Receipt:
        """Post once; the receipt says Slack accepted it (there is nothing to read back)."""
        body: JsonObject = {"text": delivery.body, **delivery.payload}
        response = await request(self._http.get(), "POST", self._target(), provider=PROVIDER, json=body)
        outcome = classify_slack_response(response, env_var=self._env_var)
        if isinstance(outcome, DeliveryError):
            log.info("slack_post_refused", delivery=delivery.key, status=response.status, code=outcome.code)
            raise outcome
        return outcome

    async def reconcile(self, delivery: Delivery) -> Receipt | None:
        raise CannotReconcile(
            "Slack's incoming webhooks keep nothing to read back; the message is not sent again.",
            never_resend=True,
        )

    async def aclose(self) -> None:
        await self._http.aclose()


def classify_slack_response(response: HttpResponse, *, env_var: str) -> Receipt | DeliveryError:
    """The receipt for an accepted post, or the classified error for any other answer."""
    status = response.status
    said = " ".join(response.text().split())[:60] or f"http_{status}"
    code = said if said.replace("_", "").isalnum() else f"http_{status}"
    if status == 200:
        return Receipt(
            provider_id=response.headers.get("x-slack-req-id") or "accepted",
            status="accepted",
            detail={"http_status": status},
        )
    if status == 429:
        return RateLimited(
            "Slack is limiting this webhook (about one message a second).",
            code=code,
            status=status,
            retry_after_s=parse_retry_after_s(response.headers.get("Retry-After")),
        )
    if status == 503:
        return Transient("Slack is unavailable and did not take the message.", code=code, status=status)
    if status >= 500:
        return Ambiguous(
            f"Slack failed (HTTP {status}) and may have posted the message; it is not sent again.",
            code=code,
            status=status,
        )
    if code in GONE:
        return Permanent(
            f"Slack refused the webhook ({code}): it was revoked or its channel is gone; create a new "
            f"incoming webhook and set {env_var}.",
            code=code,
            status=status,
        )
    return Permanent(f"Slack refused the message ({code}).", code=code, status=status)


def build(settings: Settings, secrets: Secrets, *, exercise: bool) -> SlackChannel:
    """The Slack channel for the alert channel or (``exercise``) the drill channel.

    Raises ``ChannelUnavailable`` when Slack is disabled, the webhook URL is missing or is not
    a Slack webhook, or no drill channel is configured.
    """
    cfg = SPEC.config(settings)
    if not cfg.enabled:
        raise ChannelUnavailable("Slack is disabled in the configuration ([channels.slack] enabled = false).")
    if exercise:
        if not cfg.exercise_channel_name:
            raise ChannelUnavailable(
                "No Slack drill channel is configured; set [channels.slack] exercise_channel_name and "
                "CRISISCAST_SLACK_EXERCISE_WEBHOOK_URL to include Slack in exercises."
            )
        name, url, variable = (
            cfg.exercise_channel_name,
            secrets.get("slack_exercise_webhook_url"),
            "CRISISCAST_SLACK_EXERCISE_WEBHOOK_URL",
        )
    else:
        name, url, variable = (
            cfg.channel_name,
            secrets.get("slack_webhook_url"),
            "CRISISCAST_SLACK_WEBHOOK_URL",
        )
    if url is None or not url.get_secret_value().strip():
        raise ChannelUnavailable(f"The Slack webhook URL {variable} is not set; set it in the environment.")
    parts = urlsplit(url.get_secret_value().strip())
    if (
        parts.scheme != "https"
        or parts.hostname not in SLACK_HOSTS
        or not parts.path.startswith("/services/")
    ):
        raise ChannelUnavailable(
            f"{variable} is not a Slack incoming-webhook URL (https://hooks.slack.com/services/…); copy "
            "it from the Slack app's Incoming Webhooks page."
        )
    return SlackChannel(
        webhook_url=url,
        channel_name=name,
        policy=settings.policy,
        limits=ChannelLimits.from_config(cfg),
        sandbox_url=cfg.sandbox_url,
        request_timeout_s=cfg.request_timeout_s,
        env_var=variable,
    )
