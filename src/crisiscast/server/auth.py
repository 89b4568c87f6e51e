"""Bearer authentication for the HTTP API: who holds the token, and what they may do.

``CRISISCAST_API_TOKENS`` is a comma-separated list of entries, each either

- ``name=token``: a token held by one person; ``name`` is their identity (compared by the rules
  of ``crisiscast.lifecycle.identity``) and is what the lifecycle routes record as author,
  approver or sender; or
- ``token`` alone: a machine token, for the read-only status API only. A bare token may not
  contain ``=``.

The entries are parsed once, when the app is built (``parse_api_tokens``), and kept as SHA-256
digests with their names; the tokens themselves are not kept. A presented token is hashed and
its digest compared with every configured digest by ``hmac.compare_digest`` (fixed-length
inputs, no early exit), so neither a token's bytes nor its length show in the answer time.

Failure modes: ``ConfigError`` (one sentence, never echoing a token) for an entry with an empty
name, an empty token, a name that is not a printable identity, or a token given twice;
a token shorter than ``MIN_TOKEN_CHARS`` (32); ``AuthRefused`` at request time: 401 (no valid
token, with a Bearer challenge), 403 (a machine token on a person's route) or 429 (too many
failed attempts from this peer, ``crisiscast.server.refusals``). Every refusal is logged with
the peer and the reason, never the token.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from aiohttp import web
from pydantic import SecretStr

from crisiscast.errors import ConfigError
from crisiscast.lifecycle.identity import check_identity
from crisiscast.server.context import CONTEXT, error_response
from crisiscast.server.refusals import TOO_MANY, auth_failed, log_refusal

__all__ = ["ApiToken", "ApiTokens", "AuthRefused", "authenticate", "parse_api_tokens", "require_person"]

ENV = "CRISISCAST_API_TOKENS"
MIN_TOKEN_CHARS = 32  # a guessable token is no credential
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="crisiscast"'}
_NO_TOKEN = f"Send Authorization: Bearer with a token from {ENV}."
_NO_PERSON = (
    "This API token names no person, so it may only read dispatch status; "
    f"approve, send, update and cancel with your own token, configured as name=token in {ENV}."
)


@dataclass(frozen=True, slots=True)
class ApiToken:
    """One configured token: the SHA-256 of its bytes and the person it names (None: a machine)."""

    digest: bytes
    name: str | None

    def __repr__(self) -> str:  # never show the digest
        return f"ApiToken(name={self.name!r})"


@dataclass(frozen=True, slots=True)
class ApiTokens:
    """The configured tokens; ``match`` finds the one a request presents."""

    entries: tuple[ApiToken, ...] = ()

    def match(self, header: str | None) -> ApiToken | None:
        """The entry whose token ``header`` (``Bearer <token>``) presents, else None.

        Every entry's digest is compared (``hmac.compare_digest``, no early exit).
        """
        if not header or not self.entries:
            return None
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        digest = hashlib.sha256(presented.strip().encode("utf-8", "replace")).digest()
        found: ApiToken | None = None
        for entry in self.entries:
            if hmac.compare_digest(digest, entry.digest):
                found = entry
        return found


class AuthRefused(Exception):
    """A request the API tokens do not allow; ``response()`` is the plain-sentence answer."""

    def __init__(self, status: int, sentence: str, *, retry_after_s: int | None = None) -> None:
        super().__init__(sentence)
        self.status = status
        self.sentence = sentence
        self.retry_after_s = retry_after_s

    def response(self) -> web.Response:
        headers = dict(_CHALLENGE) if self.status == 401 else {}
        if self.retry_after_s is not None:
            headers["Retry-After"] = str(self.retry_after_s)
        return error_response(self.status, self.sentence, **headers)


def parse_api_tokens(value: SecretStr | None) -> ApiTokens:
    """Parse ``CRISISCAST_API_TOKENS`` (empty entries ignored); ``ConfigError`` for a malformed entry."""
    if value is None:
        return ApiTokens()
    entries: list[ApiToken] = []
    first_position: dict[bytes, int] = {}
    for position, raw in enumerate(value.get_secret_value().split(","), start=1):
        item = raw.strip()
        if not item:
            continue
        name: str | None = None
        token = item
        if "=" in item:
            label, _, token = item.partition("=")
            token = token.strip()
            if not label.strip():
                raise ConfigError(
                    f"Entry {position} in {ENV} has an empty name before '='; "
                    "write name=token, or the token alone for read-only use."
                )
            name = check_identity(label, where=f"The name of entry {position} in {ENV}")
            if not token.strip("="):
                raise ConfigError(
                    f"Entry {position} in {ENV} has no token after '='; write name=token "
                    "(a token alone may not contain '=')."
                )
        if len(token) < MIN_TOKEN_CHARS:
            raise ConfigError(
                f"The token of entry {position} in {ENV} is shorter than {MIN_TOKEN_CHARS} characters; "
                "give it a long random one (for example: openssl rand -hex 32)."
            )
        digest = hashlib.sha256(token.encode()).digest()
        if digest in first_position:
            raise ConfigError(
                f"Entries {first_position[digest]} and {position} in {ENV} have the same token; "
                "give each person and machine a token of their own."
            )
        first_position[digest] = position
        entries.append(ApiToken(digest=digest, name=name))
    return ApiTokens(tuple(entries))


def authenticate(request: web.Request) -> ApiToken:
    """The configured token the request presents; ``AuthRefused`` 401 when there is none."""
    ctx = request.app[CONTEXT]
    header = request.headers.get("Authorization")
    token = ctx.api_tokens.match(header)
    if token is None:
        reason = "API token not recognised" if header else "no Authorization header"
        retry_after_s = auth_failed(request, ctx.auth_failures, reason)
        if retry_after_s is not None:
            raise AuthRefused(429, TOO_MANY, retry_after_s=retry_after_s)
        raise AuthRefused(401, _NO_TOKEN)
    return token


def require_person(request: web.Request) -> str:
    """The identity of the person whose token the request presents.

    ``AuthRefused`` 401 without a valid token, 403 for a machine token (one naming no person).
    """
    token = authenticate(request)
    if token.name is None:
        log_refusal(request, 403, "a machine token on a person's route")
        raise AuthRefused(403, _NO_PERSON)
    return token.name
