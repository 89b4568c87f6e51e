"""Mastodon: a status or a thread through ``POST /api/v1/statuses``.

Each status carries ``status``, ``visibility``, ``language`` (the rendering's first language,
as ISO 639) and, in a thread, ``in_reply_to_id``. Each part of a thread is its own delivery,
chained with ``after`` like an X thread: a part is sent only once the previous one is
posted, and replies to it; the first part of an Update or all-clear replies to the
original's newest status in the same language. The access token (scope ``write:statuses``)
travels as ``Authorization: Bearer``.

Every create sends an ``Idempotency-Key`` derived from the delivery key: Mastodon answers a
repeat of the key within an hour with the status it created the first time, so a resend
after a lost answer cannot post twice. That is why a 5xx is ``Transient`` (resent with the
same key, well within the hour: a delivery's retry deadline is minutes), not ``Ambiguous``.

When the channel starts it reads the instance's ``configuration.statuses.max_characters``
(``GET /api/v2/instance``; 500 when the instance does not say, unknown when it cannot be
read: then the instance judges). The texts were cut for
``[channels.mastodon] max_characters``; a status longer than the instance allows is refused
before it is sent, with the setting to change.

Classification of the answers (one attempt, never a retry here):

- 200 → ``Receipt(provider_id=<status id>)``
- 429 → ``RateLimited``, ``retry_after_s`` until ``X-RateLimit-Reset`` (an ISO 8601 time)
- 5xx → ``Transient`` (see above)
- 401 → ``Permanent``: the token is invalid or revoked (said with the variable to set)
- 422 → ``Permanent`` code ``validation`` with Mastodon's words (too long, blank, bad language)
- any other 4xx (403 scope, 404 the replied-to status is gone) → ``Permanent``
- timeout or disconnect after the request was written → ``Ambiguous`` (``channels.http``)

``reconcile`` reads the account's recent statuses and looks for one with the same text (and
reply parent, when known).
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import structlog
from pydantic import SecretStr

from crisiscast.channels.base import (
    BaseChannel,
    ChannelLimits,
    ChannelUnavailable,
    RenderContext,
    lookup_failure,
)
from crisiscast.channels.http import HttpResponse, SessionHolder, request
from crisiscast.channels.mastodon import SPEC, account_identity
from crisiscast.channels.mastodon.adapt import adapt_mastodon
from crisiscast.channels.mastodon.text import DEFAULT_MAX_CHARACTERS, status_length
from crisiscast.config import PolicyConfig, Secrets, Settings
from crisiscast.delivery import Delivery, Receipt
from crisiscast.errors import (
    Ambiguous,
    CannotReconcile,
    DeliveryError,
    Permanent,
    RateLimited,
    Transient,
)
from crisiscast.message import CrisisMessage

__all__ = [
    "MastodonChannel",
    "build",
    "classify_mastodon_response",
    "idempotency_key",
    "mastodon_retry_after_s",
    "status_text",
]

log = structlog.get_logger(__name__)

PROVIDER = "the Mastodon instance"
RECONCILE_LIMIT = 40  # the most /api/v1/accounts/:id/statuses returns at once


def idempotency_key(delivery_key: str) -> str:
    """The ``Idempotency-Key`` of a delivery: the same for every attempt, unique per delivery."""
    return "crisiscast-" + hashlib.sha256(delivery_key.encode()).hexdigest()[:40]


class MastodonChannel(BaseChannel):
    """Posts to one Mastodon account; see the module docstring."""

    name = "mastodon"
    public = True

    def __init__(
        self,
        *,
        instance_url: str,
        account: str,
        token: SecretStr,
        policy: PolicyConfig,
        limits: ChannelLimits,
        visibility: str = "public",
        max_characters: int = DEFAULT_MAX_CHARACTERS,
        max_thread_parts: int = 4,
        request_timeout_s: float = 10.0,
        env_var: str = "CRISISCAST_MASTODON_ACCESS_TOKEN",
    ) -> None:
        self.instance_url = instance_url.rstrip("/")
        self.account = f"mastodon:{account}"
        self._token = token
        self._env_var = env_var
        self.policy = policy
        self.limits = limits
        self.visibility = visibility
        self.max_characters = max_characters
        self.max_thread_parts = max_thread_parts
        self.instance_max_characters: int | None = None  # read by start()
        self._http = SessionHolder(timeout_s=request_timeout_s, pool_key="mastodon")
        self._account_id: str | None = None

    def __repr__(self) -> str:
        return f"MastodonChannel(account={self.account!r}, instance_url={self.instance_url!r})"

    def token_fingerprint(self) -> str:
        """A short, non-reversible id of the token (two channels on one token are one account)."""
        return hashlib.sha256(self._token.get_secret_value().encode()).hexdigest()[:12]

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Read the instance's character limit (500 when the instance does not say).

        When the instance cannot be asked now, the limit stays unknown and the instance
        itself judges each status (its 422 is permanent): a network hiccup at start must
        not refuse statuses the instance would take.
        """
        try:
            response = await request(
                self._http.get(), "GET", f"{self.instance_url}/api/v2/instance", provider=PROVIDER
            )
        except DeliveryError as exc:
            log.info("mastodon_instance_unread", reason=exc.reason)
            return
        if response.status != 200:
            log.info("mastodon_instance_unread", status=response.status)
            return
        data = response.json()
        statuses = ((data or {}).get("configuration") or {}).get("statuses") or {}
        value = statuses.get("max_characters") if isinstance(statuses, dict) else None
        self.instance_max_characters = (
            value if isinstance(value, int) and value > 0 else DEFAULT_MAX_CHARACTERS
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- render (pure) --------------------------------------------------------------------
    def render(self, message: CrisisMessage, ctx: RenderContext) -> Sequence[Delivery]:
        """One delivery per status; each part of a thread waits for the one before."""
        deliveries: list[Delivery] = []
        renderings = adapt_mastodon(
            message, self.policy, max_characters=self.max_characters, max_parts=self.max_thread_parts
        )
        for adapted in renderings:
            reply_to = ctx.reply_to.get(f"{self.name}:{adapted.language}") or ctx.reply_to.get(self.name)
            previous_key: str | None = None
            counts = list(adapted.metrics.get("characters", ()))
            for index, text in enumerate(adapted.parts, start=1):
                payload: dict[str, Any] = {
                    "thread_parts": len(adapted.parts),
                    "characters": counts[index - 1],
                }
                if index == 1 and reply_to:
                    payload["in_reply_to_id"] = reply_to
                delivery = Delivery(
                    dispatch_id=ctx.dispatch_id,
                    channel=self.name,
                    target=adapted.language,
                    part=index,
                    body=text,
                    language=adapted.language,
                    payload=payload,
                    after=previous_key,
                )
                deliveries.append(delivery)
                previous_key = delivery.key
        return deliveries

    # -- send (one attempt) ---------------------------------------------------------------
    async def send(self, delivery: Delivery, previous: Receipt | None) -> Receipt:
        """Post one status with the delivery's ``Idempotency-Key``."""
        limit = self.instance_max_characters
        length = status_length(delivery.body)
        if limit is not None and length > limit:
            raise Permanent(
                f"The Mastodon instance allows {limit} characters per status but this one has {length}; "
                f"set [channels.mastodon] max_characters = {limit}.",
                code="too_long",
            )
        body: dict[str, Any] = {
            "status": delivery.body,
            "visibility": self.visibility,
            "language": _iso639(delivery.language),
        }
        reply_id = self._reply_id(delivery, previous)
        if reply_id:
            body["in_reply_to_id"] = reply_id
        headers = {**self._auth(), "Idempotency-Key": idempotency_key(delivery.key)}
        response = await request(
            self._http.get(),
            "POST",
            f"{self.instance_url}/api/v1/statuses",
            provider=PROVIDER,
            headers=headers,
            json=body,
        )
        outcome = classify_mastodon_response(response, env_var=self._env_var, now=datetime.now().astimezone())
        if isinstance(outcome, DeliveryError):
            _log(delivery).info("mastodon_status_refused", status=response.status, code=outcome.code)
            raise outcome
        _log(delivery).debug("mastodon_status_created", provider_id=outcome.provider_id)
        return outcome

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token.get_secret_value()}"}

    def _reply_id(self, delivery: Delivery, previous: Receipt | None) -> str | None:
        if delivery.after is not None:
            if previous is None or not previous.provider_id:
                raise Permanent(
                    "The previous status of this Mastodon thread has no id, so this one cannot reply to it.",
                    code="chain_broken",
                )
            return previous.provider_id
        reply_to = delivery.payload.get("in_reply_to_id")
        return str(reply_to) if reply_to else None

    # -- reconcile ------------------------------------------------------------------------
    async def reconcile(self, delivery: Delivery) -> Receipt | None:
        """Find a recent status of this account with the same text (and reply parent when known)."""
        try:
            account_id = await self._own_account_id()
            response = await self._get(
                f"/api/v1/accounts/{account_id}/statuses", {"limit": str(RECONCILE_LIMIT)}
            )
        except DeliveryError as exc:
            raise lookup_failure(f"Could not ask Mastodon about the status: {exc.reason}", exc) from None
        statuses = response.json()
        wanted = " ".join(delivery.body.split())
        parent = delivery.payload.get("in_reply_to_id") if delivery.after is None else None
        for status in statuses if isinstance(statuses, list) else ():
            if " ".join(status_text(str(status.get("content", ""))).split()) != wanted:
                continue
            if parent and status.get("in_reply_to_id") not in (None, str(parent)):
                continue
            return Receipt(
                provider_id=str(status["id"]), status="reconciled", detail={"url": status.get("url")}
            )
        return None

    async def _own_account_id(self) -> str:
        if self._account_id is None:
            response = await self._get("/api/v1/accounts/verify_credentials")
            account_id = (response.json() or {}).get("id")
            if not account_id:
                raise CannotReconcile("Mastodon did not say which account the token belongs to.")
            self._account_id = str(account_id)
        return self._account_id

    async def _get(self, path: str, params: dict[str, str] | None = None) -> HttpResponse:
        response = await request(
            self._http.get(),
            "GET",
            self.instance_url + path,
            provider=PROVIDER,
            headers=self._auth(),
            params=params,
        )
        if response.status != 200:
            outcome = classify_mastodon_response(
                response, env_var=self._env_var, now=datetime.now().astimezone()
            )
            if isinstance(outcome, Ambiguous):  # a read cannot have posted anything
                outcome = Transient(outcome.reason, code=outcome.code, status=outcome.status)
            if isinstance(outcome, DeliveryError):
                raise outcome
            raise Permanent(f"Mastodon answered HTTP {response.status}.", status=response.status)
        return response


_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_PARAGRAPH = re.compile(r"</p>\s*<p[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def status_text(content: str) -> str:
    """The plain text of a status's HTML ``content`` (paragraphs, line breaks, links' full text)."""
    text = _PARAGRAPH.sub("\n\n", content)
    text = _BREAK.sub("\n", text)
    return html.unescape(_TAG.sub("", text))


def _iso639(language: str) -> str:
    """``"es-MX"`` → ``"es"``; a bilingual ``"en+es"`` is posted as its first language."""
    return language.split("+", maxsplit=1)[0].split("-", maxsplit=1)[0].lower()


def _log(delivery: Delivery) -> Any:
    return log.bind(dispatch_id=delivery.dispatch_id, channel=delivery.channel, delivery=delivery.key)


def mastodon_retry_after_s(headers: Mapping[str, str], *, now: datetime) -> float | None:
    """Seconds until the rate window resets, from ``X-RateLimit-Reset`` (None: unknown)."""
    raw = (headers.get("X-RateLimit-Reset") or "").strip()
    if not raw:
        return None
    try:
        reset = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if reset.tzinfo is None:
        return None
    return max(0.0, (reset - now).total_seconds())


def classify_mastodon_response(
    response: HttpResponse, *, env_var: str = "CRISISCAST_MASTODON_ACCESS_TOKEN", now: datetime
) -> Receipt | DeliveryError:
    """The receipt for a created status, or the classified error for any other answer."""
    status = response.status
    body = response.json()
    data: Mapping[str, Any] = body if isinstance(body, dict) else {}
    if 200 <= status < 300:
        if data.get("id"):
            return Receipt(
                provider_id=str(data["id"]), detail={"http_status": status, "url": data.get("url")}
            )
        return Ambiguous(
            f"Mastodon answered HTTP {status} without a status id; the status may exist.", status=status
        )
    said = _said(data)
    if status == 429:
        return RateLimited(
            "The Mastodon instance rate-limited the account.",
            code="rate_limited",
            status=status,
            retry_after_s=mastodon_retry_after_s(response.headers, now=now),
        )
    if status >= 500:
        return Transient(
            f"The Mastodon instance had a server error (HTTP {status}).", code=f"http_{status}", status=status
        )
    if status == 401:
        return Permanent(
            f"Mastodon refused the access token ({said}); create a token with write:statuses "
            f"and set {env_var}.",
            code="http_401",
            status=status,
        )
    if status == 422:
        return Permanent(f"Mastodon refused the status: {said}", code="validation", status=status)
    return Permanent(
        f"Mastodon refused the status (HTTP {status}): {said}", code=f"http_{status}", status=status
    )


def _said(data: Mapping[str, Any]) -> str:
    words = " ".join(str(data.get("error") or "no reason given").split())
    return words if len(words) <= 200 else words[:199] + "…"


def build(settings: Settings, secrets: Secrets, *, exercise: bool) -> MastodonChannel:
    """The Mastodon channel for the hospital's account or (``exercise``) the drill account.

    Raises ``ChannelUnavailable`` when Mastodon is disabled, the account is not configured or
    its token is missing (naming the variable).
    """
    cfg = SPEC.config(settings)
    if not cfg.enabled:
        raise ChannelUnavailable(
            "Mastodon is disabled in the configuration ([channels.mastodon] enabled = false)."
        )
    if exercise:
        account, instance_url = cfg.exercise_account, cfg.exercise_instance_url or cfg.instance_url
        secret, variable = "mastodon_exercise_access_token", "CRISISCAST_MASTODON_EXERCISE_ACCESS_TOKEN"
        if not account:
            raise ChannelUnavailable(
                "No Mastodon exercise account is configured; set [channels.mastodon] exercise_account "
                "to include Mastodon in exercises."
            )
    else:
        account, instance_url = cfg.account, cfg.instance_url
        secret, variable = "mastodon_access_token", "CRISISCAST_MASTODON_ACCESS_TOKEN"
        if not account:
            raise ChannelUnavailable("No Mastodon account is configured; set [channels.mastodon] account.")
    token = secrets.get(secret)
    if token is None or not token.get_secret_value().strip():
        raise ChannelUnavailable(
            f"The Mastodon access token {variable} is not set; set it in the environment."
        )
    return MastodonChannel(
        instance_url=instance_url,
        account=account_identity(account, instance_url) or account,
        token=token,
        policy=settings.policy,
        limits=ChannelLimits.from_config(cfg),
        visibility=cfg.visibility,
        max_characters=cfg.max_characters,
        max_thread_parts=cfg.max_thread_parts,
        request_timeout_s=cfg.request_timeout_s,
        env_var=variable,
    )
