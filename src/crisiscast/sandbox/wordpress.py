"""A protocol-faithful fake of a WordPress site's REST API (``/wp-json/wp/v2/posts``).

Routes: ``POST /wp-json/wp/v2/posts`` (create), ``POST /wp-json/wp/v2/posts/{id}`` (edit) and
``GET /wp-json/wp/v2/posts?slug=…`` (look up). What it enforces, answering with WordPress's
own error JSON ``{"code", "message", "data": {"status"}}``:

- HTTP Basic with the user and its application password: none → 401 ``rest_cannot_create``
  (``rest_forbidden`` on a read of drafts), an unknown user → 401 ``invalid_username``, a
  wrong password → 401 ``incorrect_password``;
- ``title`` or ``content`` missing on a create → 400 ``empty_content``; a category that does
  not exist → 400 ``rest_invalid_param``; a bad ``status`` → 400 ``rest_invalid_param``;
- slugs are unique, as in WordPress: a second post asking for a slug in use gets ``slug-2``;
- an edit of an unknown id → 404 ``rest_post_invalid_id``.

Scripted faults without a body get WordPress's shapes (``error_body``).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from crisiscast.jsontypes import JsonObject, JsonValue
from crisiscast.sandbox.common import FakeProvider, FaultPlan, RecordedRequest

__all__ = [
    "EXERCISE_CREDENTIALS",
    "SANDBOX_CREDENTIALS",
    "FakeWordPress",
    "WordPressUser",
    "sandbox_env",
    "wp_error",
]

STATUSES = frozenset({"publish", "future", "draft", "pending", "private"})


@dataclass(frozen=True, slots=True)
class WordPressUser:
    """A user of the site and one of its application passwords (``xxxx xxxx …``, as WordPress shows it)."""

    username: str
    app_password: str


SANDBOX_CREDENTIALS = WordPressUser("crisiscast", "abcd EFGH 1234 ijkl MNOP 5678")
EXERCISE_CREDENTIALS = WordPressUser("crisiscast", "drill DRIL 0000 lrid LIRD 9999")


def sandbox_env(*, exercise: bool = False) -> dict[str, str]:
    """The application password the fake accepts (the drill site's for ``exercise``)."""
    if exercise:
        return {"CRISISCAST_WORDPRESS_EXERCISE_APP_PASSWORD": EXERCISE_CREDENTIALS.app_password}
    return {"CRISISCAST_WORDPRESS_APP_PASSWORD": SANDBOX_CREDENTIALS.app_password}


def wp_error(code: str, message: str, status: int, **data: JsonValue) -> JsonObject:
    """WordPress's REST error body."""
    return {"code": code, "message": message, "data": {"status": status, **data}}


class FakeWordPress(FakeProvider):
    """The fake site. ``posts`` maps post id → the stored post (oldest first)."""

    name = "wordpress"

    def __init__(
        self,
        faults: FaultPlan | None = None,
        *,
        exercise: bool = False,
        users: tuple[WordPressUser, ...] | None = None,
        categories: frozenset[int] = frozenset({1, 7}),
    ) -> None:
        super().__init__(faults)
        self.users = users or ((EXERCISE_CREDENTIALS,) if exercise else (SANDBOX_CREDENTIALS,))
        self.categories = categories
        self.posts: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(101)
        self.route("POST", "/wp-json/wp/v2/posts", self._create)
        self.route("POST", "/wp-json/wp/v2/posts/{id}", self._edit)
        self.route("GET", "/wp-json/wp/v2/posts", self._list)

    def reset_state(self) -> None:
        self.posts = {}

    def error_body(self, status: int) -> Any:
        if status == 429:
            return wp_error("too_many_requests", "Too many requests.", 429)
        if status >= 500:
            return wp_error(
                "internal_server_error", "There has been a critical error on this website.", status
            )
        if status == 401:
            return wp_error(
                "incorrect_password", "The provided password is an invalid application password.", 401
            )
        return wp_error("rest_invalid_param", "Invalid parameter(s).", status)

    # -- auth -------------------------------------------------------------------------------
    def _authorise(self, request: web.Request, *, anonymous: str) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return web.json_response(
                wp_error(anonymous, "Sorry, you are not allowed to do that.", 401), status=401
            )
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return web.json_response(
                wp_error("rest_not_logged_in", "Malformed credentials.", 401), status=401
            )
        known = [u for u in self.users if u.username == user]
        if not known:
            body = wp_error(
                "invalid_username", "Unknown username. Check again or try your email address.", 401
            )
            return web.json_response(body, status=401)
        # WordPress ignores the spaces it shows in an application password
        if not any(u.app_password.replace(" ", "") == password.replace(" ", "") for u in known):
            body = wp_error(
                "incorrect_password", "The provided password is an invalid application password.", 401
            )
            return web.json_response(body, status=401)
        return None

    # -- routes -----------------------------------------------------------------------------
    async def _create(self, request: web.Request, rec: RecordedRequest) -> web.Response:
        refused = self._authorise(request, anonymous="rest_cannot_create")
        if refused is not None:
            return refused
        body = await self._json(request)
        if isinstance(body, web.Response):
            return body
        if not str(body.get("title") or "").strip() and not str(body.get("content") or "").strip():
            return web.json_response(
                wp_error("empty_content", "Content, title, and excerpt are empty.", 400), status=400
            )
        problem = self._check(body)
        if problem is not None:
            return problem
        post_id = next(self._ids)
        wanted = str(body.get("slug") or f"post-{post_id}")
        slug, n = wanted, 2
        taken = {p["slug"] for p in self.posts.values()}
        while slug in taken:
            slug, n = f"{wanted}-{n}", n + 1
        post = {
            "id": post_id,
            "slug": slug,
            "status": body.get("status", "draft"),
            "sticky": bool(body.get("sticky", False)),
            "categories": list(body.get("categories") or [1]),
            "title": str(body.get("title", "")),
            "content": str(body.get("content", "")),
            "date_gmt": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
            "modified_gmt": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
            "link": f"{self.base_url}/news/{slug}/",
        }
        self.posts[post_id] = post
        return web.json_response(self._render(post), status=201)

    async def _edit(self, request: web.Request, rec: RecordedRequest) -> web.Response:
        refused = self._authorise(request, anonymous="rest_cannot_edit")
        if refused is not None:
            return refused
        try:
            post = self.posts[int(request.match_info["id"])]
        except (KeyError, ValueError):
            return web.json_response(wp_error("rest_post_invalid_id", "Invalid post ID.", 404), status=404)
        body = await self._json(request)
        if isinstance(body, web.Response):
            return body
        problem = self._check(body)
        if problem is not None:
            return problem
        for key in ("title", "content", "status", "sticky", "categories"):
            if key in body:
                post[key] = body[key]
        post["modified_gmt"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        return web.json_response(self._render(post), status=200)

    async def _list(self, request: web.Request, rec: RecordedRequest) -> web.Response:
        statuses = set(request.query.get("status", "publish").split(","))
        if statuses - {"publish"} or request.query.get("context") == "edit":
            refused = self._authorise(request, anonymous="rest_forbidden_context")
            if refused is not None:
                return refused
        if statuses - STATUSES:
            return web.json_response(
                wp_error("rest_invalid_param", "Invalid parameter(s): status", 400), status=400
            )
        slug = request.query.get("slug")
        found = [
            self._render(p)
            for p in reversed(self.posts.values())
            if p["status"] in statuses and (slug is None or p["slug"] in slug.split(","))
        ]
        return web.json_response(found[:10], headers={"X-WP-Total": str(len(found)), "X-WP-TotalPages": "1"})

    # -- helpers ----------------------------------------------------------------------------
    async def _json(self, request: web.Request) -> dict[str, Any] | web.Response:
        try:
            body = json.loads(await request.text() or "{}")
        except ValueError:
            return web.json_response(
                wp_error("rest_invalid_json", "Invalid JSON body passed.", 400), status=400
            )
        if not isinstance(body, dict):
            return web.json_response(
                wp_error("rest_invalid_json", "Invalid JSON body passed.", 400), status=400
            )
        return body

    def _check(self, body: dict[str, Any]) -> web.Response | None:
        if "status" in body and body["status"] not in STATUSES:
            body_ = wp_error(
                "rest_invalid_param", "Invalid parameter(s): status", 400, params={"status": "not one of"}
            )
            return web.json_response(body_, status=400)
        unknown = [c for c in body.get("categories") or [] if c not in self.categories]
        if unknown:
            body_ = wp_error(
                "rest_invalid_param",
                "Invalid parameter(s): categories",
                400,
                params={"categories": "unknown"},
            )
            return web.json_response(body_, status=400)
        if "sticky" in body and not isinstance(body["sticky"], bool):
            body_ = wp_error(
                "rest_invalid_param", "Invalid parameter(s): sticky", 400, params={"sticky": "not a boolean"}
            )
            return web.json_response(body_, status=400)
        return None

    @staticmethod
    def _render(post: dict[str, Any]) -> dict[str, Any]:
        return {
            **{k: v for k, v in post.items() if k not in ("title", "content")},
            "title": {"raw": post["title"], "rendered": post["title"]},
            "content": {"raw": post["content"], "rendered": post["content"], "protected": False},
        }
