"""Bluesky: a post or a thread through ``com.atproto.repo.createRecord`` (``app.bsky.feed.post``).

The record carries ``text``, ``createdAt``, ``langs`` (the rendering's languages, at most 3),
a link facet with UTF-8 byte offsets for every link (``text.link_facets``) and, in a
thread, ``reply`` (``root`` and ``parent``, each a strong reference: at-uri and cid). Each
part of a thread is its own delivery, chained with ``after``; the parent's cid and the
thread's root are read with ``com.atproto.repo.getRecord``, so a thread resumed after a
crash continues from the stored at-uri alone. The first part of an Update or all-clear
replies to the original's newest post in the same language. The session is one login per
channel, refreshed, never a login per post (``session``).

Classification (one attempt, never a retry here; a refused expired access token is renewed
and the create made once more in the same attempt, since the refused request created
nothing):

- 200 → ``Receipt(provider_id=<at-uri>)`` (the cid in the detail)
- 429 → ``RateLimited`` until ``ratelimit-reset``
- 502, 503 → ``Transient`` (a proxy answered; the PDS did not take the record)
- 500, 504 and other 5xx → ``Ambiguous``: there is no idempotency key and the repository
  write may have happened, so the dispatcher looks before it resends
- 400 ``InvalidRequest`` (too long, a bad facet, a reply to a deleted post) → ``Permanent``
- 401/403 after a renewed session → ``Permanent``
- timeout or disconnect after the request was written → ``Ambiguous`` (``channels.http``)

``reconcile`` lists the account's own recent posts (``com.atproto.repo.listRecords``) and
looks for one with the same text (and reply parent when known).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
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
from crisiscast.channels.bluesky import SPEC, handle_identity
from crisiscast.channels.bluesky.adapt import adapt_bluesky
from crisiscast.channels.bluesky.session import (
    PROVIDER,
    BlueskySession,
    SessionKeeper,
    bluesky_retry_after_s,
    xrpc_error,
)
from crisiscast.channels.bluesky.text import link_facets
from crisiscast.channels.http import HttpResponse, SessionHolder, request
from crisiscast.config import PolicyConfig, Secrets, Settings
from crisiscast.delivery import Delivery, Receipt
from crisiscast.errors import Ambiguous, DeliveryError, Permanent, RateLimited, Transient
from crisiscast.message import CrisisMessage

__all__ = ["POST_COLLECTION", "BlueskyChannel", "build", "classify_create_response", "split_at_uri"]

log = structlog.get_logger(__name__)

POST_COLLECTION = "app.bsky.feed.post"
RECONCILE_LIMIT = 50
MAX_LANGS = 3
_TOKEN_ERRORS = frozenset({"ExpiredToken", "InvalidToken", "AuthenticationRequired"})


def split_at_uri(uri: str) -> tuple[str, str, str]:
    """``at://did/collection/rkey`` → ``(did, collection, rkey)``; ``Permanent`` for anything else."""
    parts = uri.removeprefix("at://").split("/")
    if not uri.startswith("at://") or len(parts) != 3 or not all(parts):
        raise Permanent(f"The Bluesky post id {uri[:80]!r} is not an at:// record address.", code="bad_uri")
    return parts[0], parts[1], parts[2]


class BlueskyChannel(BaseChannel):
    """Posts to one Bluesky account; see the module docstring."""

    name = "bluesky"
    public = True

    def __init__(
        self,
        *,
        service_url: str,
        handle: str,
        app_password: SecretStr,
        policy: PolicyConfig,
        limits: ChannelLimits,
        max_thread_parts: int = 4,
        request_timeout_s: float = 10.0,
        env_var: str = "CRISISCAST_BLUESKY_APP_PASSWORD",
    ) -> None:
        self.service_url = service_url.rstrip("/")
        self.handle = handle
        self.account = f"bluesky:{handle}"
        self._password = app_password
        self.policy = policy
        self.limits = limits
        self.max_thread_parts = max_thread_parts
        self._http = SessionHolder(timeout_s=request_timeout_s, pool_key="bluesky")
        self.session = SessionKeeper(
            service_url=self.service_url,
            handle=handle,
            password=app_password,
            env_var=env_var,
            http=self._http,
        )

    def __repr__(self) -> str:
        return f"BlueskyChannel(account={self.account!r}, service_url={self.service_url!r})"

    def password_fingerprint(self) -> str:
        """A short, non-reversible id of the app password (two channels on one are one account)."""
        return hashlib.sha256(self._password.get_secret_value().encode()).hexdigest()[:12]

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- render (pure) --------------------------------------------------------------------
    def render(self, message: CrisisMessage, ctx: RenderContext) -> Sequence[Delivery]:
        """One delivery per post; each part of a thread waits for the one before."""
        deliveries: list[Delivery] = []
        for adapted in adapt_bluesky(message, self.policy, max_parts=self.max_thread_parts):
            reply_to = ctx.reply_to.get(f"{self.name}:{adapted.language}") or ctx.reply_to.get(self.name)
            previous_key: str | None = None
            for index, text in enumerate(adapted.parts, start=1):
                payload: dict[str, Any] = {
                    "thread_parts": len(adapted.parts),
                    "graphemes": adapted.metrics["graphemes"][index - 1],
                    "bytes": adapted.metrics["bytes"][index - 1],
                }
                if index == 1 and reply_to:
                    payload["reply_to"] = reply_to
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
        """Create one post record; a chained part replies to ``previous.provider_id``."""
        session = await self.session.current()
        record: dict[str, Any] = {
            "$type": POST_COLLECTION,
            "text": delivery.body,
            "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "langs": [lang.split("-")[0].lower() for lang in delivery.language.split("+")][:MAX_LANGS],
        }
        facets = link_facets(delivery.body)
        if facets:
            record["facets"] = facets
        parent = self._parent_uri(delivery, previous)
        if parent:
            record["reply"] = await self._reply_ref(parent, session)
        response = await self._create(session, record)
        if response.status in (400, 401) and xrpc_error(response)[0] in _TOKEN_ERRORS:
            session = await self.session.renew(session)
            response = await self._create(session, record)
        outcome = classify_create_response(response, now_s=time.time())
        if isinstance(outcome, DeliveryError):
            _log(delivery).info("bluesky_post_refused", status=response.status, code=outcome.code)
            raise outcome
        _log(delivery).debug("bluesky_post_created", provider_id=outcome.provider_id)
        return outcome

    async def _create(self, session: BlueskySession, record: Mapping[str, Any]) -> HttpResponse:
        body = {"repo": session.did, "collection": POST_COLLECTION, "record": record}
        return await request(
            self._http.get(),
            "POST",
            f"{self.service_url}/xrpc/com.atproto.repo.createRecord",
            provider=PROVIDER,
            headers=session.auth(),
            json=body,
        )

    def _parent_uri(self, delivery: Delivery, previous: Receipt | None) -> str | None:
        if delivery.after is not None:
            if previous is None or not previous.provider_id:
                raise Permanent(
                    "The previous post of this Bluesky thread has no address, so this one cannot "
                    "reply to it.",
                    code="chain_broken",
                )
            return previous.provider_id
        reply_to = delivery.payload.get("reply_to")
        return str(reply_to) if reply_to else None

    async def _reply_ref(self, parent_uri: str, session: BlueskySession) -> dict[str, Any]:
        """``{"root", "parent"}`` strong references for a reply to ``parent_uri``."""
        repo, collection, rkey = split_at_uri(parent_uri)
        response = await self._get(
            "com.atproto.repo.getRecord", {"repo": repo, "collection": collection, "rkey": rkey}, session
        )
        if response.status == 400 and xrpc_error(response)[0] == "RecordNotFound":
            raise Permanent(
                "The Bluesky post this one replies to no longer exists.", code="reply_missing", status=400
            )
        data = response.json() if response.status == 200 else None
        if not isinstance(data, dict) or not data.get("cid"):
            raise _read_failure(response, "the post this one replies to")
        parent = {"uri": str(data.get("uri") or parent_uri), "cid": str(data["cid"])}
        root = ((data.get("value") or {}).get("reply") or {}).get("root")
        if not (isinstance(root, dict) and root.get("uri") and root.get("cid")):
            root = parent
        return {"root": {"uri": str(root["uri"]), "cid": str(root["cid"])}, "parent": parent}

    async def _get(self, method: str, params: dict[str, str], session: BlueskySession) -> HttpResponse:
        try:
            return await request(
                self._http.get(),
                "GET",
                f"{self.service_url}/xrpc/{method}",
                provider=PROVIDER,
                headers=session.auth(),
                params=params,
            )
        except Ambiguous as exc:  # a read cannot have posted anything
            raise Transient(exc.reason, code=exc.code) from None

    # -- reconcile ------------------------------------------------------------------------
    async def reconcile(self, delivery: Delivery) -> Receipt | None:
        """Find a recent post of this account with the same text (and reply parent when known)."""
        try:
            session = await self.session.current()
            params = {"repo": session.did, "collection": POST_COLLECTION, "limit": str(RECONCILE_LIMIT)}
            response = await self._get("com.atproto.repo.listRecords", params, session)
            if response.status != 200:
                raise _read_failure(response, "the account's recent posts")
        except DeliveryError as exc:
            raise lookup_failure(f"Could not ask Bluesky about the post: {exc.reason}", exc) from None
        records = (response.json() or {}).get("records") or []
        parent = delivery.payload.get("reply_to") if delivery.after is None else None
        for item in records:
            value = item.get("value") or {}
            if value.get("text") != delivery.body:
                continue
            replied = ((value.get("reply") or {}).get("parent") or {}).get("uri")
            if parent and replied not in (None, str(parent)):
                continue
            return Receipt(provider_id=str(item["uri"]), status="reconciled", detail={"cid": item.get("cid")})
        return None


def _read_failure(response: HttpResponse, what: str) -> DeliveryError:
    status = response.status
    _, said = xrpc_error(response)
    if status == 429:
        return RateLimited(
            f"Bluesky rate-limited the look-up of {what}.",
            code="rate_limited",
            status=status,
            retry_after_s=bluesky_retry_after_s(response.headers, now_s=time.time()),
        )
    if status >= 500:
        return Transient(f"Bluesky had a server error (HTTP {status}) reading {what}.", status=status)
    return Permanent(f"Bluesky would not show {what} (HTTP {status}): {said}", status=status)


def _log(delivery: Delivery) -> Any:
    return log.bind(dispatch_id=delivery.dispatch_id, channel=delivery.channel, delivery=delivery.key)


def classify_create_response(response: HttpResponse, *, now_s: float) -> Receipt | DeliveryError:
    """The receipt for a created post, or the classified error for any other answer."""
    status = response.status
    body = response.json()
    data: Mapping[str, Any] = body if isinstance(body, dict) else {}
    if 200 <= status < 300:
        if data.get("uri"):
            return Receipt(
                provider_id=str(data["uri"]), detail={"http_status": status, "cid": data.get("cid")}
            )
        return Ambiguous(
            f"Bluesky answered HTTP {status} without a post address; the post may exist.", status=status
        )
    error, said = xrpc_error(response)
    said = said or error or "no reason given"
    if status == 429:
        return RateLimited(
            "Bluesky rate-limited the account.",
            code="rate_limited",
            status=status,
            retry_after_s=bluesky_retry_after_s(response.headers, now_s=now_s),
        )
    if status in (502, 503):
        return Transient(f"Bluesky is unavailable (HTTP {status}).", code=f"http_{status}", status=status)
    if status >= 500:
        return Ambiguous(
            f"Bluesky had a server error (HTTP {status}); the post may have been written.",
            code=f"http_{status}",
            status=status,
        )
    if status == 400:
        return Permanent(f"Bluesky refused the post: {said}", code=error or "http_400", status=status)
    return Permanent(
        f"Bluesky refused the post (HTTP {status}): {said}", code=f"http_{status}", status=status
    )


def build(settings: Settings, secrets: Secrets, *, exercise: bool) -> BlueskyChannel:
    """The Bluesky channel for the hospital's account or (``exercise``) the drill account.

    Raises ``ChannelUnavailable`` when Bluesky is disabled, the handle is not configured or
    its app password is missing (naming the variable).
    """
    cfg = SPEC.config(settings)
    if not cfg.enabled:
        raise ChannelUnavailable(
            "Bluesky is disabled in the configuration ([channels.bluesky] enabled = false)."
        )
    if exercise:
        handle, service_url = cfg.exercise_handle, cfg.exercise_service_url or cfg.service_url
        secret, variable = "bluesky_exercise_app_password", "CRISISCAST_BLUESKY_EXERCISE_APP_PASSWORD"
        if not handle:
            raise ChannelUnavailable(
                "No Bluesky exercise account is configured; set [channels.bluesky] exercise_handle "
                "to include Bluesky in exercises."
            )
    else:
        handle, service_url = cfg.handle, cfg.service_url
        secret, variable = "bluesky_app_password", "CRISISCAST_BLUESKY_APP_PASSWORD"
        if not handle:
            raise ChannelUnavailable("No Bluesky account is configured; set [channels.bluesky] handle.")
    password = secrets.get(secret)
    if password is None or not password.get_secret_value().strip():
        raise ChannelUnavailable(
            f"The Bluesky app password {variable} is not set; set it in the environment."
        )
    return BlueskyChannel(
        service_url=service_url,
        handle=handle_identity(handle) or handle,
        app_password=password,
        policy=settings.policy,
        limits=ChannelLimits.from_config(cfg),
        max_thread_parts=cfg.max_thread_parts,
        request_timeout_s=cfg.request_timeout_s,
        env_var=variable,
    )
