"""A protocol-faithful fake of the X API v2 (the parts crisiscast uses).

Routes: ``POST /2/tweets``, ``GET /2/users/me``, ``GET /2/users/:id/tweets``.

What it checks, like X does:

- OAuth 1.0a user context: the ``Authorization`` header is parsed and its HMAC-SHA1 signature
  recomputed with ``oauthlib`` from the known credentials (URL, method and query; a JSON body
  is not signed). A wrong key, token, signature or a stale timestamp → 401 with X's body.
- The weighted 280 limit (``crisiscast.channels.twitter.text.tweet_length``) → 400 problem body.
- Identical text to an earlier post of the same account → 403 duplicate-content body.
- A reply to a post that does not exist → 403.
- Rate windows per account: ``x-rate-limit-*`` (15 minutes) and ``x-user-limit-24hour-*``
  headers on every post; an exhausted window → 429 with X's body.

Every credential set in ``credentials`` is a separate user; by default the fake serves the
sandbox account (``SANDBOX_CREDENTIALS``), or with ``exercise=True`` the drills account
(``EXERCISE_SANDBOX_CREDENTIALS``), matching ``sandbox_env(exercise=...)``.
"""

from __future__ import annotations

import hmac
import itertools
import logging
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TypedDict

from aiohttp import web
from oauthlib import oauth1
from oauthlib.oauth1.rfc5849.utils import parse_authorization_header

from crisiscast.channels.twitter.text import TWEET_MAX_WEIGHTED, tweet_length
from crisiscast.jsontypes import JsonObject
from crisiscast.sandbox.common import FakeProvider, Fault, FaultPlan, RecordedRequest

__all__ = [
    "EXERCISE_SANDBOX_CREDENTIALS",
    "SANDBOX_CREDENTIALS",
    "FakeX",
    "XAccountCredentials",
    "XPost",
    "duplicate_fault",
    "rate_limited_fault",
    "sandbox_env",
]

# oauthlib logs the signature base string (consumer key and access token included) at DEBUG.
logging.getLogger("oauthlib").setLevel(logging.WARNING)

WINDOW_S = 15 * 60
DAY_S = 24 * 3600
TIMESTAMP_TOLERANCE_S = 300

TOO_LONG_DETAIL = (
    "Your Tweet text is too long. For more information on how Twitter determines text length "
    "see https://github.com/twitter/twitter-text."
)
DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content."
REPLY_MISSING_DETAIL = "You attempted to reply to a Tweet that is deleted or not visible to you."


@dataclass(frozen=True, slots=True)
class XAccountCredentials:
    """One account's OAuth 1.0a credentials and who it is."""

    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str
    user_id: str = "1600000000000000001"
    username: str = "crisiscast_sandbox"


def _sandbox_account(n: int, username: str) -> XAccountCredentials:
    """Well-known, obviously fake credentials for sandbox account ``n``."""
    user_id = f"16000000000000000{n:02d}"
    return XAccountCredentials(
        consumer_key=f"sandboxXconsumerKey{n:04d}",
        consumer_secret=f"sandboxXconsumerSecret{n:020d}",
        access_token=f"{user_id}-sandboxXaccessToken{n:04d}",
        access_token_secret=f"sandboxXaccessTokenSecret{n:016d}",
        user_id=user_id,
        username=username,
    )


SANDBOX_CREDENTIALS = _sandbox_account(1, "crisiscast_sandbox")
EXERCISE_SANDBOX_CREDENTIALS = _sandbox_account(2, "crisiscast_drills")


def sandbox_env(*, exercise: bool = False) -> dict[str, str]:
    """The ``CRISISCAST_TWITTER_*`` variables the fake accepts (``…_TWITTER_EXERCISE_*`` for drills)."""
    prefix, creds = (
        ("CRISISCAST_TWITTER_EXERCISE_", EXERCISE_SANDBOX_CREDENTIALS)
        if exercise
        else ("CRISISCAST_TWITTER_", SANDBOX_CREDENTIALS)
    )
    return {
        prefix + "CONSUMER_KEY": creds.consumer_key,
        prefix + "CONSUMER_SECRET": creds.consumer_secret,
        prefix + "ACCESS_TOKEN": creds.access_token,
        prefix + "ACCESS_TOKEN_SECRET": creds.access_token_secret,
    }


class XPost(TypedDict):
    """A created post as the fake keeps it."""

    id: str
    text: str
    author_id: str
    in_reply_to_tweet_id: str | None
    created_at: str


@dataclass(slots=True)
class _Window:
    limit: int
    length_s: int
    used: int = 0
    reset_at: int = 0

    def take(self, now: float) -> bool:
        if now >= self.reset_at:
            self.used, self.reset_at = 0, int(now) + self.length_s
        if self.used >= self.limit:
            return False
        self.used += 1
        return True

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


@dataclass(slots=True)
class _Account:
    creds: XAccountCredentials
    window: _Window
    daily: _Window
    posts: list[XPost] = field(default_factory=list)


def problem(status: int, detail: str | None = None, *, type_: str = "about:blank") -> JsonObject:
    """X's problem body, e.g. ``{"detail", "type", "title", "status"}``."""
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return {"detail": detail or title, "type": type_, "title": title, "status": status}


def rate_limited_fault(reset_in_s: int = 60, *, daily: bool = False, times: int = 1) -> Fault:
    """A scripted 429 as X sends it: problem body and ``x-rate-limit-*`` headers.

    ``daily`` exhausts the 24-hour user window instead (its reset is the later one).
    """
    reset = str(int(time.time()) + reset_in_s)
    headers = {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0", "x-rate-limit-reset": reset}
    if daily:
        headers |= {
            "x-rate-limit-remaining": "42",
            "x-rate-limit-reset": str(int(time.time()) + 60),
            "x-user-limit-24hour-limit": "17",
            "x-user-limit-24hour-remaining": "0",
            "x-user-limit-24hour-reset": reset,
        }
    return Fault(status=429, body=problem(429, "Too Many Requests"), headers=headers, times=times)


def duplicate_fault(*, times: int = 1) -> Fault:
    """A scripted 403 duplicate-content answer (X's real body)."""
    return Fault(status=403, body=problem(403, DUPLICATE_DETAIL), times=times)


class FakeX(FakeProvider):
    """The fake X API. ``posts`` holds every created post (all accounts, oldest first)."""

    name = "x"

    def __init__(
        self,
        faults: FaultPlan | None = None,
        *,
        exercise: bool = False,
        credentials: tuple[XAccountCredentials, ...] | None = None,
        posts_per_window: int = 100,
        posts_per_day: int = 1000,
    ) -> None:
        super().__init__(faults)
        if credentials is None:
            credentials = (EXERCISE_SANDBOX_CREDENTIALS,) if exercise else (SANDBOX_CREDENTIALS,)
        self.credentials = credentials
        self.posts_per_window = posts_per_window
        self.posts_per_day = posts_per_day
        self.posts: list[XPost] = []
        self._accounts: dict[str, _Account] = {}
        # Distinct id ranges per fake, so the exercise account's ids never equal production's.
        self._ids = itertools.count(1800000000000000001 + (10**12 if exercise else 0))
        self.reset_state()
        self.route("POST", "/2/tweets", self._create)
        self.route("GET", "/2/users/me", self._me)
        self.route("GET", "/2/users/{user_id}/tweets", self._timeline)

    def reset_state(self) -> None:
        self.posts = []
        self._accounts = {
            c.access_token: _Account(
                c, _Window(self.posts_per_window, WINDOW_S), _Window(self.posts_per_day, DAY_S)
            )
            for c in self.credentials
        }

    def error_body(self, status: int) -> Any:
        return problem(status)

    # -- auth -------------------------------------------------------------------------------
    def _authenticate(self, request: web.Request) -> _Account | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("OAuth "):
            return None
        try:
            params = dict(parse_authorization_header(header))
        except (ValueError, IndexError):
            return None
        account = self._accounts.get(params.get("oauth_token", ""))
        if account is None or params.get("oauth_consumer_key") != account.creds.consumer_key:
            return None
        if params.get("oauth_signature_method") != "HMAC-SHA1":
            return None
        try:
            timestamp = int(params.get("oauth_timestamp", ""))
        except ValueError:
            return None
        if abs(time.time() - timestamp) > TIMESTAMP_TOLERANCE_S:
            return None
        expected = oauth1.Client(
            account.creds.consumer_key,
            client_secret=account.creds.consumer_secret,
            resource_owner_key=account.creds.access_token,
            resource_owner_secret=account.creds.access_token_secret,
            nonce=params.get("oauth_nonce"),
            timestamp=params.get("oauth_timestamp"),
        )
        content_type = (
            {"Content-Type": request.headers["Content-Type"]} if "Content-Type" in request.headers else {}
        )
        body = None
        if content_type.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            return None  # crisiscast never signs form bodies; X's JSON endpoints reject them
        _, signed, _ = expected.sign(
            str(request.url), "POST" if request.method == "POST" else "GET", body=body, headers=content_type
        )
        want = dict(parse_authorization_header(signed["Authorization"]))["oauth_signature"]
        if not hmac.compare_digest(want, params.get("oauth_signature", "")):
            return None
        return account

    def _unauthorized(self) -> web.Response:
        return web.json_response(problem(401, "Unauthorized"), status=401)

    def _rate_headers(self, account: _Account) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(account.window.limit),
            "x-rate-limit-remaining": str(account.window.remaining),
            "x-rate-limit-reset": str(account.window.reset_at),
            "x-user-limit-24hour-limit": str(account.daily.limit),
            "x-user-limit-24hour-remaining": str(account.daily.remaining),
            "x-user-limit-24hour-reset": str(account.daily.reset_at),
        }

    # -- routes -----------------------------------------------------------------------------
    async def _create(self, request: web.Request, rec: RecordedRequest) -> web.Response:
        account = self._authenticate(request)
        if account is None:
            return self._unauthorized()
        now = time.time()
        if not account.window.take(now) or not account.daily.take(now):
            headers = self._rate_headers(account)
            return web.json_response(problem(429, "Too Many Requests"), status=429, headers=headers)
        headers = self._rate_headers(account)
        try:
            data = await request.json()
        except ValueError:
            data = None
        invalid = "https://api.twitter.com/2/problems/invalid-request"
        if not isinstance(data, dict) or not isinstance(data.get("text"), str) or not data["text"].strip():
            body = problem(400, "One or more parameters to your request was invalid.", type_=invalid)
            return web.json_response(body, status=400, headers=headers)
        text: str = data["text"]
        if tweet_length(text) > TWEET_MAX_WEIGHTED:
            return web.json_response(problem(400, TOO_LONG_DETAIL), status=400, headers=headers)
        reply_to = (data.get("reply") or {}).get("in_reply_to_tweet_id")
        if reply_to is not None and not any(p["id"] == str(reply_to) for p in self.posts):
            return web.json_response(problem(403, REPLY_MISSING_DETAIL), status=403, headers=headers)
        if any(p["text"] == text for p in account.posts):
            return web.json_response(problem(403, DUPLICATE_DETAIL), status=403, headers=headers)
        post: XPost = {
            "id": str(next(self._ids)),
            "text": text,
            "author_id": account.creds.user_id,
            "in_reply_to_tweet_id": str(reply_to) if reply_to is not None else None,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now)),
        }
        account.posts.append(post)
        self.posts.append(post)
        body = {"data": {"id": post["id"], "text": text, "edit_history_tweet_ids": [post["id"]]}}
        return web.json_response(body, status=201, headers=headers)

    async def _me(self, request: web.Request, rec: RecordedRequest) -> web.Response:
        account = self._authenticate(request)
        if account is None:
            return self._unauthorized()
        c = account.creds
        return web.json_response({"data": {"id": c.user_id, "name": c.username, "username": c.username}})

    async def _timeline(self, request: web.Request, rec: RecordedRequest) -> web.Response:
        account = self._authenticate(request)
        if account is None:
            return self._unauthorized()
        owner = next(
            (a for a in self._accounts.values() if a.creds.user_id == request.match_info["user_id"]), None
        )
        if owner is None:
            return web.json_response(problem(404, "Could not find user."), status=404)
        try:
            max_results = int(request.query.get("max_results", "10"))
        except ValueError:
            max_results = 0
        if not 5 <= max_results <= 100:
            invalid = "https://api.twitter.com/2/problems/invalid-request"
            return web.json_response(
                problem(
                    400, "The `max_results` query parameter value is not between 5 and 100", type_=invalid
                ),
                status=400,
            )
        fields = set(request.query.get("tweet.fields", "").split(","))
        data = []
        for post in reversed(owner.posts[-max_results:]):
            item: JsonObject = {
                "id": post["id"],
                "text": post["text"],
                "edit_history_tweet_ids": [post["id"]],
            }
            if "referenced_tweets" in fields and post["in_reply_to_tweet_id"]:
                item["referenced_tweets"] = [{"type": "replied_to", "id": post["in_reply_to_tweet_id"]}]
            if "created_at" in fields:
                item["created_at"] = post["created_at"]
            data.append(item)
        if not data:
            return web.json_response({"meta": {"result_count": 0}})
        meta = {"result_count": len(data), "newest_id": data[0]["id"], "oldest_id": data[-1]["id"]}
        return web.json_response({"data": data, "meta": meta})
