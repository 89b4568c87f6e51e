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

from collections.abc import Sequence
from urllib.parse import urlsplit

from crisiscast.channels.base import ChannelLimits, ChannelUnavailable, RenderContext, parse_retry_after_s
from crisiscast.channels.http import HttpResponse
from crisiscast.channels.slack import NAME, SPEC
from crisiscast.channels.slack.adapt import slack_payload
from crisiscast.channels.webhook_post import WebhookPostChannel, choose_webhook, webhook_fingerprint
from crisiscast.config import Secrets, Settings
from crisiscast.delivery import Delivery, Receipt
from crisiscast.errors import Ambiguous, DeliveryError, Permanent, RateLimited, Transient
from crisiscast.jsontypes import JsonObject
from crisiscast.message import CrisisMessage

__all__ = ["SlackChannel", "build", "classify_slack_response", "webhook_fingerprint"]

SLACK_HOSTS = frozenset({"hooks.slack.com", "hooks.slack-gov.com"})
GONE = frozenset(
    {"no_service", "channel_not_found", "channel_is_archived", "invalid_token", "action_prohibited"}
)


class SlackChannel(WebhookPostChannel):
    """Posts to one Slack channel's incoming webhook; see the module docstring."""

    name = NAME
    provider = "Slack"
    never_resend_reason = (
        "Slack's incoming webhooks keep nothing to read back; the message is not sent again."
    )

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

    def body(self, delivery: Delivery) -> JsonObject:
        return {"text": delivery.body, **delivery.payload}

    def classify(self, response: HttpResponse) -> Receipt | DeliveryError:
        return classify_slack_response(response, env_var=self._env_var)


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
    chosen = choose_webhook(
        cfg, secrets, exercise=exercise, title="Slack", section=NAME, url_name="slack_webhook_url"
    )
    parts = urlsplit(chosen.url.get_secret_value().strip())
    if (
        parts.scheme != "https"
        or parts.hostname not in SLACK_HOSTS
        or not parts.path.startswith("/services/")
    ):
        raise ChannelUnavailable(
            f"{chosen.variable} is not a Slack incoming-webhook URL (https://hooks.slack.com/services/…); "
            "copy it from the Slack app's Incoming Webhooks page."
        )
    return SlackChannel(
        webhook_url=chosen.url,
        channel_name=chosen.channel_name,
        policy=settings.policy,
        limits=ChannelLimits.from_config(cfg),
        sandbox_url=cfg.sandbox_url,
        request_timeout_s=cfg.request_timeout_s,
        env_var=chosen.variable,
    )
