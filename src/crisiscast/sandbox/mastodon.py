"""A protocol-faithful fake of a Mastodon instance (the parts crisiscast uses).

Routes: ``GET /api/v2/instance``, ``POST /api/v1/statuses``,
``GET /api/v1/accounts/verify_credentials``, ``GET /api/v1/accounts/:id/statuses``.

What it checks, like Mastodon does:

- ``Authorization: Bearer <token>``: an unknown or missing token → 401
  ``{"error": "The access token is invalid"}``.
- The status's length as Mastodon counts it (graphemes, links as 23;
  ``crisiscast.channels.mastodon.text``) against ``max_characters`` (also what
  ``/api/v2/instance`` reports) → 422 ``Validation failed: Text character limit of N exceeded``;
  a blank status, an unknown visibility or language → 422.
- ``in_reply_to_id`` of a status that does not exist → 404 ``Record not found``.
- ``Idempotency-Key``: a repeat of a key by the same account within an hour answers the status
  created the first time (nothing new is posted).
- 300 statuses per account in 3 hours; every answer carries ``X-RateLimit-Limit``,
  ``-Remaining`` and ``-Reset`` (ISO 8601), and an exhausted window → 429
  ``{"error": "Too many requests"}``.

The statuses' ``content`` is HTML as Mastodon renders it (paragraphs, ``<br />``, links in
anchors with their scheme in an invisible span), so reconciliation is tested against the real
shape. One fake serves both sandbox accounts: the hospital's and the drills'.
"""

from __future__ import annotations

import html
import itertools
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from crisiscast.channels.mastodon.text import DEFAULT_MAX_CHARACTERS, status_length
from crisiscast.sandbox.common import FakeProvider, Fault, FaultPlan, RecordedRequest

__all__ = [
    "EXERCISE_ACCOUNT",
    "SANDBOX_ACCOUNT",
    "FakeMastodon",
    "MastodonAccount",
    "rate_limited_fault",
    "sandbox_env",
]

WINDOW_S = 3 * 3600
IDEMPOTENCY_S = 3600
VISIBILITIES = frozenset({"public", "unlisted", "private", "direct"})
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


@dataclass(frozen=True, slots=True)
class MastodonAccount:
    token: str
    account_id: str
    username: str


SANDBOX_ACCOUNT = MastodonAccount("sandboxMastodonAccessToken0001hospital", "109000000000000001", "hospital")
EXERCISE_ACCOUNT = MastodonAccount(
    "sandboxMastodonAccessToken0002drills", "109000000000000002", "hospital_drills"
)


def sandbox_env(*, exercise: bool = False) -> dict[str, str]:
    """The ``CRISISCAST_MASTODON_*`` tokens the fake accepts (one fake serves both accounts)."""
    return {
        "CRISISCAST_MASTODON_ACCESS_TOKEN": SANDBOX_ACCOUNT.token,
        "CRISISCAST_MASTODON_EXERCISE_ACCESS_TOKEN": EXERCISE_ACCOUNT.token,
    }


def _iso(at_s: float) -> str:
    return datetime.fromtimestamp(at_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rate_limited_fault(reset_in_s: int = 600, *, times: int = 1) -> Fault:
    """A scripted 429 as Mastodon sends it, with the rate headers."""
    headers = {
        "X-RateLimit-Limit": "300",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": _iso(time.time() + reset_in_s),
    }
    return Fault(status=429, body={"error": "Too many requests"}, headers=headers, times=times)


_URL = re.compile(r"https?://[^\s<>\"]+")


def render_content(text: str) -> str:
    """``text`` as Mastodon's HTML: ``<p>`` per paragraph, ``<br />`` per line, linked URLs."""

    def link(url: str) -> str:
        scheme, _, rest = url.partition("://")
        return (
            f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener noreferrer">'
            f'<span class="invisible">{scheme}://</span>'
            f'<span class="">{html.escape(rest, quote=False)}</span></a>'
        )

    paragraphs = []
    for paragraph in text.split("\n\n"):
        pieces = _URL.split(paragraph)
        escaped = html.escape(pieces[0], quote=False)
        for url, piece in zip(_URL.findall(paragraph), pieces[1:], strict=True):
            escaped += link(url) + html.escape(piece, quote=False)
        paragraphs.append("<p>" + escaped.replace("\n", "<br />") + "</p>")
    return "".join(paragraphs)


@dataclass(slots=True)
class _Account:
    creds: MastodonAccount
    used: int = 0
    reset_at: float = 0.0
    statuses: list[dict[str, Any]] = field(default_factory=list)
    keys: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)


class FakeMastodon(FakeProvider):
    """The fake instance. ``statuses`` holds every created status (all accounts, oldest first)."""

    name = "mastodon"

    def __init__(
        self,
        faults: FaultPlan | None = None,
        *,
        exercise: bool = False,
        accounts: tuple[MastodonAccount, ...] = (SANDBOX_ACCOUNT, EXERCISE_ACCOUNT),
        max_characters: int = DEFAULT_MAX_CHARACTERS,
        statuses_per_window: int = 300,
        domain: str = "mastodon.example",
    ) -> None:
        super().__init__(faults)
        self.accounts = accounts
        self.max_characters = max_characters
        self.statuses_per_window = statuses_per_window
        self.domain = domain
        self.statuses: list[dict[str, Any]] = []
        self._accounts: dict[str, _Account] = {}
        self._ids = itertools.count(110000000000000001)
        self.reset_state()
        self.route("GET", "/api/v2/instance", self._instance)
        self.route("POST", "/api/v1/statuses", self._create)
        self.route("GET", "/api/v1/accounts/verify_credentials", self._me)
        self.route("GET", "/api/v1/accounts/{account_id}/statuses", self._timeline)

    def reset_state(self) -> None:
        self.statuses = []
        self._accounts = {a.token: _Account(a) for a in self.accounts}

    def error_body(self, status: int) -> Any:
        return {"error": "Too many requests" if status == 429 else f"HTTP {status}"}

    def _authenticate(self, request: web.Request) -> _Account | None:
        header = request.headers.get("Authorization", "")
        return (
            self._accounts.get(header.removeprefix("Bearer ").strip())
            if header.startswith("Bearer ")
            else None
        )

    def _window(self, account: _Account, now: float) -> dict[str, str]:
        if now >= account.reset_at:
            account.used, account.reset_at = 0, now + WINDOW_S
        return {
            "X-RateLimit-Limit": str(self.statuses_per_window),
            "X-RateLimit-Remaining": str(max(0, self.statuses_per_window - account.used)),
            "X-RateLimit-Reset": _iso(account.reset_at),
        }

    async def _instance(self, request: web.Request, rec: RecordedRequest) -> web.Response:
        return web.json_response(
            {
                "domain": self.domain,
                "title": "crisiscast sandbox",
                "version": "4.3.0",
                "configuration": {
                    "statuses": {
                        "max_characters": self.max_characters,
                        "max_media_attachments": 4,
                        "characters_reserved_per_url": 23,
                    }
                },
            }
        )

    async def _create(self, request: web.Request, rec: RecordedRequest) -> web.Response:
        account = self._authenticate(request)
        if account is None:
            return web.json_response({"error": "The access token is invalid"}, status=401)
        now = time.time()
        headers = self._window(account, now)
        key = request.headers.get("Idempotency-Key")
        if key and key in account.keys and now - account.keys[key][0] < IDEMPOTENCY_S:
            return web.json_response(account.keys[key][1], headers=headers)
        if account.used >= self.statuses_per_window:
            return web.json_response({"error": "Too many requests"}, status=429, headers=headers)
        try:
            data = (
                await request.json()
                if request.content_type == "application/json"
                else dict(await request.post())
            )
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return web.json_response(
                {"error": "Validation failed: Text can't be blank"}, status=422, headers=headers
            )
        text = str(data.get("status") or "")
        problem = self._invalid(text, data)
        if problem:
            return web.json_response({"error": problem}, status=422, headers=headers)
        reply_to = data.get("in_reply_to_id")
        if reply_to and not any(s["id"] == str(reply_to) for s in self.statuses):
            return web.json_response({"error": "Record not found"}, status=404, headers=headers)
        account.used += 1
        headers = self._window(account, now)
        status_id = str(next(self._ids))
        status: dict[str, Any] = {
            "id": status_id,
            "created_at": _iso(now),
            "in_reply_to_id": str(reply_to) if reply_to else None,
            "visibility": data.get("visibility") or "public",
            "language": data.get("language"),
            "url": f"https://{self.domain}/@{account.creds.username}/{status_id}",
            "content": render_content(text),
            "account": {"id": account.creds.account_id, "username": account.creds.username},
        }
        account.statuses.append(status)
        self.statuses.append({**status, "text": text, "idempotency_key": key})
        if key:
            account.keys[key] = (now, status)
        return web.json_response(status, headers=headers)

    def _invalid(self, text: str, data: Mapping[str, object]) -> str | None:
        if not text.strip():
            return "Validation failed: Text can't be blank"
        if status_length(text) > self.max_characters:
            return f"Validation failed: Text character limit of {self.max_characters} exceeded"
        if (data.get("visibility") or "public") not in VISIBILITIES:
            return "Validation failed: Visibility is not included in the list"
        language = data.get("language")
        if language is not None and not _LANGUAGE.match(str(language)):
            return "Validation failed: Language is not a valid language code"
        return None

    async def _me(self, request: web.Request, rec: RecordedRequest) -> web.Response:
        account = self._authenticate(request)
        if account is None:
            return web.json_response({"error": "The access token is invalid"}, status=401)
        c = account.creds
        return web.json_response({"id": c.account_id, "username": c.username, "acct": c.username})

    async def _timeline(self, request: web.Request, rec: RecordedRequest) -> web.Response:
        if self._authenticate(request) is None:
            return web.json_response({"error": "The access token is invalid"}, status=401)
        owner = next(
            (a for a in self._accounts.values() if a.creds.account_id == request.match_info["account_id"]),
            None,
        )
        if owner is None:
            return web.json_response({"error": "Record not found"}, status=404)
        try:
            limit = min(40, max(1, int(request.query.get("limit", "20"))))
        except ValueError:
            limit = 20
        return web.json_response(list(reversed(owner.statuses))[:limit])
