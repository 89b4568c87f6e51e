"""``GET /v1/dispatches/{id}``: where a dispatch stands, for the system that triggered it.

Bearer-token authentication: ``Authorization: Bearer <token>`` where the token is one of
``CRISISCAST_API_TOKENS`` (comma-separated). Every configured token is compared with
``hmac.compare_digest`` (no early exit). With no token configured the API refuses every
request (401): status documents hold staff phone numbers.

Answers: 200 with the document of ``crisiscast.server.status_view.dispatch_status``; 401
without a valid token; 404 for an unknown id.
"""

from __future__ import annotations

import hmac

from aiohttp import web
from pydantic import SecretStr

from crisiscast.server.context import CONTEXT, error_response
from crisiscast.server.status_view import dispatch_status

__all__ = ["add_status_routes", "parse_tokens", "token_ok"]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="crisiscast"'}


def parse_tokens(value: SecretStr | None) -> list[bytes]:
    """The configured API tokens (empty entries ignored)."""
    if value is None:
        return []
    return [t.strip().encode() for t in value.get_secret_value().split(",") if t.strip()]


def token_ok(header: str | None, tokens: list[bytes]) -> bool:
    """True when ``header`` is ``Bearer <one of tokens>``; compares every token in constant time."""
    if not header or not tokens:
        return False
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    candidate = presented.strip().encode("utf-8", "replace")
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(candidate, token)
    return matched


async def get_dispatch(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    if not token_ok(request.headers.get("Authorization"), ctx.api_tokens):
        return error_response(
            401, "Send Authorization: Bearer with a token from CRISISCAST_API_TOKENS.", **_CHALLENGE
        )
    dispatch_id = request.match_info["dispatch_id"]
    document = await dispatch_status(ctx.store, dispatch_id)
    if document is None:
        return error_response(404, f"There is no dispatch {dispatch_id[:80]!r}; check the id.")
    return web.json_response(document)


def add_status_routes(app: web.Application) -> None:
    """Register ``GET /v1/dispatches/{dispatch_id}``."""
    app.router.add_get("/v1/dispatches/{dispatch_id}", get_dispatch)
