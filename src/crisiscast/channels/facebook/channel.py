"""Facebook Page: one post per rendering through the Graph API, ``POST /{page_id}/feed``.

The request is a form with ``message`` (and ``link`` when the message has a web link); the
Page access token travels in the ``Authorization: Bearer`` header, never in a URL that a
proxy or access log might keep. An Update or all-clear (Cancel) is a new post that refers to
the original (the adaptation layer words it; the original's post id is kept in the payload as
``refers_to``) and links to it so readers can find it: the original's permalink is the post's
``link`` when the message has no web link of its own, else a last line ``Earlier post: …``.

Graph's error JSON (``{"error": {"code", "error_subcode", "message", "is_transient", …}}``)
is classified by code, whatever the HTTP status (one attempt, never a retry here):

- ``is_transient: true``, codes 1, 2, 341, or an HTTP 5xx without an error body → ``Transient``
- throttling 4, 17, 32, 613, 80001 → ``RateLimited``; ``retry_after_s`` from
  ``X-Business-Use-Case-Usage`` ``estimated_time_to_regain_access`` (minutes) when present
- 190 → ``Permanent``: the Page token expired or is invalid (said plainly, with the fix)
- 10 and 200–299 (permissions), 100 (parameter), 368 (policy block), 506 (duplicate post),
  and any other code → ``Permanent`` with the code
- timeout or disconnect after the request was written → ``Ambiguous`` (``channels.http``)

``reconcile`` reads the Page feed and looks for a post with the same text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from pydantic import SecretStr

from crisiscast.adapt.languages import text_for
from crisiscast.channels.base import (
    BaseChannel,
    ChannelLimits,
    ChannelUnavailable,
    RenderContext,
    lookup_failure,
)
from crisiscast.channels.facebook import SPEC
from crisiscast.channels.facebook.adapt import adapt_facebook
from crisiscast.channels.http import HttpResponse, SessionHolder, request
from crisiscast.config import PolicyConfig, Secrets, Settings
from crisiscast.delivery import Delivery, Receipt
from crisiscast.errors import (
    Ambiguous,
    DeliveryError,
    Duplicate,
    Permanent,
    RateLimited,
    Transient,
)
from crisiscast.jsontypes import JsonMapping, JsonObject
from crisiscast.message import CrisisMessage, MsgType

__all__ = [
    "REAUTHORISE_REASON",
    "FacebookChannel",
    "build",
    "classify_graph_response",
    "graph_retry_after_s",
    "post_permalink",
]

log = structlog.get_logger(__name__)

PROVIDER = "the Facebook Graph API"
TRANSIENT_CODES = frozenset({1, 2, 341})
THROTTLE_CODES = frozenset({4, 17, 32, 613, 80001})
REAUTHORISE_REASON = (
    "The Facebook Page token has expired or is invalid; generate a new Page access token "
    "and set CRISISCAST_FACEBOOK_PAGE_TOKEN."
)
RECONCILE_LIMIT = 25
EARLIER_POST = {"en": "Earlier post", "es": "Publicación anterior"}  # by the rendering's first language


class FacebookChannel(BaseChannel):
    """Posts to one Facebook Page; see the module docstring for protocol and classification."""

    name = "facebook"
    public = True

    def __init__(
        self,
        *,
        graph_base_url: str,
        graph_version: str,
        page_id: str,
        page_token: SecretStr,
        policy: PolicyConfig,
        limits: ChannelLimits,
        request_timeout_s: float = 10.0,
        env_var: str = "CRISISCAST_FACEBOOK_PAGE_TOKEN",
    ) -> None:
        self.feed_url = f"{graph_base_url.rstrip('/')}/{graph_version.strip('/')}/{page_id}/feed"
        self.page_id = page_id
        self._token = page_token
        self._env_var = env_var
        self.policy = policy
        self.limits = limits
        self.account = f"facebook:{page_id}"
        self._http = SessionHolder(timeout_s=request_timeout_s, pool_key="facebook")

    def __repr__(self) -> str:
        return f"FacebookChannel(account={self.account!r}, feed_url={self.feed_url!r})"

    # -- render (pure) --------------------------------------------------------------------
    def render(self, message: CrisisMessage, ctx: RenderContext) -> Sequence[Delivery]:
        """One post per rendering (one bilingual post, or one per language as the target)."""
        refers_to = ctx.reply_to.get(self.name)
        earlier = post_permalink(refers_to) if refers_to and message.msg_type is not MsgType.ALERT else None
        deliveries = []
        for adapted in adapt_facebook(message, self.policy):
            payload: JsonObject = {}
            language = adapted.language.split("+")[0]
            body = adapted.parts[0]
            web = text_for(message, language, self.name).web
            if web:
                payload["link"] = web
            if refers_to:
                payload["refers_to"] = refers_to
            if earlier and web:
                label = EARLIER_POST.get(language.split("-")[0], EARLIER_POST["en"])
                body = f"{body}\n\n{label}: {earlier}"
            elif earlier:
                payload["link"] = earlier
            deliveries.append(
                Delivery(
                    dispatch_id=ctx.dispatch_id,
                    channel=self.name,
                    target=adapted.language,
                    part=1,
                    body=body,
                    language=adapted.language,
                    payload=payload,
                )
            )
        return deliveries

    # -- send (one attempt) ---------------------------------------------------------------
    async def send(self, delivery: Delivery, previous: Receipt | None) -> Receipt:
        """Create one Page post; the receipt's provider id is Graph's ``{page}_{post}`` id."""
        form = {"message": delivery.body}
        link = delivery.payload.get("link")
        if link:
            form["link"] = str(link)
        response = await request(
            self._http.get(), "POST", self.feed_url, provider=PROVIDER, headers=self._auth(), data=form
        )
        outcome = classify_graph_response(response, env_var=self._env_var)
        if isinstance(outcome, DeliveryError):
            _log(delivery).info("facebook_post_refused", status=response.status, code=outcome.code)
            raise outcome
        _log(delivery).debug("facebook_post_created", provider_id=outcome.provider_id)
        return outcome

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token.get_secret_value()}"}

    # -- reconcile ------------------------------------------------------------------------
    async def reconcile(self, delivery: Delivery) -> Receipt | None:
        """Find a recent Page post with the same message text (None: it is not there).

        Raises ``CannotReconcile`` when the Graph API cannot be asked or refuses.
        """
        params = {"fields": "id,message,created_time", "limit": str(RECONCILE_LIMIT)}
        try:
            response = await request(
                self._http.get(), "GET", self.feed_url, provider=PROVIDER, headers=self._auth(), params=params
            )
        except DeliveryError as exc:
            raise lookup_failure(f"Could not ask Facebook about the post: {exc.reason}", exc) from None
        if response.status != 200:
            outcome = classify_graph_response(response, env_var=self._env_var)
            if not isinstance(outcome, DeliveryError):
                outcome = Permanent(f"HTTP {response.status}", status=response.status)
            elif isinstance(outcome, Ambiguous):  # a read cannot have posted anything
                outcome = Transient(outcome.reason, code=outcome.code, status=outcome.status)
            reason = f"Facebook would not list the Page's posts: {outcome.reason}"
            raise lookup_failure(reason, outcome)
        wanted = " ".join(delivery.body.split())
        for post in (response.json() or {}).get("data") or []:
            if " ".join(str(post.get("message", "")).split()) == wanted:
                return Receipt(provider_id=str(post["id"]), status="reconciled")
        return None

    async def aclose(self) -> None:
        await self._http.aclose()


def post_permalink(post_id: str) -> str:
    """The public address of a Page post from Graph's ``{page_id}_{post_id}`` id."""
    page_id, sep, post = post_id.partition("_")
    if not sep or not page_id or not post:
        return f"https://www.facebook.com/{post_id}"
    return f"https://www.facebook.com/{page_id}/posts/{post}"


def _log(delivery: Delivery) -> Any:
    return log.bind(dispatch_id=delivery.dispatch_id, channel=delivery.channel, delivery=delivery.key)


def graph_retry_after_s(headers: Mapping[str, str]) -> float | None:
    """Seconds until the Page may call again, from ``X-Business-Use-Case-Usage`` (None: unknown).

    The header maps business object ids to usage entries; the largest positive
    ``estimated_time_to_regain_access`` (minutes) wins.
    """
    raw = headers.get("X-Business-Use-Case-Usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
    except ValueError:
        return None
    minutes = [
        float(entry.get("estimated_time_to_regain_access") or 0)
        for entries in (usage.values() if isinstance(usage, dict) else ())
        for entry in (entries if isinstance(entries, list) else ())
        if isinstance(entry, dict)
    ]
    longest = max(minutes, default=0.0)
    return longest * 60.0 if longest > 0 else None


def classify_graph_response(
    response: HttpResponse, *, env_var: str = "CRISISCAST_FACEBOOK_PAGE_TOKEN"
) -> Receipt | DeliveryError:
    """The receipt for a created post, or the classified error for any other answer."""
    status = response.status
    body = response.json()
    data: JsonMapping = body if isinstance(body, dict) else {}
    error = data.get("error")
    if 200 <= status < 300 and not isinstance(error, dict):
        if data.get("id"):
            return Receipt(provider_id=str(data["id"]), detail={"http_status": status})
        return Ambiguous(
            f"Facebook answered HTTP {status} without a post id; the post may exist.", status=status
        )
    if not isinstance(error, dict):
        if status >= 500:
            return Transient(
                f"Facebook had a server error (HTTP {status}).", code=f"http_{status}", status=status
            )
        if status == 429:
            return RateLimited("Facebook rate-limited the Page.", code="http_429", status=status)
        return Permanent(f"Facebook refused the post (HTTP {status}).", code=f"http_{status}", status=status)
    code = _int(error.get("code"))
    said = _graph_text(error)
    code_s = str(code) if code is not None else f"http_{status}"
    if code in THROTTLE_CODES:
        return RateLimited(
            f"Facebook is throttling the Page (Graph error {code}).",
            code=code_s,
            status=status,
            retry_after_s=graph_retry_after_s(response.headers),
        )
    if code == 190:
        reason = REAUTHORISE_REASON.replace("CRISISCAST_FACEBOOK_PAGE_TOKEN", env_var)
        return Permanent(reason, code=code_s, status=status)
    if error.get("is_transient") is True or code in TRANSIENT_CODES:
        return Transient(
            f"Facebook had a temporary problem (Graph error {code}): {said}", code=code_s, status=status
        )
    if code == 10 or (code is not None and 200 <= code <= 299):
        return Permanent(
            f"The Page token lacks permission to post (Graph error {code}); grant pages_manage_posts "
            "for this Page and generate a new token.",
            code=code_s,
            status=status,
        )
    if code == 506:
        return Duplicate(
            "Facebook refused the post as a duplicate of the Page's last post.", code=code_s, status=status
        )
    if code == 368:
        return Permanent(
            f"Facebook has temporarily blocked the Page from posting (Graph error 368): {said}",
            code=code_s,
            status=status,
        )
    if code is None and status >= 500:
        return Transient(f"Facebook had a server error (HTTP {status}).", code=code_s, status=status)
    return Permanent(f"Facebook refused the post (Graph error {code_s}): {said}", code=code_s, status=status)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _graph_text(error: JsonMapping) -> str:
    text = error.get("error_user_msg") or error.get("message") or "no reason given"
    words = " ".join(str(text).split())
    return words if len(words) <= 200 else words[:199] + "…"


def build(settings: Settings, secrets: Secrets, *, exercise: bool) -> FacebookChannel:
    """The Facebook channel for the production Page or (``exercise``) the exercise Page.

    Raises ``ChannelUnavailable`` when Facebook is disabled, no Page is configured, or the
    Page token is missing (naming its variable).
    """
    cfg = SPEC.config(settings)
    if not cfg.enabled:
        raise ChannelUnavailable(
            "Facebook is disabled in the configuration ([channels.facebook] enabled = false)."
        )
    if exercise:
        page_id, token, variable = (
            cfg.exercise_page_id,
            secrets.get("facebook_exercise_page_token"),
            "CRISISCAST_FACEBOOK_EXERCISE_PAGE_TOKEN",
        )
        if not page_id:
            raise ChannelUnavailable(
                "No Facebook exercise Page is configured; set [channels.facebook] exercise_page_id "
                "to include Facebook in exercises."
            )
    else:
        page_id, variable = cfg.page_id, "CRISISCAST_FACEBOOK_PAGE_TOKEN"
        token = secrets.get("facebook_page_token")
        if not page_id:
            raise ChannelUnavailable("No Facebook Page is configured; set [channels.facebook] page_id.")
    if token is None or not token.get_secret_value().strip():
        raise ChannelUnavailable(f"The Facebook Page token {variable} is not set; set it in the environment.")
    limits = ChannelLimits.from_config(cfg)
    return FacebookChannel(
        graph_base_url=cfg.graph_base_url,
        graph_version=cfg.graph_version,
        page_id=page_id,
        page_token=token,
        policy=settings.policy,
        limits=limits,
        request_timeout_s=cfg.request_timeout_s,
        env_var=variable,
    )
