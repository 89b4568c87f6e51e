"""LinkedIn: the message as a post of the hospital's organization page (Posts API, Rest.li 2.0).

- Create: ``POST {api}/rest/posts`` with ``{author: "urn:li:organization:{id}", commentary,
  visibility: "PUBLIC", distribution: {feedDistribution: "MAIN_FEED"}, lifecycleState:
  "PUBLISHED", isReshareDisabledByAuthor: false}``, headers ``Linkedin-Version: YYYYMM`` and
  ``X-Restli-Protocol-Version: 2.0.0``, the token (``w_organization_social``, held by a page
  administrator) as ``Authorization: Bearer``. The post's URN comes back in ``x-restli-id``.
- Update and all-clear: a new post ending with the original's address. An edit of the original
  (Rest.li ``PARTIAL_UPDATE``) would reach nobody: LinkedIn does not show an edited post in
  anyone's feed again, so people who saw the alert would never learn it changed.

There is no idempotency key, so a create is never sent again blindly after an outcome that is
not known: a timeout, a broken connection or any 5xx (LinkedIn's gateway may answer 5xx after
the post was stored) is ``Ambiguous``, and ``reconcile`` reads the organization's recent posts
(``GET /rest/posts?author=…&q=author``) for the same commentary before anything is sent again.

LinkedIn's error JSON (``{"status", "serviceErrorCode", "code", "message"}``) is classified:
401 → ``Permanent`` (the token expired or was revoked: renew it); 403 → ``Permanent``
(permission or role); 422 "Content is a duplicate of urn:li:share:…" → ``Duplicate``; 426 →
``Permanent`` (the configured ``api_version`` is no longer served); 429 → ``RateLimited``
(daily limits, reset at 00:00 UTC); other 4xx → ``Permanent``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import structlog
from pydantic import SecretStr
from yarl import URL

from crisiscast.adapt.languages import text_for
from crisiscast.channels.base import (
    BaseChannel,
    ChannelLimits,
    ChannelUnavailable,
    RenderContext,
    lookup_failure,
    parse_retry_after_s,
)
from crisiscast.channels.http import HttpResponse, SessionHolder, request
from crisiscast.channels.linkedin import NAME, SPEC
from crisiscast.channels.linkedin.adapt import adapt_linkedin, escape_little_text
from crisiscast.config import PolicyConfig, Secrets, Settings
from crisiscast.delivery import Delivery, Receipt
from crisiscast.errors import Ambiguous, DeliveryError, Duplicate, Permanent, RateLimited, Transient
from crisiscast.jsontypes import JsonMapping, JsonObject
from crisiscast.message import CrisisMessage, MsgType

__all__ = ["LinkedInChannel", "build", "classify_linkedin_response", "organization_urn"]

log = structlog.get_logger(__name__)

PROVIDER = "the LinkedIn API"
RESTLI = "2.0.0"
RECONCILE_COUNT = 20
_DUPLICATE_OF = re.compile(r"duplicate of (urn:li:[A-Za-z]+:\d+)")


def organization_urn(organization_id: str) -> str:
    return f"urn:li:organization:{organization_id.strip()}"


class LinkedInChannel(BaseChannel):
    """Posts as one LinkedIn organization; see the module docstring for protocol and classification."""

    name = NAME
    public = True

    def __init__(
        self,
        *,
        api_base_url: str,
        api_version: str,
        organization_id: str,
        token: SecretStr,
        policy: PolicyConfig,
        limits: ChannelLimits,
        request_timeout_s: float = 10.0,
        env_var: str = "CRISISCAST_LINKEDIN_ACCESS_TOKEN",
    ) -> None:
        self.posts_url = f"{api_base_url.rstrip('/')}/rest/posts"
        self.api_version = api_version
        self.author = organization_urn(organization_id)
        self._token = token
        self._env_var = env_var
        self.policy = policy
        self.limits = limits
        self.account = f"linkedin:{organization_id.strip().lstrip('0') or '0'}"
        self._http = SessionHolder(timeout_s=request_timeout_s, pool_key="linkedin")

    def __repr__(self) -> str:
        return f"LinkedInChannel(account={self.account!r}, posts_url={self.posts_url!r})"

    # -- render (pure) --------------------------------------------------------------------
    def render(self, message: CrisisMessage, ctx: RenderContext) -> Sequence[Delivery]:
        """One post per rendering; a follow-up names the original post it refers to."""
        refers_to = ctx.reply_to.get(self.name) if message.msg_type is not MsgType.ALERT else None
        deliveries = []
        for adapted in adapt_linkedin(message, self.policy, refers_to=refers_to):
            payload: JsonObject = {"refers_to": refers_to} if refers_to else {}
            web = text_for(message, adapted.language.split("+")[0], self.name).web
            if web:
                payload["link"] = web
            deliveries.append(
                Delivery(
                    dispatch_id=ctx.dispatch_id,
                    channel=self.name,
                    target=adapted.language,
                    part=1,
                    body=adapted.parts[0],
                    language=adapted.language,
                    payload=payload,
                )
            )
        return deliveries

    # -- send (one attempt) ---------------------------------------------------------------
    async def send(self, delivery: Delivery, previous: Receipt | None) -> Receipt:
        """Create one organization post; the receipt's provider id is its URN (``x-restli-id``)."""
        body = {
            "author": self.author,
            "commentary": escape_little_text(delivery.body),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        response = await request(
            self._http.get(), "POST", self.posts_url, provider=PROVIDER, headers=self._headers(), json=body
        )
        outcome = classify_linkedin_response(response, env_var=self._env_var)
        if isinstance(outcome, DeliveryError):
            _log(delivery).info("linkedin_post_refused", status=response.status, code=outcome.code)
            raise outcome
        _log(delivery).debug("linkedin_post_created", provider_id=outcome.provider_id)
        return outcome

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._token.get_secret_value()}",
            "Linkedin-Version": self.api_version,
            "X-Restli-Protocol-Version": RESTLI,
        }

    # -- reconcile ------------------------------------------------------------------------
    async def reconcile(self, delivery: Delivery) -> Receipt | None:
        """Find the organization's recent post with the same commentary (None: it is not there)."""
        query = f"author={quote(self.author, safe='')}&q=author&count={RECONCILE_COUNT}&sortBy=LAST_MODIFIED"
        try:
            response = await request(
                self._http.get(),
                "GET",
                URL(f"{self.posts_url}?{query}", encoded=True),  # Rest.li 2.0: the URN stays %-encoded
                provider=PROVIDER,
                headers=self._headers(),
            )
        except DeliveryError as exc:
            raise lookup_failure(f"Could not ask LinkedIn about the post: {exc.reason}", exc) from None
        if response.status != 200:
            outcome = classify_linkedin_response(response, env_var=self._env_var)
            if not isinstance(outcome, DeliveryError):
                outcome = Permanent(f"HTTP {response.status}", status=response.status)
            elif isinstance(outcome, Ambiguous):  # a read cannot have posted anything
                outcome = Transient(outcome.reason, code=outcome.code, status=outcome.status)
            raise lookup_failure(
                f"LinkedIn would not list the organization's posts: {outcome.reason}", outcome
            )
        wanted = escape_little_text(delivery.body)
        data = response.json()
        for post in (data.get("elements") if isinstance(data, dict) else None) or []:
            if isinstance(post, dict) and post.get("commentary") == wanted and post.get("id"):
                return Receipt(provider_id=str(post["id"]), status="reconciled")
        return None

    async def aclose(self) -> None:
        await self._http.aclose()


def _log(delivery: Delivery) -> Any:
    return log.bind(dispatch_id=delivery.dispatch_id, channel=delivery.channel, delivery=delivery.key)


def _seconds_to_utc_midnight(now: datetime | None = None) -> float:
    now = now or datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()


def _said(data: JsonMapping) -> str:
    words = " ".join(str(data.get("message") or "no reason given").split())
    return words if len(words) <= 200 else words[:199] + "…"


def classify_linkedin_response(
    response: HttpResponse, *, env_var: str = "CRISISCAST_LINKEDIN_ACCESS_TOKEN"
) -> Receipt | DeliveryError:
    """The receipt for a created post, or the classified error for any other answer."""
    status = response.status
    body = response.json()
    data: JsonMapping = body if isinstance(body, dict) else {}
    if 200 <= status < 300:
        urn = response.headers.get("x-restli-id") or response.headers.get("x-linkedin-id")
        if urn:
            return Receipt(provider_id=urn, detail={"http_status": status})
        return Ambiguous(
            f"LinkedIn answered HTTP {status} without a post id; the post may exist.", status=status
        )
    code = str(data.get("code") or data.get("serviceErrorCode") or f"http_{status}")
    if status >= 500:
        return Ambiguous(
            f"LinkedIn failed (HTTP {status}) and may have published the post; crisiscast reads the "
            "organization's recent posts before trying again.",
            code=code,
            status=status,
        )
    if status == 429:
        retry_after_s = parse_retry_after_s(response.headers.get("Retry-After"))
        daily = "DAY" in str(data.get("message", "")).upper()
        if retry_after_s is None and daily:
            retry_after_s = _seconds_to_utc_midnight()
        return RateLimited(
            "LinkedIn's daily limit for the app or member is used up; it resets at 00:00 UTC."
            if daily
            else "LinkedIn is limiting requests.",
            code=code,
            status=status,
            retry_after_s=retry_after_s,
        )
    if status == 401:
        return Permanent(
            f"LinkedIn refused the access token ({code}): it expired (tokens last 60 days) or was "
            f"revoked; re-authorise the app and set {env_var} and the token's expiry date.",
            code=code,
            status=status,
        )
    if status == 403:
        return Permanent(
            f"LinkedIn refused the post ({code}): the token needs w_organization_social and its member "
            "must be an administrator of the page.",
            code=code,
            status=status,
        )
    if status == 426:
        return Permanent(
            f"LinkedIn no longer serves the configured API version ({code}); set [channels.linkedin] "
            "api_version to a current YYYYMM.",
            code=code,
            status=status,
        )
    duplicate = _DUPLICATE_OF.search(str(data.get("message", "")))
    if status == 422 and duplicate:
        return Duplicate(
            f"LinkedIn refused the post as a duplicate of {duplicate.group(1)}.", code=code, status=status
        )
    return Permanent(f"LinkedIn refused the post ({code}): {_said(data)}", code=code, status=status)


def build(settings: Settings, secrets: Secrets, *, exercise: bool) -> LinkedInChannel:
    """The LinkedIn channel for the organization or (``exercise``) the drill page.

    Raises ``ChannelUnavailable`` when LinkedIn is disabled, no organization is configured,
    or the token is missing (naming its variable).
    """
    cfg = SPEC.config(settings)
    if not cfg.enabled:
        raise ChannelUnavailable(
            "LinkedIn is disabled in the configuration ([channels.linkedin] enabled = false)."
        )
    if exercise:
        org, variable = cfg.exercise_organization_id, "CRISISCAST_LINKEDIN_EXERCISE_ACCESS_TOKEN"
        token = secrets.get("linkedin_exercise_access_token")
        if not org:
            raise ChannelUnavailable(
                "No LinkedIn drill page is configured; set [channels.linkedin] exercise_organization_id "
                "to include LinkedIn in exercises."
            )
    else:
        org, variable = cfg.organization_id, "CRISISCAST_LINKEDIN_ACCESS_TOKEN"
        token = secrets.get("linkedin_access_token")
        if not org.strip():
            raise ChannelUnavailable(
                "No LinkedIn organization is configured; set [channels.linkedin] organization_id."
            )
    if token is None or not token.get_secret_value().strip():
        raise ChannelUnavailable(
            f"The LinkedIn access token {variable} is not set; set it in the environment."
        )
    return LinkedInChannel(
        api_base_url=cfg.api_base_url,
        api_version=cfg.api_version,
        organization_id=org,
        token=token,
        policy=settings.policy,
        limits=ChannelLimits.from_config(cfg),
        request_timeout_s=cfg.request_timeout_s,
        env_var=variable,
    )
