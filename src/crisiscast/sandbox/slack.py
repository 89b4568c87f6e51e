"""A protocol-faithful fake of Slack's incoming webhooks (``POST /services/T…/B…/…``).

Slack answers incoming webhooks in plain text. What the fake enforces, as Slack does:

- the webhook must exist: an unknown path → 404 ``no_service``; a revoked one → 403
  ``invalid_token``; one whose channel was archived → 410 ``channel_is_archived``;
- the body is JSON with ``text`` or blocks → else 400 ``invalid_payload`` / ``no_text``;
- Block Kit, top level and in attachments: at most 50 blocks; ``header`` plain text of at most
  150 characters; ``section`` text of at most 3,000; ``actions`` buttons with a plain-text
  label of at most 75 and a URL of at most 3,000; ``context`` at most 10 elements; any other
  block type or shape → 400 ``invalid_blocks``;
- about one message a second per webhook, with short bursts: more than ``burst`` messages on
  one webhook within a second → 429 ``rate_limited`` with ``Retry-After: 1``.

Accepted: 200 ``ok`` with an ``x-slack-req-id`` header. ``messages`` keeps every accepted
body with its webhook, oldest first.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import defaultdict, deque
from typing import Any

from aiohttp import web

from crisiscast.jsontypes import JsonObject
from crisiscast.sandbox.common import FakeProvider, FaultPlan, RecordedRequest

__all__ = ["EXERCISE_WEBHOOK", "SANDBOX_WEBHOOK", "FakeSlack", "sandbox_env", "webhook_url"]

SANDBOX_WEBHOOK = "/services/TSANDBOX01/BSANDBOX01/sandboxSlackSecret00000001"
EXERCISE_WEBHOOK = "/services/TSANDBOX01/BSANDBOX02/sandboxSlackSecret00000002"
BLOCK_TYPES = frozenset({"section", "header", "actions", "context", "divider"})


def webhook_url(path: str) -> str:
    return f"https://hooks.slack.com{path}"


def sandbox_env(*, exercise: bool = False) -> dict[str, str]:
    """The webhook URLs the fake serves (both: one fake serves the alert and the drill channel)."""
    return {
        "CRISISCAST_SLACK_WEBHOOK_URL": webhook_url(SANDBOX_WEBHOOK),
        "CRISISCAST_SLACK_EXERCISE_WEBHOOK_URL": webhook_url(EXERCISE_WEBHOOK),
    }


def _text(obj: Any, kinds: tuple[str, ...], limit: int) -> bool:
    return (
        isinstance(obj, dict)
        and obj.get("type") in kinds
        and isinstance(obj.get("text"), str)
        and 0 < len(obj["text"]) <= limit
    )


def _block_ok(block: Any) -> bool:
    if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
        return False
    kind = block["type"]
    if kind == "header":
        return _text(block.get("text"), ("plain_text",), 150)
    if kind == "section":
        return _text(block.get("text"), ("mrkdwn", "plain_text"), 3000)
    if kind == "actions":
        elements = block.get("elements")
        return (
            isinstance(elements, list)
            and 0 < len(elements) <= 25
            and all(
                isinstance(e, dict)
                and e.get("type") == "button"
                and _text(e.get("text"), ("plain_text",), 75)
                and (e.get("url") is None or (isinstance(e["url"], str) and len(e["url"]) <= 3000))
                for e in elements
            )
        )
    if kind == "context":
        elements = block.get("elements")
        return (
            isinstance(elements, list)
            and 0 < len(elements) <= 10
            and all(_text(e, ("mrkdwn", "plain_text"), 3000) for e in elements)
        )
    return True  # divider


class FakeSlack(FakeProvider):
    """The fake webhooks. ``revoked`` and ``archived`` hold paths Slack would refuse."""

    name = "slack"

    def __init__(
        self,
        faults: FaultPlan | None = None,
        *,
        exercise: bool = False,
        webhooks: tuple[str, ...] = (SANDBOX_WEBHOOK, EXERCISE_WEBHOOK),
        burst: int = 20,
    ) -> None:
        super().__init__(faults)
        self.webhooks = set(webhooks)
        self.revoked: set[str] = set()
        self.archived: set[str] = set()
        self.burst = burst
        self.messages: list[JsonObject] = []
        self._recent: dict[str, deque[float]] = defaultdict(deque)
        self._ids = itertools.count(1)
        self.route("POST", "/services/{team}/{bot}/{secret}", self._post)

    def reset_state(self) -> None:
        self.messages = []
        self._recent.clear()

    def error_body(self, status: int) -> Any:
        return {429: "rate_limited", 404: "no_service", 403: "invalid_token", 400: "invalid_payload"}.get(
            status, "rollup_error" if status == 500 else f"HTTP {status}"
        )

    async def _post(self, request: web.Request, rec: RecordedRequest) -> web.Response:
        path = request.path
        if path not in self.webhooks:
            return web.Response(status=404, text="no_service")
        if path in self.revoked:
            return web.Response(status=403, text="invalid_token")
        if path in self.archived:
            return web.Response(status=410, text="channel_is_archived")
        try:
            body = json.loads(rec.body)
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid_payload")
        blocks = list(body.get("blocks") or [])
        for attachment in body.get("attachments") or []:
            if not isinstance(attachment, dict):
                return web.Response(status=400, text="invalid_attachments")
            blocks += list(attachment.get("blocks") or [])
        if not str(body.get("text") or "").strip() and not blocks:
            return web.Response(status=400, text="no_text")
        if len(blocks) > 50 or not all(_block_ok(b) for b in blocks):
            return web.Response(status=400, text="invalid_blocks")
        now = time.monotonic()
        recent = self._recent[path]
        while recent and now - recent[0] >= 1.0:
            recent.popleft()
        if len(recent) >= self.burst:
            return web.Response(status=429, text="rate_limited", headers={"Retry-After": "1"})
        recent.append(now)
        self.messages.append({"webhook": path, **body})
        return web.Response(
            status=200, text="ok", headers={"x-slack-req-id": f"sandbox-{next(self._ids):06d}"}
        )
