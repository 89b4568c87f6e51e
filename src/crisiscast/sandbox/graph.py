"""A protocol-faithful fake of the Facebook Graph API's Page feed.

Routes: ``POST /{version}/{page_id}/feed`` (form ``message``, ``link``) and
``GET /{version}/{page_id}/feed?fields=…``. The Page access token is taken, like Graph does,
from ``Authorization: Bearer``, the form body or the query (``access_token``).

What it checks, like Graph does, answering with Graph's own error JSON:

- no token → code 2500; an unknown token → 190 (invalid OAuth access token); a valid token of
  another Page → 200 (permission) with HTTP 403;
- neither ``message`` nor ``link`` → 100;
- the same message as the Page's previous post → 506 (duplicate status message).

Successful posts answer ``{"id": "{page_id}_{post_id}"}`` with ``X-App-Usage`` and
``X-Business-Use-Case-Usage`` headers. Scripted faults without a body of their own get
Graph's shapes (``error_body``): 5xx → code 2 with ``is_transient``, 429 → code 32 throttling.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, TypedDict

from aiohttp import web

from crisiscast.jsontypes import JsonObject
from crisiscast.sandbox.common import FakeProvider, Fault, FaultPlan, RecordedRequest

__all__ = [
    "EXERCISE_PAGE_ID",
    "SANDBOX_CREDENTIALS",
    "SANDBOX_PAGE_ID",
    "FakeGraph",
    "GraphPage",
    "graph_error",
    "permanent_fault",
    "sandbox_env",
    "throttled_fault",
]

SANDBOX_PAGE_ID = "100000000000001"  # the shipped configuration's page_id
EXERCISE_PAGE_ID = "100000000000999"  # and its exercise_page_id


@dataclass(frozen=True, slots=True)
class GraphPage:
    """A Page the fake serves and the Page access token that may post to it."""

    page_id: str
    token: str
    name: str = "Sandbox General Hospital"


def _sandbox_page(page_id: str, n: int, name: str) -> GraphPage:
    return GraphPage(page_id=page_id, token=f"EAAsandboxPageToken{n:04d}ZZ", name=name)


SANDBOX_CREDENTIALS = {
    "page": _sandbox_page(SANDBOX_PAGE_ID, 1, "Sandbox General Hospital"),
    "exercise_page": _sandbox_page(EXERCISE_PAGE_ID, 2, "Sandbox General Hospital Drills"),
}


def sandbox_env(*, exercise: bool = False) -> dict[str, str]:
    """The ``CRISISCAST_FACEBOOK_*`` tokens the fake accepts (both Pages: one fake serves both)."""
    return {
        "CRISISCAST_FACEBOOK_PAGE_TOKEN": SANDBOX_CREDENTIALS["page"].token,
        "CRISISCAST_FACEBOOK_EXERCISE_PAGE_TOKEN": SANDBOX_CREDENTIALS["exercise_page"].token,
    }


def graph_error(
    code: int, message: str, *, type_: str = "OAuthException", is_transient: bool | None = None, **extra: Any
) -> dict[str, JsonObject]:
    """Graph's error body: ``{"error": {"message", "type", "code", …, "fbtrace_id"}}``."""
    error: JsonObject = {"message": message, "type": type_, "code": code}
    if is_transient is not None:
        error["is_transient"] = is_transient
    error.update(extra)
    error["fbtrace_id"] = "A" + secrets.token_urlsafe(8)
    return {"error": error}


def throttled_fault(regain_minutes: int = 1, *, code: int = 32, times: int = 1) -> Fault:
    """A scripted throttling answer as Graph sends it (HTTP 400, code 32 by default) with an
    ``X-Business-Use-Case-Usage`` header saying when access returns."""
    body = graph_error(code, f"(#{code}) Page request limit reached")
    headers = _usage_headers(100, regain_minutes)
    return Fault(status=400, body=body, headers=headers, times=times)


def permanent_fault(code: int = 100, message: str = "(#100) Invalid parameter", *, times: int = 1) -> Fault:
    """A scripted permanent Graph error (code 100 by default; 190, 200, 368, 506 …)."""
    status = 403 if code == 10 or 200 <= code <= 299 else 400
    return Fault(status=status, body=graph_error(code, message), times=times)


def _usage_headers(
    call_count: int, regain_minutes: int = 0, page_id: str = SANDBOX_PAGE_ID
) -> dict[str, str]:
    usage = {"call_count": call_count, "total_cputime": 1, "total_time": 1}
    buc = {page_id: [{"type": "pages", **usage, "estimated_time_to_regain_access": regain_minutes}]}
    return {"X-App-Usage": json.dumps(usage), "X-Business-Use-Case-Usage": json.dumps(buc)}


class GraphPost(TypedDict):
    """A created Page post as the fake keeps it."""

    id: str
    message: str
    link: str | None
    created_time: str


@dataclass(slots=True)
class _PageState:
    page: GraphPage
    posts: list[GraphPost] = field(default_factory=list)


class FakeGraph(FakeProvider):
    """The fake Graph API. ``posts`` holds every created post (all Pages, oldest first)."""

    name = "graph"

    def __init__(
        self,
        faults: FaultPlan | None = None,
        *,
        pages: tuple[GraphPage, ...] | None = None,
    ) -> None:
        super().__init__(faults)
        self.pages = pages or tuple(SANDBOX_CREDENTIALS.values())
        self.posts: list[GraphPost] = []
        self._state: dict[str, _PageState] = {}
        self._ids = itertools.count(900000000000001)
        self.reset_state()
        self.route("POST", "/{version}/{page_id}/feed", self._create)
        self.route("GET", "/{version}/{page_id}/feed", self._feed)

    def reset_state(self) -> None:
        self.posts = []
        self._state = {p.page_id: _PageState(p) for p in self.pages}

    def error_body(self, status: int) -> Any:
        if status == 429:
            return graph_error(32, "(#32) Page request limit reached")
        if status >= 500:
            return graph_error(2, "(#2) Service temporarily unavailable", is_transient=True)
        if status in (401, 403):
            return graph_error(200, "(#200) Permissions error", type_="OAuthException")
        return graph_error(100, "(#100) Invalid parameter")

    # -- auth -------------------------------------------------------------------------------
    def _token(self, request: web.Request, form: dict[str, str]) -> str | None:
        header = request.headers.get("Authorization", "")
        if header.startswith(("Bearer ", "OAuth ")):
            return header.split(" ", 1)[1].strip()
        return form.get("access_token") or request.query.get("access_token")

    def _authorise(self, request: web.Request, form: dict[str, str]) -> _PageState | web.Response:
        token = self._token(request, form)
        if not token:
            body = graph_error(
                2500, "An active access token must be used to query information about the current user."
            )
            return web.json_response(body, status=400)
        owner = next((s for s in self._state.values() if s.page.token == token), None)
        if owner is None:
            body = graph_error(190, "Invalid OAuth access token - Cannot parse access token")
            return web.json_response(body, status=400)
        if owner.page.page_id != request.match_info["page_id"]:
            body = graph_error(
                200, "(#200) The user hasn't authorized the application to perform this action"
            )
            return web.json_response(body, status=403)
        return owner

    # -- routes -----------------------------------------------------------------------------
    async def _create(self, request: web.Request, rec: RecordedRequest) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        state = self._authorise(request, form)
        if isinstance(state, web.Response):
            return state
        message, link = form.get("message", ""), form.get("link", "")
        if not message.strip() and not link:
            return web.json_response(graph_error(100, "(#100) Missing message or attachment."), status=400)
        if state.posts and state.posts[-1]["message"] == message and message:
            body = graph_error(
                506,
                "(#506) Duplicate status message",
                is_transient=False,
                error_subcode=1455006,
                error_user_title="Duplicate Status Update",
                error_user_msg=(
                    "This status update is identical to the last one you posted. Try posting "
                    "something different, or delete your previous update."
                ),
            )
            return web.json_response(body, status=400)
        post: GraphPost = {
            "id": f"{state.page.page_id}_{next(self._ids)}",
            "message": message,
            "link": link or None,
            "created_time": time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime()),
        }
        state.posts.append(post)
        self.posts.append(post)
        headers = _usage_headers(len(state.posts), page_id=state.page.page_id)
        return web.json_response({"id": post["id"]}, headers=headers)

    async def _feed(self, request: web.Request, rec: RecordedRequest) -> web.Response:
        state = self._authorise(request, {})
        if isinstance(state, web.Response):
            return state
        fields = [f for f in request.query.get("fields", "message,created_time,id").split(",") if f]
        try:
            limit = max(1, min(100, int(request.query.get("limit", "25"))))
        except ValueError:
            return web.json_response(graph_error(100, "(#100) Param limit must be a number"), status=400)
        data = []
        for post in reversed(state.posts[-limit:]):
            values: JsonObject = {
                "id": post["id"],
                "message": post["message"],
                "link": post["link"],
                "created_time": post["created_time"],
            }
            item = {f: values[f] for f in fields if f in values and values[f] is not None}
            item["id"] = post["id"]
            data.append(item)
        return web.json_response({"data": data}, headers=_usage_headers(1, page_id=state.page.page_id))
