"""WordPress: the message as a sticky news post on the hospital's own site (REST API v2).

- Create: ``POST {site}/wp-json/wp/v2/posts`` with JSON ``{title, content, status: "publish",
  sticky: true, slug, categories: [id]}``; the post id is the answer's ``id``.
- Update: ``POST {site}/wp-json/wp/v2/posts/{id}`` with the new title and content (which opens
  with "Updated at …"); the all-clear does the same and sets ``sticky: false``.
- Auth: HTTP Basic with the user name and an application password (WordPress 5.6+), over
  HTTPS (``config.https_problem``); the password never appears in a URL, a log or an error.

WordPress's error JSON (``{"code", "message", "data": {"status"}}``) is classified:

- 401 (``incorrect_password``, ``invalid_username``, ``rest_not_logged_in``) → ``Permanent``
  saying to create a new application password; 403 (``rest_cannot_create``, ``rest_cannot_edit``)
  → ``Permanent`` naming the capability; 404 for an edit (``rest_post_invalid_id``) →
  ``Permanent``; any other 4xx → ``Permanent`` with WordPress's code;
- 429 → ``RateLimited`` (``Retry-After``); 503 → ``Transient`` (maintenance mode, which
  WordPress answers before any post is written, with ``Retry-After``);
- any other 5xx, a timeout or a broken connection after the request left → ``Ambiguous``:
  PHP may have stored the post before it failed.

``reconcile`` asks ``GET /wp-json/wp/v2/posts?slug=…&status=publish,future,draft,pending,private``
for a create (the slug is deterministic, so the post is found exactly); an edit is idempotent,
so an in-doubt edit is simply sent again (``None``).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import structlog
from pydantic import SecretStr

from crisiscast.channels.base import (
    BaseChannel,
    ChannelLimits,
    ChannelUnavailable,
    RenderContext,
    lookup_failure,
    parse_retry_after_s,
)
from crisiscast.channels.http import HttpResponse, SessionHolder, request
from crisiscast.channels.wordpress import NAME, SPEC
from crisiscast.channels.wordpress.adapt import wordpress_post
from crisiscast.channels.wordpress.config import https_problem
from crisiscast.config import PolicyConfig, Secrets, Settings
from crisiscast.delivery import Delivery, Receipt
from crisiscast.errors import Ambiguous, DeliveryError, Permanent, RateLimited, Transient
from crisiscast.jsontypes import JsonMapping, JsonObject
from crisiscast.message import CrisisMessage, MsgType

__all__ = ["WordPressChannel", "build", "classify_wordpress_response", "site_identity"]

log = structlog.get_logger(__name__)

PROVIDER = "the WordPress site"
POSTS = "/wp-json/wp/v2/posts"
ANY_STATUS = "publish,future,draft,pending,private"


def site_identity(url: str | None) -> str | None:
    """A site's identity for exercise isolation: host and path, lower case, no scheme or slash."""
    if not url:
        return None
    bare = url.strip().casefold().split("://", 1)[-1].rstrip("/")
    return bare.removeprefix("www.")


class WordPressChannel(BaseChannel):
    """Posts to one WordPress site; see the module docstring for protocol and classification."""

    name = NAME
    public = True

    def __init__(
        self,
        *,
        site_url: str,
        username: str,
        app_password: SecretStr,
        category_id: int,
        policy: PolicyConfig,
        limits: ChannelLimits,
        request_timeout_s: float = 10.0,
        env_var: str = "CRISISCAST_WORDPRESS_APP_PASSWORD",
    ) -> None:
        self.site_url = site_url.rstrip("/")
        self.username = username
        self.category_id = category_id
        self._password = app_password
        self._env_var = env_var
        self.policy = policy
        self.limits = limits
        self.account = f"wordpress:{site_identity(self.site_url)}"
        self._http = SessionHolder(timeout_s=request_timeout_s, pool_key="wordpress")

    def __repr__(self) -> str:
        return f"WordPressChannel(account={self.account!r}, username={self.username!r})"

    # -- render (pure) --------------------------------------------------------------------
    def render(self, message: CrisisMessage, ctx: RenderContext) -> Sequence[Delivery]:
        """One post: a new one for an Alert, an edit of the original for an Update/all-clear."""
        original = ctx.reply_to.get(self.name) if message.msg_type is not MsgType.ALERT else None
        post = wordpress_post(message, self.policy, follow_up=original is not None)
        payload: JsonObject = {"title": post.title, "sticky": post.sticky}
        if original is not None:
            payload["post_id"] = original
        else:
            payload |= {"slug": post.slug, "status": "publish", "categories": [self.category_id]}
        return [
            Delivery(
                dispatch_id=ctx.dispatch_id,
                channel=self.name,
                target=self.site_url,
                part=1,
                body=post.content,
                language=post.language,
                payload=payload,
            )
        ]

    # -- send (one attempt) ---------------------------------------------------------------
    async def send(self, delivery: Delivery, previous: Receipt | None) -> Receipt:
        """Create the post (or edit the original); the receipt's provider id is the post id."""
        fields = {k: v for k, v in delivery.payload.items() if k != "post_id"}
        body = {**fields, "content": delivery.body}
        post_id = delivery.payload.get("post_id")
        url = f"{self.site_url}{POSTS}/{post_id}" if post_id else f"{self.site_url}{POSTS}"
        response = await request(
            self._http.get(), "POST", url, provider=PROVIDER, headers=self._auth(), json=body
        )
        outcome = classify_wordpress_response(response, env_var=self._env_var, edit=bool(post_id))
        if isinstance(outcome, DeliveryError):
            _log(delivery).info("wordpress_post_refused", status=response.status, code=outcome.code)
            raise outcome
        _log(delivery).debug("wordpress_post_saved", provider_id=outcome.provider_id)
        return outcome

    def _auth(self) -> dict[str, str]:
        pair = f"{self.username}:{self._password.get_secret_value()}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}

    # -- reconcile ------------------------------------------------------------------------
    async def reconcile(self, delivery: Delivery) -> Receipt | None:
        """Find the post by its slug (None: it was not created). An edit is sent again (None)."""
        slug = delivery.payload.get("slug")
        if delivery.payload.get("post_id") or not slug:
            return None  # an edit of the same post: sending it again changes nothing more
        params = {"slug": str(slug), "status": ANY_STATUS, "context": "edit"}
        try:
            response = await request(
                self._http.get(),
                "GET",
                f"{self.site_url}{POSTS}",
                provider=PROVIDER,
                headers=self._auth(),
                params=params,
            )
        except DeliveryError as exc:
            raise lookup_failure(
                f"Could not ask the WordPress site about the post: {exc.reason}", exc
            ) from None
        if response.status != 200:
            outcome = classify_wordpress_response(response, env_var=self._env_var, edit=False)
            if not isinstance(outcome, DeliveryError):
                outcome = Permanent(f"HTTP {response.status}", status=response.status)
            elif isinstance(outcome, Ambiguous):  # a read cannot have posted anything
                outcome = Transient(outcome.reason, code=outcome.code, status=outcome.status)
            raise lookup_failure(f"The WordPress site would not look the post up: {outcome.reason}", outcome)
        for post in response.json() or []:
            if isinstance(post, dict) and post.get("slug") == slug and post.get("id") is not None:
                return Receipt(
                    provider_id=str(post["id"]), status="reconciled", detail={"link": post.get("link")}
                )
        return None

    async def aclose(self) -> None:
        await self._http.aclose()


def _log(delivery: Delivery) -> Any:
    return log.bind(dispatch_id=delivery.dispatch_id, channel=delivery.channel, delivery=delivery.key)


def _said(data: JsonMapping) -> str:
    words = " ".join(str(data.get("message") or "no reason given").split())
    return words if len(words) <= 200 else words[:199] + "…"


def classify_wordpress_response(
    response: HttpResponse, *, env_var: str = "CRISISCAST_WORDPRESS_APP_PASSWORD", edit: bool = False
) -> Receipt | DeliveryError:
    """The receipt for a saved post, or the classified error for any other answer."""
    status = response.status
    body = response.json()
    data: JsonMapping = body if isinstance(body, dict) else {}
    if 200 <= status < 300:
        if data.get("id") is not None:
            detail = {"http_status": status, "link": data.get("link"), "slug": data.get("slug")}
            return Receipt(provider_id=str(data["id"]), detail=detail)
        return Ambiguous(
            f"WordPress answered HTTP {status} without a post id; the post may exist.", status=status
        )
    code = str(data.get("code") or f"http_{status}")
    retry_after_s = parse_retry_after_s(response.headers.get("Retry-After"))
    if status == 429:
        return RateLimited(
            "The WordPress site is limiting requests.", code=code, status=status, retry_after_s=retry_after_s
        )
    if status == 503:
        return Transient(
            "The WordPress site is unavailable (maintenance or overload); nothing was saved.",
            code=code,
            status=status,
            retry_after_s=retry_after_s,
        )
    if status >= 500:
        return Ambiguous(
            f"The WordPress site failed (HTTP {status}) and may have saved the post; crisiscast looks "
            "it up by its slug before trying again.",
            code=code,
            status=status,
        )
    if status == 401:
        return Permanent(
            f"The WordPress site refused the user name or application password ({code}); create a new "
            f"application password for the user and set {env_var}.",
            code=code,
            status=status,
        )
    if status == 403:
        what = "edit this post" if edit else "publish posts"
        return Permanent(
            f"The WordPress user may not {what} ({code}); give the user the Editor role.",
            code=code,
            status=status,
        )
    if status == 404 and edit:
        return Permanent(
            f"The original WordPress post is gone ({code}); publish the follow-up as a new alert.",
            code=code,
            status=status,
        )
    return Permanent(f"The WordPress site refused the post ({code}): {_said(data)}", code=code, status=status)


def build(settings: Settings, secrets: Secrets, *, exercise: bool) -> WordPressChannel:
    """The WordPress channel for the production site or (``exercise``) the drill site.

    Raises ``ChannelUnavailable`` when WordPress is disabled, no user or drill site is
    configured, the site is not HTTPS, or the application password is missing.
    """
    cfg = SPEC.config(settings)
    if not cfg.enabled:
        raise ChannelUnavailable(
            "WordPress is disabled in the configuration ([channels.wordpress] enabled = false)."
        )
    if exercise:
        if not cfg.exercise_site_url:
            raise ChannelUnavailable(
                "No WordPress drill site is configured; set [channels.wordpress] exercise_site_url "
                "to include the website in exercises."
            )
        site, setting = cfg.exercise_site_url, "exercise_site_url"
        username = cfg.exercise_username or cfg.username
        category = cfg.exercise_category_id or cfg.category_id
        password, variable = (
            secrets.get("wordpress_exercise_app_password"),
            "CRISISCAST_WORDPRESS_EXERCISE_APP_PASSWORD",
        )
    else:
        site, setting, username, category = cfg.site_url, "site_url", cfg.username, cfg.category_id
        password, variable = secrets.get("wordpress_app_password"), "CRISISCAST_WORDPRESS_APP_PASSWORD"
    problem = https_problem(site, setting)
    if problem:
        raise ChannelUnavailable(problem)
    if not username.strip():
        raise ChannelUnavailable("No WordPress user is configured; set [channels.wordpress] username.")
    if password is None or not password.get_secret_value().strip():
        raise ChannelUnavailable(
            f"The WordPress application password {variable} is not set; set it in the environment."
        )
    return WordPressChannel(
        site_url=site,
        username=username,
        app_password=password,
        category_id=category,
        policy=settings.policy,
        limits=ChannelLimits.from_config(cfg),
        request_timeout_s=cfg.request_timeout_s,
        env_var=variable,
    )
