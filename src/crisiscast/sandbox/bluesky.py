"""A protocol-faithful fake of a Bluesky PDS (the XRPC methods crisiscast uses).

Routes (all under ``/xrpc/``): ``com.atproto.server.createSession``,
``com.atproto.server.refreshSession``, ``com.atproto.repo.createRecord``,
``com.atproto.repo.getRecord``, ``com.atproto.repo.listRecords``.

What it checks, like a PDS does:

- Sessions: ``createSession`` with the handle (or DID) and the app password → an access JWT
  (``access_lifetime_s``, two hours by default) and a refresh JWT; a wrong password → 401
  ``AuthenticationRequired``; at most ``logins_per_window`` logins per account in 5 minutes
  → 429 ``RateLimitExceeded`` with ``ratelimit-*`` headers. ``refreshSession`` takes the
  refresh JWT and rotates both tokens (the old refresh token stops working).
- ``Authorization: Bearer <access JWT>`` on writes: an expired token → 400 ``ExpiredToken``,
  an unknown one → 401 ``InvalidToken``; a refresh token used as an access token → 400
  ``InvalidToken``.
- The post record: ``$type``, ``text`` at most 300 graphemes and 3,000 UTF-8 bytes,
  ``createdAt`` an ISO 8601 time, ``langs`` at most 3; every facet's byte range inside the
  text, and a link facet's bytes spelling its URI; a ``reply`` whose root and parent exist
  with those cids → else 400 ``InvalidRequest``. The repo must be the session's own.
- Rate: ``points_per_hour`` per account, 3 points a create; exhausted → 429 with
  ``ratelimit-limit``/``-remaining``/``-reset`` (epoch seconds)/``-policy``.

One fake serves both sandbox accounts: the hospital's and the drills'.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

from crisiscast.channels.bluesky.text import MAX_BYTES, MAX_GRAPHEMES, post_graphemes
from crisiscast.sandbox.common import FakeProvider, Fault, FaultPlan, RecordedRequest

__all__ = [
    "EXERCISE_ACCOUNT",
    "SANDBOX_ACCOUNT",
    "BlueskyAccount",
    "FakeBluesky",
    "rate_limited_fault",
    "sandbox_env",
]

LOGIN_WINDOW_S = 300
POINTS_WINDOW_S = 3600
CREATE_POINTS = 3
POST = "app.bsky.feed.post"
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, slots=True)
class BlueskyAccount:
    handle: str
    app_password: str
    did: str


SANDBOX_ACCOUNT = BlueskyAccount(
    "hospital.bsky.example", "sbx1-hosp-ital-pass", "did:plc:sandboxhospital00000001"
)
EXERCISE_ACCOUNT = BlueskyAccount(
    "hospital-drills.bsky.example", "sbx2-dril-lsac-pass", "did:plc:sandboxdrills000000002"
)


def sandbox_env(*, exercise: bool = False) -> dict[str, str]:
    """The ``CRISISCAST_BLUESKY_*`` app passwords the fake accepts (one fake serves both accounts)."""
    return {
        "CRISISCAST_BLUESKY_APP_PASSWORD": SANDBOX_ACCOUNT.app_password,
        "CRISISCAST_BLUESKY_EXERCISE_APP_PASSWORD": EXERCISE_ACCOUNT.app_password,
    }


def _error(name: str, message: str, status: int, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": name, "message": message}, status=status, headers=headers)


def rate_limited_fault(reset_in_s: int = 900, *, times: int = 1) -> Fault:
    """A scripted 429 as the PDS sends it, with ``ratelimit-*`` headers."""
    headers = {
        "ratelimit-limit": "5000",
        "ratelimit-remaining": "0",
        "ratelimit-reset": str(int(time.time()) + reset_in_s),
        "ratelimit-policy": "5000;w=3600",
    }
    return Fault(
        status=429,
        body={"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
        headers=headers,
        times=times,
    )


def _b64(data: Mapping[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@dataclass(slots=True)
class _Token:
    did: str
    scope: str  # "com.atproto.access" or "com.atproto.refresh"
    expires_s: float


@dataclass(slots=True)
class _Account:
    creds: BlueskyAccount
    logins: list[float] = field(default_factory=list)
    points_used: int = 0
    points_reset_s: float = 0.0
    records: list[dict[str, Any]] = field(default_factory=list)  # oldest first


class FakeBluesky(FakeProvider):
    """The fake PDS. ``posts`` holds every created post record with its uri (all accounts)."""

    name = "bluesky"

    def __init__(
        self,
        faults: FaultPlan | None = None,
        *,
        exercise: bool = False,
        accounts: tuple[BlueskyAccount, ...] = (SANDBOX_ACCOUNT, EXERCISE_ACCOUNT),
        access_lifetime_s: float = 2 * 3600,
        logins_per_window: int = 30,
        points_per_hour: int = 5000,
    ) -> None:
        super().__init__(faults)
        self.accounts = accounts
        self.access_lifetime_s = access_lifetime_s
        self.logins_per_window = logins_per_window
        self.points_per_hour = points_per_hour
        self.posts: list[dict[str, Any]] = []
        self.logins = 0
        self.refreshes = 0
        self._accounts: dict[str, _Account] = {}
        self._tokens: dict[str, _Token] = {}
        self._clock = itertools.count(int(time.time() * 1_000_000))
        self.reset_state()
        x = "/xrpc/"
        self.route("POST", x + "com.atproto.server.createSession", self._create_session)
        self.route("POST", x + "com.atproto.server.refreshSession", self._refresh_session)
        self.route("POST", x + "com.atproto.repo.createRecord", self._create_record)
        self.route("GET", x + "com.atproto.repo.getRecord", self._get_record)
        self.route("GET", x + "com.atproto.repo.listRecords", self._list_records)

    def reset_state(self) -> None:
        self.posts = []
        self._accounts = {a.did: _Account(a) for a in self.accounts}
        self._tokens = {}

    def error_body(self, status: int) -> Any:
        if status == 429:
            return {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}
        return {"error": "InternalServerError", "message": "Internal Server Error"}

    def expire_access_tokens(self) -> None:
        """Make every access token issued so far expired (as two hours later)."""
        for token in self._tokens.values():
            if token.scope == "com.atproto.access":
                token.expires_s = time.time() - 1

    # -- tokens -------------------------------------------------------------------------------
    def _issue(self, did: str) -> dict[str, str]:
        now = time.time()
        pair = {}
        for key, scope, life in (
            ("accessJwt", "com.atproto.access", self.access_lifetime_s),
            ("refreshJwt", "com.atproto.refresh", 90 * 24 * 3600.0),
        ):
            claims = {
                "scope": scope,
                "sub": did,
                "iat": int(now),
                "exp": int(now + life),
                "jti": secrets.token_hex(8),
            }
            jwt = f"{_b64({'typ': 'JWT', 'alg': 'ES256K'})}.{_b64(claims)}.{secrets.token_urlsafe(32)}"
            self._tokens[jwt] = _Token(did, scope, now + life)
            pair[key] = jwt
        return pair

    def _bearer(self, request: web.Request, scope: str) -> _Account | web.Response:
        header = request.headers.get("Authorization", "")
        token = (
            self._tokens.get(header.removeprefix("Bearer ").strip()) if header.startswith("Bearer ") else None
        )
        if token is None:
            return _error("InvalidToken", "Token could not be verified", 401)
        if token.scope != scope:
            return _error("InvalidToken", "Bad token scope", 400)
        if token.expires_s <= time.time():
            return _error("ExpiredToken", "Token has expired", 400)
        return self._accounts[token.did]

    # -- sessions -----------------------------------------------------------------------------
    async def _create_session(self, request: web.Request, rec: RecordedRequest) -> web.Response:
        try:
            data = await request.json()
        except ValueError:
            data = {}
        ident = str((data or {}).get("identifier") or "")
        account = next(
            (a for a in self._accounts.values() if ident.lower() in (a.creds.handle, a.creds.did)), None
        )
        if account is not None:
            now = time.time()
            account.logins = [t for t in account.logins if now - t < LOGIN_WINDOW_S]
            if len(account.logins) >= self.logins_per_window:
                reset = int((account.logins[0] if account.logins else now) + LOGIN_WINDOW_S)
                headers = {
                    "ratelimit-limit": str(self.logins_per_window),
                    "ratelimit-remaining": "0",
                    "ratelimit-reset": str(reset),
                    "ratelimit-policy": f"{self.logins_per_window};w={LOGIN_WINDOW_S}",
                }
                return _error("RateLimitExceeded", "Rate Limit Exceeded", 429, headers)
            account.logins.append(now)
        if account is None or (data or {}).get("password") != account.creds.app_password:
            return _error("AuthenticationRequired", "Invalid identifier or password", 401)
        self.logins += 1
        body = {
            "did": account.creds.did,
            "handle": account.creds.handle,
            "active": True,
            **self._issue(account.creds.did),
        }
        return web.json_response(body)

    async def _refresh_session(self, request: web.Request, rec: RecordedRequest) -> web.Response:
        account = self._bearer(request, "com.atproto.refresh")
        if isinstance(account, web.Response):
            return account
        self._tokens.pop(request.headers["Authorization"].removeprefix("Bearer ").strip(), None)
        self.refreshes += 1
        body = {
            "did": account.creds.did,
            "handle": account.creds.handle,
            "active": True,
            **self._issue(account.creds.did),
        }
        return web.json_response(body)

    # -- records ------------------------------------------------------------------------------
    def _points(self, account: _Account) -> tuple[bool, dict[str, str]]:
        now = time.time()
        if now >= account.points_reset_s:
            account.points_used, account.points_reset_s = 0, now + POINTS_WINDOW_S
        ok = account.points_used + CREATE_POINTS <= self.points_per_hour
        if ok:
            account.points_used += CREATE_POINTS
        headers = {
            "ratelimit-limit": str(self.points_per_hour),
            "ratelimit-remaining": str(max(0, self.points_per_hour - account.points_used)),
            "ratelimit-reset": str(int(account.points_reset_s)),
            "ratelimit-policy": f"{self.points_per_hour};w={POINTS_WINDOW_S}",
        }
        return ok, headers

    async def _create_record(self, request: web.Request, rec: RecordedRequest) -> web.Response:
        account = self._bearer(request, "com.atproto.access")
        if isinstance(account, web.Response):
            return account
        try:
            data = await request.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return _error("InvalidRequest", "Input must be an object", 400)
        if data.get("repo") not in (account.creds.did, account.creds.handle):
            return _error("InvalidRequest", "Input/repo must be the authenticated account", 400)
        if data.get("collection") != POST or not isinstance(data.get("record"), dict):
            return _error("InvalidRequest", f"Input/collection must be {POST} here", 400)
        ok, headers = self._points(account)
        if not ok:
            return _error("RateLimitExceeded", "Rate Limit Exceeded", 429, headers)
        record: dict[str, Any] = data["record"]
        problem = self._invalid(record)
        if problem:
            return _error("InvalidRequest", f"Invalid {POST} record: {problem}", 400, headers)
        rkey = self._tid()
        uri = f"at://{account.creds.did}/{POST}/{rkey}"
        cid = (
            "bafyrei"
            + base64.b32encode(hashlib.sha256(json.dumps(record, sort_keys=True).encode()).digest())
            .decode()
            .lower()
            .rstrip("=")[:52]
        )
        item = {"uri": uri, "cid": cid, "value": record}
        account.records.append(item)
        self.posts.append(item)
        body = {
            "uri": uri,
            "cid": cid,
            "commit": {"cid": "bafyreicommit" + rkey, "rev": rkey},
            "validationStatus": "valid",
        }
        return web.json_response(body, headers=headers)

    def _tid(self) -> str:
        value = next(self._clock) << 10
        return "".join(_TID_ALPHABET[(value >> (60 - 5 * i)) & 31] for i in range(13))

    def _invalid(self, record: dict[str, Any]) -> str | None:
        text = record.get("text")
        if record.get("$type") != POST or not isinstance(text, str):
            return "Record/$type and Record/text are required"
        if post_graphemes(text) > MAX_GRAPHEMES:
            return f"Record/text must not be longer than {MAX_GRAPHEMES} graphemes"
        raw = text.encode("utf-8")
        if len(raw) > MAX_BYTES:
            return f"Record/text must not be longer than {MAX_BYTES} characters"
        try:
            datetime.fromisoformat(str(record.get("createdAt", "")).replace("Z", "+00:00"))
        except ValueError:
            return "Record/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)"
        langs = record.get("langs") or []
        if not isinstance(langs, list) or len(langs) > 3:
            return "Record/langs must not have more than 3 elements"
        for facet in record.get("facets") or []:
            problem = self._bad_facet(facet, raw)
            if problem:
                return problem
        reply = record.get("reply")
        if reply is not None:
            for role in ("root", "parent"):
                ref = (reply or {}).get(role) or {}
                if not any(p["uri"] == ref.get("uri") and p["cid"] == ref.get("cid") for p in self.posts):
                    return f"Record/reply/{role} must reference an existing post (uri and cid)"
        return None

    @staticmethod
    def _bad_facet(facet: Any, raw: bytes) -> str | None:
        index = (facet or {}).get("index") or {}
        start, end = index.get("byteStart"), index.get("byteEnd")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(raw)):
            return "Record/facets/index must be a byte range inside the text"
        for feature in facet.get("features") or []:
            if feature.get("$type") == "app.bsky.richtext.facet#link":
                try:
                    spelt = raw[start:end].decode("utf-8")
                except UnicodeDecodeError:
                    return "Record/facets/index cuts a character in two"
                if spelt != feature.get("uri"):
                    return f"Record/facets link covers {spelt!r}, not its uri"
        return None

    async def _get_record(self, request: web.Request, rec: RecordedRequest) -> web.Response:
        q = request.query
        uri = f"at://{q.get('repo', '')}/{q.get('collection', '')}/{q.get('rkey', '')}"
        item = next((p for p in self.posts if p["uri"] == uri), None)
        if item is None:
            return _error("RecordNotFound", f"Could not locate record: {uri}", 400)
        return web.json_response(item)

    async def _list_records(self, request: web.Request, rec: RecordedRequest) -> web.Response:
        q = request.query
        owner = next(
            (a for a in self._accounts.values() if q.get("repo") in (a.creds.did, a.creds.handle)), None
        )
        if owner is None:
            return _error("InvalidRequest", "Could not find repo", 400)
        try:
            limit = int(q.get("limit", "50"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            return _error("InvalidRequest", "limit must be between 1 and 100", 400)
        items = [r for r in reversed(owner.records) if r["uri"].split("/")[3] == q.get("collection")]
        return web.json_response({"records": items[:limit]})
