"""One Bluesky login per channel, kept alive with ``refreshSession``.

``com.atproto.server.createSession`` (handle + app password) is tightly rate-limited (30 per
5 minutes, 300 per day per account), so the channel logs in once, on its first request, and
keeps the session: the access token (about two hours) is renewed with
``com.atproto.server.refreshSession`` and the refresh token a little before it expires
(read from the token's ``exp``), or at once when the PDS answers ``ExpiredToken``. Only a
refused refresh (the refresh token revoked or expired) logs in again.

Errors of these calls cannot have posted anything: a lost answer is ``Transient``; 429 is
``RateLimited`` until ``ratelimit-reset``; a refused app password is ``Permanent``, naming
the variable to set.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from crisiscast.channels.http import HttpResponse, SessionHolder, request
from crisiscast.errors import Ambiguous, Permanent, RateLimited, Transient

__all__ = ["PROVIDER", "BlueskySession", "SessionKeeper", "bluesky_retry_after_s", "xrpc_error"]

PROVIDER = "the Bluesky PDS"
RENEW_BEFORE_S = 60.0


@dataclass(frozen=True, slots=True)
class BlueskySession:
    did: str
    access_jwt: SecretStr
    refresh_jwt: SecretStr
    access_expires_s: float | None  # epoch seconds, from the token's exp

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_jwt.get_secret_value()}"}


def _expiry_s(jwt: str) -> float | None:
    """The ``exp`` claim of a JWT (not verified: only the PDS can, and it does)."""
    try:
        payload = jwt.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, KeyError, TypeError, ValueError):
        return None


def xrpc_error(response: HttpResponse) -> tuple[str, str]:
    """The XRPC error name and message of an answer (``("", "")`` when it has none)."""
    body = response.json()
    data: Mapping[str, Any] = body if isinstance(body, dict) else {}
    message = " ".join(str(data.get("message") or "").split())
    return str(data.get("error") or ""), message[:200]


def bluesky_retry_after_s(headers: Mapping[str, str], *, now_s: float) -> float | None:
    """Seconds until ``ratelimit-reset`` (epoch seconds), None when absent or unreadable."""
    try:
        reset = float(headers.get("ratelimit-reset") or "")
    except ValueError:
        return None
    return max(0.0, reset - now_s)


class SessionKeeper:
    """The channel's session: ``current()`` logs in once, ``renew()`` refreshes it."""

    def __init__(
        self, *, service_url: str, handle: str, password: SecretStr, env_var: str, http: SessionHolder
    ) -> None:
        self.service_url = service_url.rstrip("/")
        self.handle = handle
        self._password = password
        self._env_var = env_var
        self._http = http
        self._session: BlueskySession | None = None
        self._lock = asyncio.Lock()
        self.logins = 0
        self.refreshes = 0

    async def current(self) -> BlueskySession:
        """A session whose access token is good for at least a minute more."""
        async with self._lock:
            session = self._session
            if session is None:
                return await self._login()
            if (
                session.access_expires_s is not None
                and session.access_expires_s - time.time() < RENEW_BEFORE_S
            ):
                return await self._refresh(session)
            return session

    async def renew(self, stale: BlueskySession) -> BlueskySession:
        """A fresh session after the PDS refused ``stale``'s access token."""
        async with self._lock:
            if self._session is not None and self._session is not stale:
                return self._session  # another request renewed it meanwhile
            return await (self._refresh(stale) if stale is not None else self._login())

    async def _login(self) -> BlueskySession:
        self.logins += 1
        body = {"identifier": self.handle, "password": self._password.get_secret_value()}
        response = await self._post("com.atproto.server.createSession", body, None)
        if response.status == 401:
            _, said = xrpc_error(response)
            raise Permanent(
                f"Bluesky refused the handle {self.handle} or its app password ({said or 'HTTP 401'}); "
                f"create an app password for this account and set {self._env_var}.",
                code="login_refused",
                status=401,
            )
        return self._keep(response, "log in")

    async def _refresh(self, stale: BlueskySession) -> BlueskySession:
        self.refreshes += 1
        headers = {"Authorization": f"Bearer {stale.refresh_jwt.get_secret_value()}"}
        response = await self._post("com.atproto.server.refreshSession", None, headers)
        if response.status in (400, 401):  # refresh token expired or revoked: log in again
            self._session = None
            return await self._login()
        return self._keep(response, "renew the session")

    def _keep(self, response: HttpResponse, what: str) -> BlueskySession:
        if response.status == 429:
            raise RateLimited(
                f"Bluesky rate-limited the attempt to {what}.",
                code="session_rate_limited",
                status=429,
                retry_after_s=bluesky_retry_after_s(response.headers, now_s=time.time()),
            )
        if response.status >= 500:
            raise Transient(f"Bluesky had a server error (HTTP {response.status}) when asked to {what}.")
        data = response.json()
        if response.status != 200 or not isinstance(data, dict) or not data.get("accessJwt"):
            _, said = xrpc_error(response)
            raise Permanent(
                f"Bluesky would not {what} (HTTP {response.status}): {said or 'no reason given'}",
                code=f"http_{response.status}",
                status=response.status,
            )
        access, refresh = str(data["accessJwt"]), str(data.get("refreshJwt") or "")
        self._session = BlueskySession(
            did=str(data.get("did") or ""),
            access_jwt=SecretStr(access),
            refresh_jwt=SecretStr(refresh),
            access_expires_s=_expiry_s(access),
        )
        return self._session

    async def _post(
        self, method: str, body: Mapping[str, Any] | None, headers: dict[str, str] | None
    ) -> HttpResponse:
        try:
            return await request(
                self._http.get(),
                "POST",
                f"{self.service_url}/xrpc/{method}",
                provider=PROVIDER,
                headers=headers,
                json=body,
            )
        except Ambiguous as exc:  # a session call cannot have posted anything
            raise Transient(exc.reason, code=exc.code) from None
