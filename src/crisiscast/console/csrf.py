"""CSRF protection: every console form carries a token that a cross-site page cannot know.

Signed in, the token is the session's own (``Session.csrf``). On the sign-in form, before any
session exists, it is a random value set both in a ``SameSite=Strict`` cookie and in the form
(double submit). ``check`` compares in constant time; a missing or wrong token refuses the
request before anything is done.
"""

from __future__ import annotations

import hmac
import secrets

from aiohttp import web

from crisiscast.console.session import set_cookie

__all__ = ["FIELD", "PRE_COOKIE", "check", "new_token", "set_pre_cookie"]

FIELD = "csrf_token"
PRE_COOKIE = "crisiscast_console_pre"


def check(expected: str | None, presented: object) -> bool:
    """True when ``presented`` (the form field) is the expected token."""
    if not expected or not isinstance(presented, str) or not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode("utf-8", "replace"))


def new_token() -> str:
    """A fresh random token (256 bits)."""
    return secrets.token_urlsafe(32)


def set_pre_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    """Set the sign-in form's token as the pre-session cookie."""
    set_cookie(response, request, PRE_COOKIE, token)
