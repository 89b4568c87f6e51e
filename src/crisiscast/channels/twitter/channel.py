"""X (Twitter): a post or a thread through the v2 API, ``POST /2/tweets``.

Each part of a thread is its own delivery, chained with ``after``: a part is sent only once
the previous part is posted, and replies to it (``reply.in_reply_to_tweet_id``). The first
part of an Update replies to the original's last post in the same language
(``RenderContext.reply_to["twitter:<language>"]``, else ``reply_to["twitter"]``), so updates
continue the original threads. A thread that stopped half-way continues from the last
posted part, because each part's receipt is recorded.

Requests are signed with OAuth 1.0a user context (``oauthlib``); the JSON body is not part of
the signature. Classification of X's answers (one attempt, never a retry here):

- 201 → ``Receipt(provider_id=<post id>)``
- 429 → ``RateLimited``, ``retry_after_s`` until ``x-rate-limit-reset`` (epoch seconds), or the
  later 24-hour reset when that window is exhausted (X sends no ``Retry-After``)
- 5xx → ``Transient``
- 403 duplicate content → ``Permanent`` code ``duplicate`` (an earlier attempt may have posted
  it: the dispatcher records it as such)
- any other 4xx → ``Permanent`` with X's problem ``detail``
- timeout or disconnect after the request was written → ``Ambiguous`` (see ``channels.http``)

``reconcile`` looks for a post with the same text among the account's recent posts.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from multidict import CIMultiDictProxy
from oauthlib import oauth1
from pydantic import SecretStr

from crisiscast.channels.base import (
    BaseChannel,
    ChannelLimits,
    ChannelUnavailable,
    RenderContext,
    lookup_failure,
)
from crisiscast.channels.http import HttpResponse, SessionHolder, request
from crisiscast.channels.twitter import SPEC
from crisiscast.channels.twitter.adapt import adapt_x
from crisiscast.channels.twitter.text import tweet_urls
from crisiscast.config import PolicyConfig, Secrets, Settings
from crisiscast.delivery import Delivery, Receipt
from crisiscast.errors import (
    Ambiguous,
    CannotReconcile,
    DeliveryError,
    Duplicate,
    Permanent,
    RateLimited,
    Transient,
)
from crisiscast.jsontypes import JsonMapping, JsonObject, json_list, json_object
from crisiscast.message import CrisisMessage

__all__ = ["TwitterChannel", "XCredentials", "build", "classify_x_response", "warm_up", "x_retry_after_s"]

log = structlog.get_logger(__name__)

# oauthlib logs the signature base string (consumer key and access token included) at DEBUG.
logging.getLogger("oauthlib").setLevel(logging.WARNING)

PROVIDER = "the X API"
RECONCILE_MAX_RESULTS = 50
_SECRET_FIELDS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")


@dataclass(frozen=True, slots=True)
class XCredentials:
    """OAuth 1.0a user-context credentials (the app's consumer pair and the account's token)."""

    consumer_key: SecretStr
    consumer_secret: SecretStr
    access_token: SecretStr
    access_token_secret: SecretStr

    def fingerprint(self) -> str:
        """A short, non-reversible id of the account (rate limits are per user token)."""
        raw = f"{self.consumer_key.get_secret_value()}:{self.access_token.get_secret_value()}"
        return hashlib.sha256(raw.encode()).hexdigest()[:12]

    def sign(self, url: str, method: Literal["GET", "POST"], *, json_body: bool) -> dict[str, str]:
        """Headers with a fresh OAuth 1.0a ``Authorization`` for ``method url`` (query included)."""
        client = oauth1.Client(
            self.consumer_key.get_secret_value(),
            client_secret=self.consumer_secret.get_secret_value(),
            resource_owner_key=self.access_token.get_secret_value(),
            resource_owner_secret=self.access_token_secret.get_secret_value(),
        )
        headers = {"Content-Type": "application/json"} if json_body else {}
        _, signed, _ = client.sign(url, method, headers=headers)
        return dict(signed)


class TwitterChannel(BaseChannel):
    """Posts to one X account; see the module docstring for the protocol and classification."""

    name = "twitter"
    public = True

    def __init__(
        self,
        *,
        api_base_url: str,
        credentials: XCredentials,
        policy: PolicyConfig,
        limits: ChannelLimits,
        max_thread_parts: int = 4,
        request_timeout_s: float = 10.0,
    ) -> None:
        self.api_base_url = api_base_url.rstrip("/")
        self._credentials = credentials
        self.policy = policy
        self.limits = limits
        self.max_thread_parts = max_thread_parts
        self.account = f"twitter:{credentials.fingerprint()}"
        self._http = SessionHolder(timeout_s=request_timeout_s, pool_key="twitter")
        self._user_id: str | None = None

    def __repr__(self) -> str:
        return f"TwitterChannel(account={self.account!r}, api_base_url={self.api_base_url!r})"

    # -- render (pure) --------------------------------------------------------------------
    def render(self, message: CrisisMessage, ctx: RenderContext) -> Sequence[Delivery]:
        """One delivery per thread part; each part after the first waits for the one before.

        Several renderings (one per language) are separate threads, with the language as the
        target. Raises ``PolicyError`` when the text does not fit ``max_thread_parts`` posts.
        """
        renderings = adapt_x(
            message, self.policy, max_parts=self.max_thread_parts
        )
        deliveries: list[Delivery] = []
        for adapted in renderings:
            # an Update continues each language's own thread, else the main one
            reply_to = ctx.reply_to.get(f"{self.name}:{adapted.language}") or ctx.reply_to.get(self.name)
            previous_key: str | None = None
            lengths = list(adapted.metrics.get("weighted_lengths", ()))
            for index, text in enumerate(adapted.parts, start=1):
                payload: JsonObject = {"thread_parts": len(adapted.parts)}
                if index <= len(lengths):
                    payload["weighted_length"] = lengths[index - 1]
                if index == 1 and reply_to:
                    payload["in_reply_to_tweet_id"] = reply_to
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
        """Post one part; a chained part replies to ``previous.provider_id``."""
        body: JsonObject = {"text": delivery.body}
        reply_id = self._reply_id(delivery, previous)
        if reply_id:
            body["reply"] = {"in_reply_to_tweet_id": reply_id}
        url = f"{self.api_base_url}/2/tweets"
        headers = self._credentials.sign(url, "POST", json_body=True)
        response = await request(
            self._http.get(), "POST", url, provider=PROVIDER, headers=headers, data=json.dumps(body)
        )
        outcome = classify_x_response(response, now_s=time.time())
        if isinstance(outcome, DeliveryError):
            _log(delivery).info("x_post_refused", status=response.status, code=outcome.code)
            raise outcome
        _log(delivery).debug("x_post_created", provider_id=outcome.provider_id)
        return outcome

    def _reply_id(self, delivery: Delivery, previous: Receipt | None) -> str | None:
        if delivery.after is not None:
            if previous is None or not previous.provider_id:
                raise Permanent(
                    "The previous part of this X thread has no post id, so this part cannot reply to it.",
                    code="chain_broken",
                )
            return previous.provider_id
        reply_to = delivery.payload.get("in_reply_to_tweet_id")
        return str(reply_to) if reply_to else None

    # -- reconcile ------------------------------------------------------------------------
    async def reconcile(self, delivery: Delivery) -> Receipt | None:
        """Find a recent post of this account with the same text (and reply parent, when known).

        URLs are compared as placeholders (X rewrites them to t.co links) and X's HTML
        escaping is undone. Raises ``CannotReconcile`` when X cannot be asked.
        """
        try:
            user_id = await self._own_user_id()
            url = (
                f"{self.api_base_url}/2/users/{user_id}/tweets"
                f"?max_results={RECONCILE_MAX_RESULTS}&tweet.fields=referenced_tweets"
            )
            response = await self._signed_get(url)
        except DeliveryError as exc:
            raise lookup_failure(f"Could not ask X about the post: {exc.reason}", exc) from None
        posts = (response.json() or {}).get("data") or []
        wanted = _comparable(delivery.body)
        parent = delivery.payload.get("in_reply_to_tweet_id") if delivery.after is None else None
        for post in posts:
            if _comparable(str(post.get("text", ""))) != wanted:
                continue
            if parent and _replied_to(post) not in (None, str(parent)):
                continue
            return Receipt(provider_id=str(post["id"]), status="reconciled")
        return None

    async def _own_user_id(self) -> str:
        if self._user_id is None:
            response = await self._signed_get(f"{self.api_base_url}/2/users/me")
            user_id = ((response.json() or {}).get("data") or {}).get("id")
            if not user_id:
                raise CannotReconcile("X did not say which account the credentials belong to.")
            self._user_id = str(user_id)
        return self._user_id

    async def _signed_get(self, url: str) -> HttpResponse:
        headers = self._credentials.sign(url, "GET", json_body=False)
        response = await request(self._http.get(), "GET", url, provider=PROVIDER, headers=headers)
        if response.status == 429:
            raise RateLimited(
                "X rate-limited the look-up of recent posts.",
                code="rate_limited",
                status=429,
                retry_after_s=x_retry_after_s(response.headers, now_s=time.time()),
            )
        if response.status >= 500:
            raise Transient(f"X answered HTTP {response.status} when asked for recent posts.")
        if response.status != 200:
            raise CannotReconcile(f"X answered HTTP {response.status} when asked for recent posts.")
        return response

    async def aclose(self) -> None:
        await self._http.aclose()


def _log(delivery: Delivery) -> Any:
    return log.bind(dispatch_id=delivery.dispatch_id, channel=delivery.channel, delivery=delivery.key)


def _comparable(text: str) -> str:
    text = html.unescape(text)
    for start, end in reversed(tweet_urls(text)):
        text = text[:start] + "<url>" + text[end:]
    return " ".join(text.split())


def _replied_to(post: JsonMapping) -> str | None:
    for item in json_list(post.get("referenced_tweets")):
        ref = json_object(item)
        if ref.get("type") == "replied_to":
            return str(ref.get("id"))
    return None


X_MIN_RETRY_AFTER_S = 1.0
"""A 429 whose reset has already passed (clock skew, a slow answer) still waits this long."""


def x_retry_after_s(headers: Mapping[str, str], *, now_s: float) -> float | None:
    """Seconds until X lets the account post again, from its rate headers (None: unknown).

    The 15-minute window's ``x-rate-limit-reset`` always counts; a 24-hour window counts when
    its ``-remaining`` is 0. The latest reset wins. The headers count whole seconds and our clock
    is not X's, so a refusal never means "now": the wait is at least ``X_MIN_RETRY_AFTER_S``.
    """
    resets: list[float] = []
    window = _epoch(headers.get("x-rate-limit-reset"))
    if window is not None:
        resets.append(window)
    for prefix in ("x-user-limit-24hour", "x-app-limit-24hour"):
        if (headers.get(f"{prefix}-remaining") or "").strip() == "0":
            daily = _epoch(headers.get(f"{prefix}-reset"))
            if daily is not None:
                resets.append(daily)
    return max(X_MIN_RETRY_AFTER_S, max(resets) - now_s) if resets else None


def _epoch(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def classify_x_response(response: HttpResponse, *, now_s: float) -> Receipt | DeliveryError:
    """The receipt for a created post, or the classified error for any other answer."""
    status = response.status
    body = response.json()
    problem: JsonMapping = body if isinstance(body, dict) else {}
    if 200 <= status < 300:
        data = problem.get("data")
        post_id = data.get("id") if isinstance(data, dict) else None
        if post_id:
            return Receipt(provider_id=str(post_id), detail={"http_status": status})
        return Ambiguous(f"X answered HTTP {status} without a post id; the post may exist.", status=status)
    detail = _problem_text(problem)
    headers: CIMultiDictProxy[str] = response.headers
    if status == 429:
        usage_capped = str(problem.get("type", "")).endswith("usage-capped")
        return RateLimited(
            "X's usage cap for this account is reached." if usage_capped else "X rate-limited the account.",
            code="usage_capped" if usage_capped else "rate_limited",
            status=status,
            retry_after_s=x_retry_after_s(headers, now_s=now_s),
        )
    if status >= 500:
        return Transient(f"X had a server error (HTTP {status}).", code=f"http_{status}", status=status)
    if status == 403 and "duplicate" in detail.lower():
        return Duplicate(
            "X refused the post as a duplicate of a recent post with the same text.",
            code="duplicate",
            status=status,
        )
    if status == 401:
        return Permanent(
            "X rejected the credentials (HTTP 401); check the CRISISCAST_TWITTER_* secrets for this account.",
            code="http_401",
            status=status,
        )
    return Permanent(f"X refused the post (HTTP {status}): {detail}", code=f"http_{status}", status=status)


def _problem_text(problem: JsonMapping) -> str:
    """X's own words: a problem's ``detail``/``title``, or the first v1-style error message."""
    text = problem.get("detail") or problem.get("title")
    if not text:
        errors = problem.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            text = errors[0].get("message") or errors[0].get("detail")
    words = " ".join(str(text or "no reason given").split())
    return words if len(words) <= 200 else words[:199] + "…"


def warm_up() -> None:
    """Load X's text engine now (``serve`` calls this at start-up; it compiles large patterns)."""
    tweet_urls("")


def build(settings: Settings, secrets: Secrets, *, exercise: bool) -> TwitterChannel:
    """The X channel for production or (``exercise``) the exercise account.

    Raises ``ChannelUnavailable`` when X is disabled or a credential is missing (naming its
    variable). The exercise account is identified by its own ``CRISISCAST_TWITTER_EXERCISE_*``
    credentials (on X both accounts use the same API host, so ``exercise_api_base_url`` only
    overrides the host where a drill account lives elsewhere, as in the sandbox); the channel
    registry refuses exercise credentials that are the production account's.
    """
    cfg = SPEC.config(settings)
    if not cfg.enabled:
        raise ChannelUnavailable("X is disabled in the configuration ([channels.twitter] enabled = false).")
    base_url = cfg.api_base_url
    prefix = "twitter_"
    if exercise:
        base_url = cfg.exercise_api_base_url or cfg.api_base_url
        prefix = "twitter_exercise_"
        if all(secrets.get(prefix + field) is None for field in _SECRET_FIELDS):
            raise ChannelUnavailable(
                "No X exercise account is configured; set the CRISISCAST_TWITTER_EXERCISE_* secrets "
                "to include X in exercises."
            )
    values: dict[str, SecretStr] = {}
    for field in _SECRET_FIELDS:
        value = secrets.get(prefix + field)
        if value is None or not value.get_secret_value().strip():
            variable = f"CRISISCAST_{(prefix + field).upper()}"
            raise ChannelUnavailable(f"The X secret {variable} is not set; set it in the environment.")
        values[field] = value
    limits = ChannelLimits.from_config(cfg)
    return TwitterChannel(
        api_base_url=base_url,
        credentials=XCredentials(**values),
        policy=settings.policy,
        limits=limits,
        max_thread_parts=cfg.max_thread_parts,
        request_timeout_s=cfg.request_timeout_s,
    )
