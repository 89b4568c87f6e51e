"""Microsoft Teams: the staff alert as an Adaptive Card through a Workflows webhook, at most once.

The webhook is a Power Automate / Logic Apps flow ("Post to a channel when a webhook request is
received"); its URL carries the credential in its ``sig=`` query and is a secret, read from the
environment, never logged, never in an error, a receipt or the audit (the account is a
fingerprint of it). The retired Office 365 connector URLs (``….webhook.office.com``) are refused
with the way forward. ``POST`` the message JSON; the flow answers ``202 Accepted`` with the run's
id in ``x-ms-workflow-run-id``, the receipt's id.

A flow run cannot be looked up with the webhook's credential, so a card whose answer was lost
is never sent again: ``reconcile`` raises ``CannotReconcile(never_resend=True)`` and the
delivery stays in doubt, whatever the in-doubt policy says.

Answers (``{"error": {"code", "message"}}``) are classified: 400 (``TriggerInputSchemaMismatch``,
``InvalidRequestContent``) and 413 → ``Permanent`` (the card's shape or size); 401/403
(``DirectApiAuthorizationRequired``, ``DirectApiInvalidAuthorizationSignature``) and 404
(``WorkflowNotFound``) → ``Permanent`` (the URL was regenerated or the flow deleted or turned
off: copy the new URL); 429 → ``RateLimited`` with ``Retry-After``; 503 → ``Transient``; any
other 5xx, a timeout or a broken connection after the request left → ``Ambiguous``.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from crisiscast.channels.base import ChannelLimits, ChannelUnavailable, RenderContext, parse_retry_after_s
from crisiscast.channels.http import HttpResponse
from crisiscast.channels.teams import NAME, SPEC
from crisiscast.channels.teams.adapt import readable_headline, teams_payload
from crisiscast.channels.webhook_post import WebhookPostChannel, choose_webhook
from crisiscast.config import Secrets, Settings
from crisiscast.delivery import Delivery, Receipt
from crisiscast.errors import Ambiguous, DeliveryError, Permanent, RateLimited, Transient
from crisiscast.jsontypes import JsonMapping, JsonObject
from crisiscast.message import CrisisMessage

__all__ = ["TeamsChannel", "build", "classify_teams_response", "webhook_problem"]

WORKFLOW_HOSTS = (".logic.azure.com", ".api.powerplatform.com")
GONE = frozenset(
    {
        "DirectApiAuthorizationRequired",
        "DirectApiInvalidAuthorizationSignature",
        "WorkflowNotFound",
        "WorkflowNotEnabled",
    }
)


def webhook_problem(url: str, variable: str) -> str | None:
    """Why ``url`` is not a Workflows webhook URL (None: it is). Never repeats the URL."""
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if host.endswith(".webhook.office.com") or host == "outlook.office.com":
        return (
            f"{variable} is an Office 365 connector URL, which Microsoft retired; create a workflow "
            "('Post to a channel when a webhook request is received') and use its URL."
        )
    if parts.scheme != "https" or not host.endswith(WORKFLOW_HOSTS) or "sig=" not in parts.query:
        return (
            f"{variable} is not a Teams Workflows webhook URL (https://…logic.azure.com/… or "
            "…api.powerplatform.com/… with sig=); copy it from the workflow's trigger."
        )
    return None


class TeamsChannel(WebhookPostChannel):
    """Posts cards to one Teams channel's workflow; see the module docstring."""

    name = NAME
    provider = "the Teams workflow"
    never_resend_reason = (
        "A Teams workflow run cannot be looked up with the webhook; the card is not sent again."
    )

    def render(self, message: CrisisMessage, ctx: RenderContext) -> Sequence[Delivery]:
        """One card to the channel (an Update or all-clear is a new card)."""
        payload = teams_payload(message, self.policy)
        return [
            Delivery(
                dispatch_id=ctx.dispatch_id,
                channel=self.name,
                target=self.channel_name,
                part=1,
                body=readable_headline(payload),
                language=message.language,
                payload=payload,
            )
        ]

    def body(self, delivery: Delivery) -> JsonObject:
        return dict(delivery.payload)

    def classify(self, response: HttpResponse) -> Receipt | DeliveryError:
        return classify_teams_response(response, env_var=self._env_var)


def classify_teams_response(response: HttpResponse, *, env_var: str) -> Receipt | DeliveryError:
    """The receipt for an accepted card, or the classified error for any other answer."""
    status = response.status
    data = response.json()
    error: JsonMapping = (
        data["error"] if isinstance(data, dict) and isinstance(data.get("error"), dict) else {}
    )
    code = str(error.get("code") or f"http_{status}")
    if 200 <= status < 300:
        run_id = response.headers.get("x-ms-workflow-run-id") or "accepted"
        return Receipt(provider_id=run_id, status="accepted", detail={"http_status": status})
    if status == 429:
        return RateLimited(
            "The Teams workflow is throttling requests.",
            code=code,
            status=status,
            retry_after_s=parse_retry_after_s(response.headers.get("Retry-After")),
        )
    if status == 503:
        return Transient(
            "The Teams workflow service is unavailable and did not take the card.", code=code, status=status
        )
    if status >= 500:
        return Ambiguous(
            f"The Teams workflow failed (HTTP {status}) and may have posted the card; it is not sent again.",
            code=code,
            status=status,
        )
    if status in (401, 403, 404) or code in GONE:
        return Permanent(
            f"The Teams workflow refused the webhook ({code}): its URL was regenerated or the workflow was "
            f"deleted or turned off; copy the workflow's URL into {env_var}.",
            code=code,
            status=status,
        )
    return Permanent(f"The Teams workflow refused the card ({code}).", code=code, status=status)


def build(settings: Settings, secrets: Secrets, *, exercise: bool) -> TeamsChannel:
    """The Teams channel for the alert channel or (``exercise``) the drill channel.

    Raises ``ChannelUnavailable`` when Teams is disabled, the webhook URL is missing or is not a
    Workflows webhook, or no drill channel is configured.
    """
    cfg = SPEC.config(settings)
    chosen = choose_webhook(
        cfg, secrets, exercise=exercise, title="Microsoft Teams", section=NAME, url_name="teams_webhook_url"
    )
    problem = webhook_problem(chosen.url.get_secret_value(), chosen.variable)
    if problem:
        raise ChannelUnavailable(problem)
    return TeamsChannel(
        webhook_url=chosen.url,
        channel_name=chosen.channel_name,
        policy=settings.policy,
        limits=ChannelLimits.from_config(cfg),
        sandbox_url=cfg.sandbox_url,
        request_timeout_s=cfg.request_timeout_s,
        env_var=chosen.variable,
    )
