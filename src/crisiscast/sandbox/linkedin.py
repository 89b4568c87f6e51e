"""A protocol-faithful fake of LinkedIn's Posts API (``/rest/posts``) for organization pages.

Routes: ``POST /rest/posts`` (create) and ``GET /rest/posts?author=…&q=author`` (the author's
recent posts, newest first). What it enforces, answering with LinkedIn's error JSON
``{"status", "serviceErrorCode", "code", "message"}``:

- ``Authorization: Bearer``: none → 401 ``EMPTY_ACCESS_TOKEN``; unknown → 401
  ``INVALID_ACCESS_TOKEN``; one of ``expired_tokens`` → 401 ``EXPIRED_ACCESS_TOKEN``; a token of
  another organization → 403 ``ACCESS_DENIED`` (no ``w_organization_social`` for this page);
- ``Linkedin-Version``: missing → 400 ``VERSION_MISSING``; not an active version → 426
  ``NONEXISTENT_VERSION``; ``X-Restli-Protocol-Version`` other than ``2.0.0`` → 400;
- the post: ``author`` a ``urn:li:organization:``, ``visibility`` ``PUBLIC``,
  ``distribution.feedDistribution`` ``MAIN_FEED``, ``lifecycleState`` ``PUBLISHED``, a
  ``commentary`` of at most 3,000 characters → else 422; the same commentary as an earlier post
  of the page → 422 "Content is a duplicate of urn:li:share:…";
- the query's URN must be URL-encoded (``urn%3Ali%3Aorganization%3A…``), as Rest.li 2.0 wants.

A created post answers 201 with an empty body and its URN in ``x-restli-id``. Scripted faults
without a body get LinkedIn's shapes (429 ``TOO_MANY_REQUESTS`` with the daily-limit message).
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from typing import Any, TypedDict

from aiohttp import web

from crisiscast.jsontypes import JsonObject
from crisiscast.sandbox.common import FakeProvider, FaultPlan, RecordedRequest

__all__ = [
    "ACTIVE_VERSIONS",
    "EXERCISE_ORGANIZATION_ID",
    "SANDBOX_ORGANIZATION_ID",
    "FakeLinkedIn",
    "LinkedInOrganization",
    "li_error",
    "sandbox_env",
]

SANDBOX_ORGANIZATION_ID = "5515715"  # the shipped configuration's organization_id
EXERCISE_ORGANIZATION_ID = "5515999"  # and its exercise_organization_id
ACTIVE_VERSIONS = frozenset({"202411", "202501", "202505", "202508", "202511"})
MAX_COMMENTARY_CHARS = 3000


@dataclass(frozen=True, slots=True)
class LinkedInOrganization:
    """An organization page and the access token of one of its administrators."""

    organization_id: str
    token: str


SANDBOX_ORGANIZATIONS = (
    LinkedInOrganization(SANDBOX_ORGANIZATION_ID, "AQVsandboxLinkedInToken0001"),
    LinkedInOrganization(EXERCISE_ORGANIZATION_ID, "AQVsandboxLinkedInToken0002"),
)


def sandbox_env(*, exercise: bool = False) -> dict[str, str]:
    """The tokens the fake accepts (both pages: one fake serves both)."""
    return {
        "CRISISCAST_LINKEDIN_ACCESS_TOKEN": SANDBOX_ORGANIZATIONS[0].token,
        "CRISISCAST_LINKEDIN_EXERCISE_ACCESS_TOKEN": SANDBOX_ORGANIZATIONS[1].token,
    }


def li_error(status: int, code: str, message: str, service_code: int | None = None) -> JsonObject:
    body: JsonObject = {"status": status, "code": code, "message": message}
    if service_code is not None:
        body["serviceErrorCode"] = service_code
    return body


def _refuse(status: int, code: str, message: str, service_code: int | None = None) -> web.Response:
    return web.json_response(li_error(status, code, message, service_code), status=status)


class LinkedInPost(TypedDict):
    """A created post as the fake keeps it (LinkedIn's own key names)."""

    id: str
    author: str
    commentary: str
    visibility: str
    lifecycleState: str
    createdAt: int


class FakeLinkedIn(FakeProvider):
    """The fake Posts API. ``posts`` holds every created post (all pages, oldest first)."""

    name = "linkedin"

    def __init__(
        self,
        faults: FaultPlan | None = None,
        *,
        exercise: bool = False,
        organizations: tuple[LinkedInOrganization, ...] = SANDBOX_ORGANIZATIONS,
        expired_tokens: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(faults)
        self.organizations = organizations
        self.expired_tokens = expired_tokens
        self.posts: list[LinkedInPost] = []
        self._ids = itertools.count(7300000000000000001)
        self.route("POST", "/rest/posts", self._create)
        self.route("GET", "/rest/posts", self._list)

    def reset_state(self) -> None:
        self.posts = []

    def error_body(self, status: int) -> Any:
        if status == 429:
            return li_error(
                429,
                "TOO_MANY_REQUESTS",
                "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
                101,
            )
        if status >= 500:
            return li_error(status, "INTERNAL_SERVER_ERROR", "Internal Server Error")
        return li_error(status, "ILLEGAL_ARGUMENT", "Invalid request")

    # -- checks -----------------------------------------------------------------------------
    def _organization(self, request: web.Request) -> LinkedInOrganization | web.Response:
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.startswith("Bearer ") else ""
        if not token:
            return _refuse(401, "EMPTY_ACCESS_TOKEN", "Empty oauth2 access token", 65604)
        if token in self.expired_tokens:
            return _refuse(401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired", 65601)
        org = next((o for o in self.organizations if o.token == token), None)
        if org is None:
            return _refuse(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)
        version = request.headers.get("Linkedin-Version")
        if not version:
            return _refuse(
                400,
                "VERSION_MISSING",
                "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
            )
        if version not in ACTIVE_VERSIONS:
            return _refuse(426, "NONEXISTENT_VERSION", f"Requested version {version} is not active")
        if request.headers.get("X-Restli-Protocol-Version") != "2.0.0":
            return _refuse(400, "ILLEGAL_ARGUMENT", "This API requires X-Restli-Protocol-Version: 2.0.0")
        return org

    # -- routes -----------------------------------------------------------------------------
    async def _create(self, request: web.Request, rec: RecordedRequest) -> web.Response:
        org = self._organization(request)
        if isinstance(org, web.Response):
            return org
        try:
            body = json.loads(await request.text())
        except ValueError:
            return _refuse(400, "ILLEGAL_ARGUMENT", "Unable to parse the request body")
        if not isinstance(body, dict):
            return _refuse(400, "ILLEGAL_ARGUMENT", "Unable to parse the request body")
        author = f"urn:li:organization:{org.organization_id}"
        if body.get("author") != author:
            return _refuse(
                403,
                "ACCESS_DENIED",
                "Not enough permissions to access: partnerApiPostsExternal.CREATE.NO_VERSION",
                100,
            )
        distribution = body["distribution"] if isinstance(body.get("distribution"), dict) else {}
        for field, value, wanted in (
            ("visibility", body.get("visibility"), "PUBLIC"),
            ("distribution/feedDistribution", distribution.get("feedDistribution"), "MAIN_FEED"),
            ("lifecycleState", body.get("lifecycleState"), "PUBLISHED"),
        ):
            if value != wanted:
                return _refuse(422, "UNPROCESSABLE_ENTITY", f"/{field} :: {value!r} is not {wanted}")
        commentary = body.get("commentary")
        if not isinstance(commentary, str) or not commentary.strip():
            return _refuse(422, "UNPROCESSABLE_ENTITY", "/commentary :: field is required")
        if len(commentary) > MAX_COMMENTARY_CHARS:
            return _refuse(
                422,
                "UNPROCESSABLE_ENTITY",
                f"/commentary :: length {len(commentary)} exceeds the maximum allowed {MAX_COMMENTARY_CHARS}",
            )
        earlier = next(
            (p for p in self.posts if p["author"] == author and p["commentary"] == commentary), None
        )
        if earlier is not None:
            return _refuse(422, "DUPLICATE_POST", f"Content is a duplicate of {earlier['id']}")
        urn = f"urn:li:share:{next(self._ids)}"
        post: LinkedInPost = {
            "id": urn,
            "author": author,
            "commentary": commentary,
            "visibility": "PUBLIC",
            "lifecycleState": "PUBLISHED",
            "createdAt": int(time.time() * 1000),
        }
        self.posts.append(post)
        return web.Response(status=201, headers={"x-restli-id": urn, "x-linkedin-id": urn})

    async def _list(self, request: web.Request, rec: RecordedRequest) -> web.Response:
        org = self._organization(request)
        if isinstance(org, web.Response):
            return org
        if request.query.get("q") != "author":
            return _refuse(400, "ILLEGAL_ARGUMENT", "Invalid finder: q=author is required")
        author = f"urn:li:organization:{org.organization_id}"
        raw_query = request.raw_path.partition("?")[2]
        if request.query.get("author") != author or "urn%3Ali%3Aorganization%3A" not in raw_query:
            return _refuse(400, "ILLEGAL_ARGUMENT", "author must be this organization's URN, URL-encoded")
        try:
            count = max(1, min(100, int(request.query.get("count", "10"))))
        except ValueError:
            return _refuse(400, "ILLEGAL_ARGUMENT", "count must be a number")
        mine = [p for p in reversed(self.posts) if p["author"] == author]
        return web.json_response(
            {"elements": mine[:count], "paging": {"start": 0, "count": count, "total": len(mine)}}
        )
